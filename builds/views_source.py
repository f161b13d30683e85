"""Connecting a Dockyard repository to a GitHub repository (admins): pick one of the linked
account's repositories; Dockyard installs a signed push webhook on it and adds Docker Hub's
default rule (the default branch builds `latest`). Disconnecting removes the webhook.

No database transaction is held while GitHub is called (the request is not atomic): the source
is saved only once GitHub has installed the webhook.
"""

import logging
import re
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from repos.access import Permission, Principal, get_repository_or_404
from repos.models import Repository
from repos.views_pages import repository_header

from .github import GitHubClient, GitHubError, GitHubRepository, github_token_for, remove_hook
from .models import BuildRule, BuildSource

log = logging.getLogger(__name__)
# GitHub's owner and repository names: it goes into API paths.
GITHUB_FULL_NAME_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}"
)


def _administered(request: HttpRequest, namespace: str, name: str) -> Repository:
    """404 to those who cannot see the repository, 403 to those who see it without admin."""
    return get_repository_or_404(Principal(user=request.user), namespace, name, Permission.ADMIN)


def webhook_url() -> str:
    return settings.HUB_URL + reverse("builds:github-webhook")


def _render(
    request: HttpRequest, repository: Repository, status: int = 200, **context
) -> HttpResponse:
    context = {
        **repository_header(request, Principal(user=request.user), repository, "builds"),
        "webhook_url": webhook_url(),
        **context,
    }
    return render(request, "builds/source.html", context, status=status)


def _choices(user: User) -> tuple[list[GitHubRepository], str]:
    """The linked account's repositories, admin ones first, or why they cannot be listed."""
    try:
        found = GitHubClient.for_user(user).repositories()
    except GitHubError as error:
        return [], str(error)
    return sorted(found, key=lambda r: (not r.admin, r.full_name.lower())), ""


@login_required
@transaction.non_atomic_requests
def source(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """GET: the connected GitHub repository, or the linked account's repositories to pick
    from. POST (github_repository=<owner/name>): connect that one."""
    repository = _administered(request, namespace, name)
    connected = (
        BuildSource.objects.filter(repository=repository)
        .select_related("connected_by")
        .prefetch_related("rules")
        .first()
    )
    if connected is not None:
        return _render(request, repository, source=connected, rules=list(connected.rules.all()))
    linked = github_token_for(request.user) is not None
    error = ""
    if request.method == "POST":
        full_name = request.POST.get("github_repository", "").strip()
        if not GITHUB_FULL_NAME_RE.fullmatch(full_name):
            error = "Choose one of your GitHub repositories below (owner/name)."
        else:
            try:
                connect_source(request.user, repository, full_name)
            except GitHubError as refused:
                error = str(refused)
            else:
                messages.success(
                    request,
                    f"{repository.full_name} now builds from {full_name}: a push to its default "
                    "branch builds the tag latest. Add rules for other branches and tags below.",
                )
                return redirect("builds:builds", repository.namespace.name, repository.name)
    choices, listing_error = _choices(request.user) if linked else ([], "")
    return _render(
        request,
        repository,
        status=400 if error else 200,
        linked=linked,
        choices=choices,
        error=error,
        listing_error=listing_error,
        chosen=request.POST.get("github_repository", ""),
    )


def connect_source(user: User, repository: Repository, full_name: str) -> BuildSource:
    """Install the push webhook on GitHub, then save the source and its default rule; nothing
    is saved if GitHub refuses. GitHubError says why."""
    client = GitHubClient.for_user(user)
    github = client.repository(full_name)  # what GitHub says, not what the form said
    secret = secrets.token_hex(32)
    hook_id = client.create_push_hook(github.full_name, webhook_url(), secret)
    try:
        with transaction.atomic():
            connected = BuildSource.objects.create(
                repository=repository,
                github_id=github.id,
                github_full_name=github.full_name,
                clone_url=github.clone_url,
                html_url=github.html_url,
                default_branch=github.default_branch,
                github_private=github.private,
                hook_id=hook_id,
                webhook_secret=secret,
                connected_by=user,
            )
            # Docker Hub's default: the default branch builds `latest` from the root Dockerfile.
            BuildRule.objects.create(
                source=connected,
                source_type=BuildRule.SourceType.BRANCH,
                source_ref=github.default_branch,
                docker_tag="latest",
                dockerfile="Dockerfile",
                context="/",
            )
    except IntegrityError:
        # Someone connected this repository meanwhile: take our webhook back.
        remove_hook(github.full_name, hook_id, [user])
        raise GitHubError(
            f"{repository.full_name} was connected meanwhile; reload the page."
        ) from None
    return connected


@login_required
@require_POST
@transaction.non_atomic_requests
def disconnect(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """Remove the webhook from GitHub (best effort), then the source and its rules; the build
    history stays."""
    repository = _administered(request, namespace, name)
    connected = get_object_or_404(
        BuildSource.objects.select_related("connected_by"), repository=repository
    )
    failure = ""
    if connected.hook_id is not None:
        failure = remove_hook(
            connected.github_full_name, connected.hook_id, [request.user, connected.connected_by]
        )
    connected.delete()
    messages.success(
        request,
        f"{repository.full_name} no longer builds from {connected.github_full_name}. "
        "Its build history stays.",
    )
    if failure:
        log.warning(
            "webhook %s of %s not removed: %s",
            connected.hook_id,
            connected.github_full_name,
            failure,
        )
        messages.warning(
            request,
            f"The webhook could not be removed from GitHub: {failure} Remove it under "
            f"Settings › Webhooks of {connected.github_full_name} on GitHub; its deliveries "
            "are refused meanwhile.",
        )
    return redirect("builds:builds", repository.namespace.name, repository.name)
