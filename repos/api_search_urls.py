"""Search for clients: the old index's /v1/_ping and /v1/search (reached through the registry
front too) and the Hub API's /v2/search/repositories/."""

from django.urls import path

from . import api_search

urlpatterns = [
    path("v1/_ping", api_search.PingView.as_view(), name="v1-ping"),
    path("v1/search", api_search.V1SearchView.as_view(), name="v1-search"),
    path(
        "v2/search/repositories/",
        api_search.HubSearchView.as_view(),
        name="hub-search-repositories",
    ),
]
