from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orgs.models import OWNERS_TEAM, Organization
from repos.models import Repository


def dashboard_repositories(user):
    """The user's own repositories and those of their organizations they may pull (as
    repos.access decides: all of an organization they own, its public ones, and the private
    ones one of their teams has a level on), most recently pushed first."""
    organizations = Organization.objects.for_user(user)
    owned = organizations.filter(teams__name=OWNERS_TEAM, teams__members=user)
    pullable_in_orgs = Q(namespace__organization__in=organizations) & (
        Q(is_private=False)
        | Q(namespace__organization__in=owned)
        | Q(
            team_permissions__team__members=user,
            team_permissions__team__organization__namespace=F("namespace"),
        )
    )
    return (
        Repository.objects.active()
        .filter(
            pk__in=Repository.objects.filter(
                Q(namespace__name=user.username) | pullable_in_orgs
            ).values("pk")
        )
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
