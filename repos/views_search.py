"""Search pages: results with filters, sort and pages; suggestions as one types in the header
box; Explore, the popular and recently updated public repositories."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from .access import ANONYMOUS
from .search import (
    LIBRARY,
    SORTS,
    CappedPaginator,
    near_names,
    search_repositories,
    suggest,
    visible,
)
from .views_pages import principal_of

RESULTS_PER_PAGE = 25
EXPLORE_COUNT = 12
SORT_LABELS = {"best": "Best match", "pulls": "Most pulls", "updated": "Recently updated"}


def search(request: HttpRequest) -> HttpResponse:
    principal = principal_of(request)
    query = request.GET.get("q", "").strip()
    namespace = request.GET.get("namespace", "").strip()
    official = request.GET.get("official") == "1"
    automated = request.GET.get("automated") == "1"
    sort = request.GET.get("sort", "best")
    if sort not in SORTS:
        sort = "best"
    results = search_repositories(
        principal,
        query,
        namespace=namespace or None,
        official=official or None,
        automated=automated or None,
        sort=sort,
    )
    page = CappedPaginator(results, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "query": query,
        "namespace": namespace,
        "official": official,
        "automated": automated,
        "sort": sort,
        "sorts": SORT_LABELS.items(),
        "page": page,
        "near": near_names(principal, query) if query and not page.object_list else [],
    }
    return render(request, "repos/search.html", context)


def suggestions(request: HttpRequest) -> JsonResponse:
    """`{"results": [{"name": "ns/name", "description", "official", "url"}]}` for the header box."""
    found = suggest(principal_of(request), request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {
                    "name": repository.full_name,
                    "description": repository.description,
                    "official": repository.namespace.name == LIBRARY,
                    "url": reverse(
                        "repos:repository", args=[repository.namespace.name, repository.name]
                    ),
                }
                for repository in found
            ]
        }
    )


def explore(request: HttpRequest) -> HttpResponse:
    """Public repositories only, whoever asks: what the hub offers everyone."""
    public = visible(ANONYMOUS)
    context = {
        "popular": public.order_by("-pull_count", "namespace__name", "name")[:EXPLORE_COUNT],
        "recent": public.order_by("-updated", "namespace__name", "name")[:EXPLORE_COUNT],
    }
    return render(request, "repos/explore.html", context)
