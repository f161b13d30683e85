from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Namespace, User
from orgs.models import TeamPermission

from . import activity
from .access import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    explain_repository_access,
    get_repository_or_404,
)
from .forms import CollaboratorForm, LevelForm, TeamPermissionForm
from .models import Activity, Repository


def _administered(request: HttpRequest, namespace: str, name: str) -> Repository:
    """404 to those who cannot see the repository, 403 to those who see it without admin."""
    return get_repository_or_404(Principal(user=request.user), namespace, name, Permission.ADMIN)


def _record_permission(
    request: HttpRequest, repository: Repository, change: str, **data: str
) -> None:
    activity.record(
        Activity.Action.PERMISSIONS_CHANGED,
        namespace=repository.namespace,
        repository=repository,
        actor=request.user,
        change=change,
        **data,
    )


def _back(repository: Repository) -> HttpResponse:
    return redirect("repos:settings-permissions", repository.namespace.name, repository.name)


@dataclass(frozen=True)
class Reach:
    """A row of the permission explainer."""

    user: User
    role: Role
    permissions: list[str]
    reasons: tuple[str, ...]


@login_required
def settings_permissions(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """Teams (organization repositories) or collaborators (user repositories), and everyone who
    can reach the repository and why."""
    repository = _administered(request, namespace, name)
    is_org = repository.namespace.kind == Namespace.Kind.ORG
    form_class = TeamPermissionForm if is_org else CollaboratorForm
    form = form_class(request.POST or None, repository=repository)
    if request.method == "POST" and form.is_valid():
        added = form.save()
        if is_org:
            message = f"The team {added.team.name} now has {added.level} on {repository}."
            change = {"team": added.team.name, "permission": added.level}
        else:
            message = f"{added.user.username} can now pull and push {repository}."
            change = {"collaborator": added.user.username}
        _record_permission(request, repository, "added", **change)
        messages.success(request, message)
        return _back(repository)
    reach = [
        Reach(
            grant.user,
            grant.role,
            [p.value for p in Permission if p in ROLE_PERMISSIONS[grant.role]],
            grant.reasons,
        )
        for grant in explain_repository_access(repository)
    ]
    context = {
        "repository": repository,
        "is_org": is_org,
        "form": form,
        "grants": repository.team_permissions.select_related("team")
        .annotate(member_count=Count("team__memberships"))
        .order_by("team__name"),
        "collaborators": repository.collaborators.select_related("user").order_by("user__username"),
        "levels": TeamPermission.Level.choices,
        "reach": reach,
    }
    return render(request, "repos/settings_permissions.html", context)


@login_required
@require_POST
def team_permission(request: HttpRequest, namespace: str, name: str, team_id: int) -> HttpResponse:
    """Change a team's level on the repository."""
    repository = _administered(request, namespace, name)
    grant = get_object_or_404(repository.team_permissions.select_related("team"), team_id=team_id)
    form = LevelForm(request.POST)
    if form.is_valid():
        grant.level = form.cleaned_data["level"]
        grant.save(update_fields=["level"])
        _record_permission(
            request, repository, "changed", team=grant.team.name, permission=grant.level
        )
        messages.success(request, f"The team {grant.team.name} now has {grant.level}.")
    else:
        messages.error(request, "Choose read, write or admin.")
    return _back(repository)


@login_required
@require_POST
def team_permission_remove(
    request: HttpRequest, namespace: str, name: str, team_id: int
) -> HttpResponse:
    repository = _administered(request, namespace, name)
    grant = get_object_or_404(repository.team_permissions.select_related("team"), team_id=team_id)
    grant.delete()
    _record_permission(request, repository, "removed", team=grant.team.name)
    messages.success(
        request, f"The team {grant.team.name} no longer has a permission on {repository}."
    )
    return _back(repository)


@login_required
@require_POST
def collaborator_remove(
    request: HttpRequest, namespace: str, name: str, username: str
) -> HttpResponse:
    repository = _administered(request, namespace, name)
    get_object_or_404(repository.collaborators, user__username=username).delete()
    _record_permission(request, repository, "removed", collaborator=username)
    messages.success(request, f"{username} is no longer a collaborator on {repository}.")
    return _back(repository)
