from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Namespace
from orgs.models import Organization
from repos.access import Principal, pullable_repositories
from repos.models import Repository


def dashboard_repositories(user):
    """The user's own repositories and those of their organizations they may pull (as
    repos.access decides), most recently pushed first."""
    # The few namespaces first, so that the index on the repositories' namespace answers:
    # an OR across the joins, or a subquery the planner cannot size, reads every repository
    # (50 ms at 100,000).
    namespaces = Namespace.objects.filter(
        Q(name=user.username) | Q(organization__in=Organization.objects.for_user(user))
    )
    mine = Repository.objects.filter(namespace__in=list(namespaces.values_list("pk", flat=True)))
    return (
        pullable_repositories(Principal(user=user), mine)
        .select_related("namespace")
        .with_counts()
        .order_by(F("last_pushed").desc(nulls_last=True), "namespace__name", "name")
    )


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "hub/landing.html")
    repositories = dashboard_repositories(request.user)
    has_repositories = repositories.exists()
    query = request.GET.get("q", "").strip()
    if query:
        repositories = repositories.filter(
            Q(name__icontains=query) | Q(namespace__name__icontains=query)
        )
    context = {"repositories": repositories, "has_repositories": has_repositories, "query": query}
    return render(request, "hub/dashboard.html", context)
