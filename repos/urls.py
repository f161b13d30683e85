from django.urls import path, re_path

from . import views, views_activity, views_pages, views_search, views_settings, views_webhooks

app_name = "repos"

SETTINGS = "r/<str:namespace>/<path:name>/settings/"
REPOSITORY = "r/<str:namespace>/<path:name>/"
# A repository's overview: a name whose later path parts are none of the words that start
# the URLs of its other pages, so that /r/ns/app/settings/ is never the overview of "app/settings".
OVERVIEW = (
    r"^r/(?P<namespace>[^/]+)/"
    r"(?P<name>[^/]+(?:/(?!(?:tags|settings|builds|star|webhooks|activity)(?:/|$))[^/]+)*)/$"
)

urlpatterns = [
    path("search/", views_search.search, name="search"),
    path("search/suggest/", views_search.suggestions, name="search-suggest"),
    path("explore/", views_search.explore, name="explore"),
    path("repository/create/", views_pages.create, name="create"),
    path("_/<path:name>/", views_pages.library, name="library"),
    path(f"{REPOSITORY}tags/", views_pages.tags, name="tags"),
    path(f"{REPOSITORY}tags/<str:tag>/", views_pages.tag_detail, name="tag"),
    path(f"{REPOSITORY}star/", views_pages.star, name="star"),
    re_path(OVERVIEW, views_pages.overview, name="repository"),
    path(f"{REPOSITORY}activity/", views_activity.repository_activity, name="activity"),
    path(f"{SETTINGS}webhooks/", views_webhooks.webhooks, name="webhooks"),
    path(f"{SETTINGS}webhooks/<int:webhook_id>/", views_webhooks.webhook_detail, name="webhook"),
    path(
        f"{SETTINGS}webhooks/<int:webhook_id>/delete/",
        views_webhooks.webhook_delete,
        name="webhook-delete",
    ),
    path(f"{SETTINGS}", views_settings.settings_general, name="settings"),
    path(f"{SETTINGS}visibility/", views_settings.settings_visibility, name="settings-visibility"),
    path(f"{SETTINGS}delete-tag/", views_settings.settings_delete_tag, name="settings-delete-tag"),
    path(f"{SETTINGS}rename/", views_settings.settings_rename, name="settings-rename"),
    path(f"{SETTINGS}delete/", views_settings.settings_delete, name="settings-delete"),
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
