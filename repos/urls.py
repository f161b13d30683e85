from django.urls import path

from . import views

app_name = "repos"

SETTINGS = "r/<str:namespace>/<path:name>/settings/"

urlpatterns = [
    path(
        f"{SETTINGS}permissions/",
        views.settings_permissions,
        name="settings-permissions",
    ),
    path(
        f"{SETTINGS}permissions/teams/<int:team_id>/",
        views.team_permission,
        name="team-permission",
    ),
    path(
        f"{SETTINGS}permissions/teams/<int:team_id>/remove/",
        views.team_permission_remove,
        name="team-permission-remove",
    ),
    path(
        f"{SETTINGS}permissions/collaborators/<str:username>/remove/",
        views.collaborator_remove,
        name="collaborator-remove",
    ),
]
