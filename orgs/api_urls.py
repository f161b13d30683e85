from django.urls import path

from . import api

urlpatterns = [
    path("v2/orgs/<str:org>/members", api.MemberListView.as_view(), name="hub-org-members"),
    path(
        "v2/orgs/<str:org>/members/<str:username>",
        api.MemberView.as_view(),
        name="hub-org-member",
    ),
    path("v2/orgs/<str:org>/invites", api.InviteListView.as_view(), name="hub-org-invites"),
    path(
        "v2/orgs/<str:org>/invites/<int:invite_id>",
        api.InviteView.as_view(),
        name="hub-org-invite",
    ),
    path("v2/orgs/<str:org>/groups", api.GroupListView.as_view(), name="hub-org-groups"),
    path("v2/orgs/<str:org>/groups/<str:team>", api.GroupView.as_view(), name="hub-org-group"),
    path(
        "v2/orgs/<str:org>/groups/<str:team>/members",
        api.GroupMemberListView.as_view(),
        name="hub-org-group-members",
    ),
    path(
        "v2/orgs/<str:org>/groups/<str:team>/members/<str:username>",
        api.GroupMemberView.as_view(),
        name="hub-org-group-member",
    ),
    path(
        "v2/repositories/<str:namespace>/<path:name>/groups",
        api.RepositoryGroupListView.as_view(),
        name="hub-repository-groups",
    ),
    path(
        "v2/repositories/<str:namespace>/<path:name>/groups/<int:group_id>",
        api.RepositoryGroupView.as_view(),
        name="hub-repository-group",
    ),
]
