"""The pages of a repository everyone who may see it sees: overview (README), tags, one tag's
layers, stars; and creating a repository."""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import Namespace
from orgs.models import Organization

from .access import (
    ANONYMOUS,
    Permission,
    Principal,
    can_create_in,
    get_repository_or_404,
    repository_permissions,
)
from .activity import record
from .forms import RepositoryCreateForm
from .markdown import render_readme
from .models import Activity, Manifest, Repository, RepositoryRedirect, Star, Tag

LIBRARY = "library"
TAGS_PER_PAGE = 25
RECENT_TAGS = 5
# ?ordering= on the tags tab → ORDER BY; the first is the default.
TAG_ORDERINGS = {
    "-last_pushed": ("-pushed_at", "name"),
    "last_pushed": ("pushed_at", "name"),
    "name": ("name",),
    "-name": ("-name",),
}


def principal_of(request: HttpRequest) -> Principal:
    return Principal(user=request.user) if request.user.is_authenticated else ANONYMOUS


def _moved(principal: Principal, namespace: str, name: str) -> Repository | None:
    """The repository that used to be called namespace/name, if the principal may see it."""
    found = (
        RepositoryRedirect.objects.filter(
            full_name=f"{namespace}/{name}", repository__state=Repository.State.ACTIVE
        )
        .select_related("repository__namespace")
        .first()
    )
    if found and Permission.PULL in repository_permissions(principal, found.repository):
        return found.repository
    return None


RepositoryView = Callable[..., HttpResponse]


def repository_page(view: RepositoryView) -> RepositoryView:
    """Find the repository the principal may see (404 otherwise) and pass it on; an old name of
    a renamed or transferred repository redirects (301) to the same page under its new name."""

    @wraps(view)
    def wrapper(request: HttpRequest, namespace: str, name: str, **kwargs) -> HttpResponse:
        principal = principal_of(request)
        try:
            repository = get_repository_or_404(principal, namespace, name)
        except Http404:
            moved = _moved(principal, namespace, name)
            if moved is None:
                raise
            match = request.resolver_match
            view_name = (
                "repos:repository" if match.view_name == "repos:library" else match.view_name
            )
            url = reverse(
                view_name, kwargs={**kwargs, "namespace": moved.namespace.name, "name": moved.name}
            )
            query = request.META.get("QUERY_STRING")
            return HttpResponsePermanentRedirect(f"{url}?{query}" if query else url)
        return view(request, principal, repository, **kwargs)

    return wrapper


def repository_header(
    request: HttpRequest, principal: Principal, repository: Repository, tab: str
) -> dict:
    """Context for repos/_header.html, the title, stars and tab bar of every repository page."""
    user_id = request.user.pk if request.user.is_authenticated else None
    stars = Star.objects.filter(repository=repository).aggregate(
        count=Count("pk"), mine=Count("pk", filter=Q(user_id=user_id))
    )
    return {
        "repository": repository,
        "tab": tab,
        "star_count": stars["count"],
        "starred": bool(stars["mine"]),
        "can_admin": Permission.ADMIN in repository_permissions(principal, repository),
        "pull_name": f"{repository.namespace.name}/{repository.name}",
    }


@repository_page
def overview(request: HttpRequest, principal: Principal, repository: Repository) -> HttpResponse:
    recent = repository.tags.select_related("manifest", "pushed_by").defer("manifest__layers")
    context = {
        **repository_header(request, principal, repository, "overview"),
        "readme": render_readme(repository.full_description),
        "recent_tags": recent.order_by("-pushed_at", "name")[:RECENT_TAGS],
        "tag_count": repository.tags.count(),
    }
    return render(request, "repos/overview.html", context)


def library(request: HttpRequest, name: str) -> HttpResponse:
    """`/_/<name>/`: the official image library/<name>."""
    return overview(request, namespace=LIBRARY, name=name)


@repository_page
def tags(request: HttpRequest, principal: Principal, repository: Repository) -> HttpResponse:
    ordering = request.GET.get("ordering", "")
    if ordering not in TAG_ORDERINGS:
        ordering = next(iter(TAG_ORDERINGS))
    query = request.GET.get("name", "").strip()
    found = repository.tags.all()
    if query:
        found = found.filter(name__icontains=query)
    # Page through the tags' ids alone (an index, no join), then read the page's 25 rows.
    ids = found.order_by(*TAG_ORDERINGS[ordering]).values_list("pk", flat=True)
    page = Paginator(ids, TAGS_PER_PAGE).get_page(request.GET.get("page"))
    rows = (
        Tag.objects.select_related("manifest", "pushed_by")
        .defer("manifest__layers")
        .in_bulk(list(page.object_list))
    )
    page.object_list = [rows[pk] for pk in page.object_list]
    # Worked out here once rather than by template tags in every row: the page stays fast.
    tags_url = reverse("repos:tags", args=[repository.namespace.name, repository.name])
    profile_urls: dict[str, str] = {}
    for row in page.object_list:
        row.url = f"{tags_url}{row.name}/"  # tag names need no quoting
        row.platform_labels = [platform_label(p) for p in row.manifest.platforms]
        if row.pushed_by:
            username = row.pushed_by.username
            if username not in profile_urls:
                profile_urls[username] = reverse("accounts:profile", args=[username])
            row.pushed_by_url = profile_urls[username]
    context = {
        **repository_header(request, principal, repository, "tags"),
        "page": page,
        "ordering": ordering,
        "query": query,
        "orderings": [
            ("-last_pushed", "Newest"),
            ("last_pushed", "Oldest"),
            ("name", "Name A–Z"),
            ("-name", "Name Z–A"),
        ],
    }
    return render(request, "repos/tags.html", context)


def platform_label(platform: dict) -> str:
    parts = [platform.get("os", ""), platform.get("architecture", ""), platform.get("variant", "")]
    return "/".join(part for part in parts if part)


def instruction_text(created_by: str) -> str:
    """The Dockerfile instruction as a reader wrote it, from an image config's `created_by`."""
    text = " ".join(created_by.split())
    for prefix, replacement in (("/bin/sh -c #(nop) ", ""), ("/bin/sh -c ", "RUN ")):
        if text.startswith(prefix):
            return replacement + text.removeprefix(prefix).strip()
    return text


@repository_page
def tag_detail(
    request: HttpRequest, principal: Principal, repository: Repository, tag: str
) -> HttpResponse:
    """The tag's digest and platforms, and the layers of one platform's image."""
    found = get_object_or_404(repository.tags.select_related("manifest", "pushed_by"), name=tag)
    manifest = found.manifest
    platforms = [{**p, "label": platform_label(p)} for p in manifest.platforms]
    wanted = request.GET.get("platform", "")
    platform = next((p for p in platforms if p["label"] == wanted), None)
    if platform is None and platforms:
        platform = platforms[0]
    image: Manifest | None = manifest
    if platform and platform.get("digest") and platform["digest"] != manifest.digest:
        # An index: the platform's image is a manifest of its own, pushed by digest.
        image = repository.manifests.filter(digest=platform["digest"]).first()
    layers = [
        {**layer, "instruction": instruction_text(layer.get("instruction", ""))}
        for layer in (image.layers if image else [])
    ]
    context = {
        **repository_header(request, principal, repository, "tags"),
        "tag": found,
        "manifest": manifest,
        "platforms": platforms,
        "platform": platform,
        "image": image,
        "layers": layers,
        "layers_size": sum(layer.get("size", 0) for layer in layers),
    }
    return render(request, "repos/tag.html", context)


@login_required
@require_POST
@repository_page
def star(request: HttpRequest, principal: Principal, repository: Repository) -> HttpResponse:
    """Star the repository, or unstar it if starred."""
    removed, _ = Star.objects.filter(repository=repository, user=request.user).delete()
    if not removed:
        Star.objects.get_or_create(repository=repository, user=request.user)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return redirect(back)
    return redirect("repos:repository", repository.namespace.name, repository.name)


def creatable_namespaces(principal: Principal) -> list[Namespace]:
    """The user's own namespace first, then the organizations they may create in (and `library`
    for staff)."""
    user = principal.user
    own = Namespace.objects.filter(name=user.username)
    orgs = Namespace.objects.filter(organization__in=Organization.objects.for_user(user)).order_by(
        "name"
    )
    found = [*own, *(n for n in orgs if can_create_in(principal, n))]
    if user.is_staff:
        library_namespace = Namespace.objects.filter(name=LIBRARY).first()
        found.append(library_namespace or Namespace(name=LIBRARY, kind=Namespace.Kind.ORG))
    return found


@login_required
def create(request: HttpRequest) -> HttpResponse:
    principal = principal_of(request)
    namespaces = creatable_namespaces(principal)
    by_name = {namespace.name: namespace for namespace in namespaces}
    chosen = by_name.get(request.GET.get("namespace", ""), namespaces[0])
    form = RepositoryCreateForm(
        request.POST or None,
        namespaces=namespaces,
        initial={
            "namespace": chosen.name,
            "is_private": "true" if chosen.default_private else "false",
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        namespace = data["namespace"]
        try:
            with transaction.atomic():
                if namespace.pk is None:  # `library`, saved with its first repository
                    namespace.save()
                repository = Repository.objects.create(
                    namespace=namespace,
                    name=data["name"],
                    description=data["description"],
                    is_private=data["is_private"],
                    created_by=request.user,
                )
                record(
                    Activity.Action.REPO_CREATED,
                    namespace=namespace,
                    repository=repository,
                    actor=request.user,
                )
        except IntegrityError:  # created meanwhile by a push
            form.add_error("name", f"{namespace.name}/{data['name']} already exists.")
        else:
            messages.success(request, f"{repository.full_name} is ready: push an image to it.")
            return redirect("repos:repository", namespace.name, repository.name)
    return render(request, "repos/create.html", {"form": form, "namespaces": namespaces})
