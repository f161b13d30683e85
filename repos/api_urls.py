"""Hub API routes for repositories and tags: Docker Hub's `/v2/namespaces/<ns>/repositories/…`
and its older spelling `/v2/repositories/<ns>/…/` (kept out of the schema: the same views).

Repository names may hold `/`, so the tag routes come first: `<ns>/<a>/tags` is the tags of
`<ns>/<a>`.
"""

from django.urls import path

from . import api

NEW = "v2/namespaces/<str:namespace>/repositories"
OLD = "v2/repositories/<str:namespace>"

urlpatterns = [
    path(f"{NEW}", api.RepositoryListView.as_view(), name="hub-repositories"),
    path(f"{NEW}/<path:name>/tags", api.TagListView.as_view(), name="hub-tags"),
    path(f"{NEW}/<path:name>/tags/<str:tag>", api.TagView.as_view(), name="hub-tag"),
    path(f"{NEW}/<path:name>", api.RepositoryView.as_view(), name="hub-repository"),
    path("v2/repositories/", api.RepositoryCreateView.as_view(), name="hub-repository-create"),
    path(f"{OLD}/", api.RepositoryListView.as_view(schema=None)),
    path(f"{OLD}/<path:name>/tags/", api.TagListView.as_view(schema=None)),
    path(f"{OLD}/<path:name>/tags/<str:tag>/", api.TagView.as_view(schema=None)),
    path(f"{OLD}/<path:name>/", api.RepositoryView.as_view(schema=None)),
]
