"""What people see of automated builds: a repository's Builds tab (its GitHub source, build
rules and build history), one build with its log streaming live, the rule forms, the Trigger and
Cancel buttons, and the status badge. repos.access decides who may do what."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models.functions import Length, Substr
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST

from repos.access import Permission, Principal, get_repository_or_404, repository_permissions
from repos.models import Repository
from repos.views_pages import repository_header, repository_page

from .forms import BuildRuleForm
from .github import GitHubClient, GitHubError, github_token_for
from .models import Build, BuildRule, BuildSource
from .rules import matching_tag
from .triggers import PushedRef, cancel_build, trigger_build

BUILDS_PER_PAGE = 25
# The most log text one answer of the log endpoint carries; the page asks again for the rest.
LOG_CHUNK = 256 * 1024
# The badge: what the latest build says, and its colour (shields.io's).
BADGES = {
    Build.Status.SUCCESS: ("passing", "#4c1"),
    Build.Status.FAILED: ("failing", "#e05d44"),
    Build.Status.RUNNING: ("running", "#dfb317"),
    Build.Status.QUEUED: ("running", "#dfb317"),
    None: ("none", "#9f9f9f"),
}


def _source_of(repository: Repository) -> BuildSource | None:
    return BuildSource.objects.filter(repository=repository).select_related("connected_by").first()


def _back_to_builds(repository: Repository) -> HttpResponse:
    return redirect("builds:builds", repository.namespace.name, repository.name)


def _back_to_build(repository: Repository, build: Build) -> HttpResponse:
    return redirect("builds:build", repository.namespace.name, repository.name, build.pk)


def _allowed(request: HttpRequest, namespace: str, name: str, permission: Permission) -> Repository:
    """404 to those who cannot see the repository, 403 to those who see it without `permission`."""
    return get_repository_or_404(Principal(user=request.user), namespace, name, permission)


@repository_page
def builds(request: HttpRequest, principal: Principal, repository: Repository) -> HttpResponse:
    """The source, the rules and the build history, newest first."""
    source = _source_of(repository)
    history = repository.builds.defer("log").select_related("triggered_by")
    page = Paginator(history, BUILDS_PER_PAGE).get_page(request.GET.get("page"))
    builds_url = reverse("builds:builds", args=[repository.namespace.name, repository.name])
    context = {
        **repository_header(request, principal, repository, "builds"),
        "source": source,
        "rules": list(source.rules.all()) if source else [],
        "page": page,
        "can_push": Permission.PUSH in repository_permissions(principal, repository),
        "builds_url": request.build_absolute_uri(builds_url),
        "badge_url": request.build_absolute_uri(f"{builds_url}badge.svg"),
    }
    return render(request, "builds/builds.html", context)


def _rule_form(request: HttpRequest, repository: Repository, rule: BuildRule) -> HttpResponse:
    form = BuildRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        adding = rule.pk is None
        rule = form.save()
        messages.success(request, f"Rule {rule} {'added' if adding else 'saved'}.")
        return _back_to_builds(repository)
    context = {
        **repository_header(request, Principal(user=request.user), repository, "builds"),
        "form": form,
        "rule": rule,
        "source": rule.source,
    }
    return render(request, "builds/rule_form.html", context, status=400 if form.errors else 200)


@login_required
def rule_create(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    repository = _allowed(request, namespace, name, Permission.ADMIN)
    source = _source_of(repository)
    if source is None:
        messages.error(request, "Connect a GitHub repository before adding build rules.")
        return _back_to_builds(repository)
    return _rule_form(request, repository, BuildRule(source=source))


@login_required
def rule_edit(request: HttpRequest, namespace: str, name: str, rule_id: int) -> HttpResponse:
    repository = _allowed(request, namespace, name, Permission.ADMIN)
    rule = get_object_or_404(
        BuildRule.objects.select_related("source"), pk=rule_id, source__repository=repository
    )
    return _rule_form(request, repository, rule)


@login_required
@require_POST
def rule_delete(request: HttpRequest, namespace: str, name: str, rule_id: int) -> HttpResponse:
    repository = _allowed(request, namespace, name, Permission.ADMIN)
    rule = get_object_or_404(BuildRule, pk=rule_id, source__repository=repository)
    rule.delete()
    messages.success(request, f"Rule {rule} deleted; its builds stay in the history.")
    return _back_to_builds(repository)


@login_required
@require_POST
def rule_trigger(request: HttpRequest, namespace: str, name: str, rule_id: int) -> HttpResponse:
    """Build the head commit of the rule's branch or tag now, as GitHub tells it."""
    repository = _allowed(request, namespace, name, Permission.PUSH)
    rule = get_object_or_404(
        BuildRule.objects.select_related("source__connected_by"),
        pk=rule_id,
        source__repository=repository,
    )
    if rule.is_regex:
        plural = "branches" if rule.source_type == BuildRule.SourceType.BRANCH else "tags"
        messages.error(
            request,
            f"The rule {rule.source_ref} is a pattern: it builds the {plural} pushed that "
            "match it, and has no single one to build by hand.",
        )
        return _back_to_builds(repository)
    kind, ref = rule.source_type, rule.source_ref
    docker_tag = matching_tag(kind, ref, rule.docker_tag, kind, ref)
    if docker_tag is None:
        messages.error(request, f"The rule makes no valid Docker tag from {ref}: edit it.")
        return _back_to_builds(repository)
    source = rule.source
    # The user's own GitHub account if linked, else the one that connected the source.
    reader = request.user
    if source.connected_by is not None and not github_token_for(request.user):
        reader = source.connected_by
    try:
        commit, message = GitHubClient.for_user(reader).ref_commit(
            source.github_full_name, kind, ref
        )
    except GitHubError as error:
        messages.error(request, str(error))
        return _back_to_builds(repository)
    build = trigger_build(
        rule,
        PushedRef(kind, ref, commit, message),
        docker_tag,
        Build.Trigger.MANUAL,
        request.user,
    )
    messages.success(
        request, f"Build #{build.pk} of {kind} {ref} at {build.short_commit} is queued."
    )
    return _back_to_build(repository, build)


def commit_url(build: Build, source: BuildSource | None) -> str:
    """The commit's page on GitHub: under the source's address, or the clone address's when
    the source has changed since the build."""
    if source and source.html_url and source.clone_url == build.clone_url:
        base = source.html_url
    elif build.clone_url.startswith(("https://", "http://")):
        base = build.clone_url.removesuffix(".git")
    else:
        return ""
    return f"{base.rstrip('/')}/commit/{build.commit}"


@repository_page
def build_detail(
    request: HttpRequest, principal: Principal, repository: Repository, build_id: int
) -> HttpResponse:
    build = get_object_or_404(repository.builds.select_related("triggered_by"), pk=build_id)
    permissions = repository_permissions(principal, repository)
    context = {
        **repository_header(request, principal, repository, "builds"),
        "build": build,
        "commit_url": commit_url(build, _source_of(repository)),
        "can_push": Permission.PUSH in permissions,
        "log_offset": len(build.log),
    }
    return render(request, "builds/build.html", context)


def _offset(value: str) -> int:
    try:
        return max(0, int(value))
    except ValueError:
        return 0


@require_GET
@repository_page
def build_log(
    request: HttpRequest, principal: Principal, repository: Repository, build_id: int
) -> JsonResponse:
    """The log from ?offset= on (in characters) and the build's state, read in one query that
    leaves the rest of a long log in the database."""
    offset = _offset(request.GET.get("offset", "0"))
    build = get_object_or_404(
        repository.builds.defer("log").annotate(
            log_length=Length("log"), chunk=Substr("log", offset + 1, LOG_CHUNK)
        ),
        pk=build_id,
    )
    text = build.chunk or ""
    next_offset = min(offset, build.log_length or 0) + len(text)
    duration = build.duration
    return JsonResponse(
        {
            "status": build.status,
            "status_display": build.get_status_display(),
            "text": text,
            "offset": next_offset,
            "finished": build.is_finished and next_offset >= (build.log_length or 0),
            "duration_seconds": round(duration.total_seconds()) if duration else None,
            "digest": build.digest,
            "error": build.error,
            "truncated": build.log_truncated,
        },
        headers={"Cache-Control": "no-cache"},
    )


@login_required
@require_POST
def build_cancel(request: HttpRequest, namespace: str, name: str, build_id: int) -> HttpResponse:
    repository = _allowed(request, namespace, name, Permission.PUSH)
    build = get_object_or_404(repository.builds.defer("log"), pk=build_id)
    if cancel_build(build):
        messages.success(request, f"Build #{build.pk} is cancelled.")
    else:
        messages.info(request, f"Build #{build.pk} had already finished.")
    return _back_to_build(repository, build)


@require_GET
@repository_page
def badge(request: HttpRequest, principal: Principal, repository: Repository) -> HttpResponse:
    """shields.io's look: the latest build's outcome (?tag= narrows to one Docker tag); a
    cancelled build says nothing of the code and is passed over."""
    found = repository.builds.exclude(status=Build.Status.CANCELLED)
    if tag := request.GET.get("tag"):
        found = found.filter(docker_tag=tag)
    message, colour = BADGES[found.values_list("status", flat=True).first()]
    label_width, message_width = _text_width("build"), _text_width(message)
    context = {
        "label": "build",
        "message": message,
        "colour": colour,
        "label_width": label_width,
        "message_width": message_width,
        "width": label_width + message_width,
        "label_x": label_width * 5,  # the text is drawn at a tenth of its size
        "message_x": label_width * 10 + message_width * 5,
    }
    response = render(request, "builds/badge.svg", context, content_type="image/svg+xml")
    patch_cache_control(response, no_cache=True)
    return response


def _text_width(text: str) -> int:
    """About how wide Verdana 11px (or DejaVu Sans where it is missing) writes the text, with
    6px either side."""
    narrow = sum(text.count(char) for char in "ijlrtf .")
    return round(12 + 7.4 * (len(text) - narrow) + 4.2 * narrow)
