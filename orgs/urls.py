from django.urls import path, re_path

from . import views

app_name = "orgs"

TEAM = "orgs/<str:org_name>/teams/<str:team_name>/"

urlpatterns = [
    path("orgs/", views.org_list, name="list"),
    path("orgs/new/", views.org_create, name="create"),
    # Secrets are longer than any organization name, so /orgs/invitations/settings/ stays the
    # settings page of an organization that might be called "invitations".
    re_path(
        r"^orgs/invitations/(?P<secret>[A-Za-z0-9_-]{40,})/$",
        views.invitation_accept,
        name="invitation",
    ),
    path("orgs/<str:org_name>/", views.org_detail, name="detail"),
    path("orgs/<str:org_name>/settings/", views.org_settings, name="settings"),
    path("orgs/<str:org_name>/activity/", views.org_activity, name="activity"),
    path("orgs/<str:org_name>/leave/", views.org_leave, name="leave"),
    path(
        "orgs/<str:org_name>/members/<str:username>/remove/",
        views.org_member_remove,
        name="member-remove",
    ),
    path("orgs/<str:org_name>/teams/", views.team_list, name="teams"),
    path(TEAM, views.team_detail, name="team"),
    path(TEAM + "edit/", views.team_edit, name="team-edit"),
    path(TEAM + "delete/", views.team_delete, name="team-delete"),
    path(TEAM + "members/", views.team_add_member, name="team-add-member"),
    path(
        TEAM + "members/<str:username>/remove/",
        views.team_member_remove,
        name="team-member-remove",
    ),
    path(TEAM + "invitations/", views.team_invite, name="team-invite"),
    path(
        TEAM + "invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path(TEAM + "permissions/", views.team_permission_set, name="team-permission"),
    path(
        TEAM + "permissions/<int:permission_id>/remove/",
        views.team_permission_remove,
        name="team-permission-remove",
    ),
]
