"""Hub API for repositories and tags (DESIGN §3), with Docker Hub's shapes: list, create, read,
change and delete repositories; list, read and delete tags.

Everyone may read public repositories; private ones answer 404 to those who may not see them,
and a write without the permission for it answers 403 to those who may (repos.access decides).
The older spelling, `/v2/repositories/<ns>/<name>/…`, reaches the same views.
"""

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Value,
)
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Namespace
from hub.api import ErrorSerializer, HubPagination
from orgs.api import principal_of
from registry.client import INDEX_TYPES, RegistryError

from . import activity, deletion
from .access import (
    Permission,
    Principal,
    can_create_in,
    get_repository_or_404,
    pullable_repositories,
    repositories_permissions,
    repository_permissions,
)
from .models import Activity, Manifest, Repository, Star, Tag
from .names import validate_repository_name, validate_tag

log = logging.getLogger(__name__)

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404)}
READ_ERRORS = {code: ErrorSerializer for code in (400, 401, 404)}

REPOSITORY_ORDERINGS = {
    "name": ("name",),
    "-name": ("-name",),
    "last_updated": (F("last_pushed").asc(nulls_first=True), "name"),
    "-last_updated": (F("last_pushed").desc(nulls_last=True), "name"),
    "pull_count": ("pull_count", "name"),
    "-pull_count": ("-pull_count", "name"),
}
TAG_ORDERINGS = {
    "last_updated": ("pushed_at", "name"),
    "-last_updated": ("-pushed_at", "name"),
    "name": ("name",),
    "-name": ("-name",),
}


def _ordering_parameter(orderings: dict, default: str) -> OpenApiParameter:
    return OpenApiParameter(
        "ordering", str, enum=list(orderings), description=f"Sort order; `{default}` if not given."
    )


NAME_FILTER = OpenApiParameter("name", str, description="Only names that contain this text.")


def _ordered(request: Request, queryset: QuerySet, orderings: dict, default: str) -> QuerySet:
    """The queryset filtered by the `name` parameter and sorted by `ordering`."""
    ordering = request.query_params.get("ordering") or default
    if ordering not in orderings:
        raise exceptions.ValidationError(
            {"ordering": [f"'{ordering}' is not a sort order; use one of {', '.join(orderings)}."]}
        )
    name = request.query_params.get("name", "").strip()
    if name:
        queryset = queryset.filter(name__icontains=name)
    return queryset.order_by(*orderings[ordering])


def _paginated(
    request: Request, view: APIView, queryset: QuerySet, serialize: Callable[[list], list]
) -> Response:
    paginator = HubPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serialize(page))


def _signed_in(request: Request) -> Principal:
    principal = principal_of(request)
    if principal.is_anonymous:
        raise exceptions.NotAuthenticated("Sign in to change repositories.")
    return principal


def _repository(request: Request, namespace: str, name: str, permission: Permission) -> Repository:
    """The repository if the requester may see it (404 otherwise); 401 for anyone anonymous and
    403 for someone signed in who lacks `permission`, saying whether their token is why."""
    principal = principal_of(request)
    try:
        return get_repository_or_404(principal, namespace, name, permission)
    except DjangoPermissionDenied as denied:
        if principal.is_anonymous:
            raise exceptions.NotAuthenticated(
                f"Sign in: this needs {permission} permission on {namespace}/{name}."
            ) from None
        repository = Repository.objects.active().get(namespace__name=namespace, name=name)
        if principal.scope and permission in repository_permissions(
            Principal(user=principal.user), repository
        ):
            raise exceptions.PermissionDenied(
                f"A {principal.scope} access token cannot {permission} {repository.full_name}; "
                "use a token with a wider scope."
            ) from None
        raise exceptions.PermissionDenied(str(denied)) from None


def _namespace(name: str) -> Namespace:
    namespace = Namespace.objects.filter(name=name).first()
    if namespace is None:
        raise exceptions.NotFound(f"There is no user or organization named '{name}'.")
    return namespace


# Repositories


def _with_counts(queryset: QuerySet, principal: Principal) -> QuerySet:
    """Repositories with their namespace and whether the requester starred them (the star
    count is a field)."""
    starred = Star.objects.filter(repository=OuterRef("pk"), user=principal.user)
    return queryset.select_related("namespace").annotate(
        has_starred=Exists(starred)
        if principal.user
        else Value(False, output_field=BooleanField()),
    )


def _content_type(media_type: str) -> str:
    """Docker Hub's name for what a manifest holds."""
    return "image" if media_type in INDEX_TYPES or "image" in media_type else "other"


class PermissionsSerializer(serializers.Serializer):
    read = serializers.BooleanField()
    write = serializers.BooleanField()
    admin = serializers.BooleanField()


class RepositorySerializer(serializers.ModelSerializer):
    """A repository as Docker Hub shows it. The context holds `permissions` (by primary key,
    the requester's) and `media_types` (by primary key)."""

    user = serializers.CharField(source="namespace.name", read_only=True)
    namespace = serializers.CharField(source="namespace.name", read_only=True)
    repository_type = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    status_description = serializers.SerializerMethodField()
    star_count = serializers.IntegerField(read_only=True)
    has_starred = serializers.BooleanField(read_only=True)
    last_updated = serializers.DateTimeField(
        source="last_pushed", read_only=True, help_text="When a tag was last pushed."
    )
    last_modified = serializers.DateTimeField(source="updated", read_only=True)
    date_registered = serializers.DateTimeField(source="created", read_only=True)
    media_types = serializers.SerializerMethodField()
    content_types = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = Repository
        fields = [
            "user",
            "name",
            "namespace",
            "repository_type",
            "status",
            "status_description",
            "description",
            "full_description",
            "is_private",
            "star_count",
            "has_starred",
            "pull_count",
            "last_updated",
            "last_modified",
            "date_registered",
            "media_types",
            "content_types",
            "permissions",
        ]

    def get_repository_type(self, repository: Repository) -> str:
        return "image"

    def get_status(self, repository: Repository) -> int:
        """1: active."""
        return 1

    def get_status_description(self, repository: Repository) -> str:
        return "active"

    def get_media_types(self, repository: Repository) -> list[str]:
        """The media types of the repository's manifests."""
        return self.context["media_types"].get(repository.pk, [])

    def get_content_types(self, repository: Repository) -> list[str]:
        """`image` once an image was pushed."""
        return sorted(
            {_content_type(media_type) for media_type in self.get_media_types(repository)}
        )

    @extend_schema_field(PermissionsSerializer)
    def get_permissions(self, repository: Repository) -> dict[str, bool]:
        """What the requester may do."""
        permissions = self.context["permissions"][repository.pk]
        return {
            "read": Permission.PULL in permissions,
            "write": Permission.PUSH in permissions,
            "admin": Permission.ADMIN in permissions,
        }


def _serialize_repositories(principal: Principal, repositories: list[Repository]) -> list[dict]:
    """Repositories from _with_counts, in a fixed number of queries whatever their number."""
    media_types: dict[int, list[str]] = {}
    found = (
        Manifest.objects.filter(repository__in=repositories)
        .order_by("repository", "media_type")
        .values_list("repository", "media_type")
        .distinct()
    )
    for repository_id, media_type in found:
        media_types.setdefault(repository_id, []).append(media_type)
    context = {
        "permissions": repositories_permissions(principal, repositories),
        "media_types": media_types,
    }
    return RepositorySerializer(repositories, many=True, context=context).data


def _repository_answer(principal: Principal, repository: Repository, code: int) -> Response:
    annotated = _with_counts(Repository.objects.filter(pk=repository.pk), principal).get()
    return Response(_serialize_repositories(principal, [annotated])[0], status=code)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, rather than ignoring them."""

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown field {', '.join(unknown)}; allowed: {', '.join(self.fields)}."
            )
        return attrs


class RepositoryUpdateSerializer(StrictSerializer):
    description = serializers.CharField(
        max_length=100, allow_blank=True, required=False, help_text="Short description."
    )
    full_description = serializers.CharField(
        max_length=25000, allow_blank=True, required=False, help_text="README, in Markdown."
    )
    is_private = serializers.BooleanField(required=False)


class RepositoryCreateSerializer(RepositoryUpdateSerializer):
    name = serializers.CharField(max_length=224)
    is_private = serializers.BooleanField(
        required=False, help_text="The namespace's default if not given."
    )

    def validate_name(self, name: str) -> str:
        try:
            validate_repository_name(name)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return name


class NamespacedRepositoryCreateSerializer(RepositoryCreateSerializer):
    namespace = serializers.CharField(help_text="The user or organization to create it in.")


def _create(request: Request, namespace_name: str, data: dict) -> Response:
    principal = _signed_in(request)
    namespace = _namespace(namespace_name)
    if not can_create_in(principal, namespace):
        with_token = f" with a {principal.scope} access token" if principal.scope else ""
        raise exceptions.PermissionDenied(
            f"You cannot create repositories in '{namespace_name}'{with_token}."
        )
    name = data["name"]
    try:
        with transaction.atomic():
            repository = Repository.objects.create(
                namespace=namespace,
                name=name,
                description=data.get("description", ""),
                full_description=data.get("full_description", ""),
                is_private=data.get("is_private", namespace.default_private),
                created_by=principal.user,
            )
            activity.record(
                Activity.Action.REPO_CREATED,
                namespace=namespace,
                repository=repository,
                actor=principal.user,
            )
    except IntegrityError:
        raise exceptions.ValidationError(
            {"name": [f"{namespace_name}/{name} already exists."]}
        ) from None
    return _repository_answer(principal, repository, status.HTTP_201_CREATED)


class RepositoryListView(APIView):
    """`/v2/namespaces/<ns>/repositories` and `/v2/repositories/<ns>/`."""

    pagination_class = HubPagination

    @extend_schema(
        tags=["repositories"],
        summary="List the repositories of a user or organization",
        description="Those the requester may see: public ones, and private ones they have a "
        "permission on. Also at `/v2/repositories/{namespace}/`.",
        parameters=[_ordering_parameter(REPOSITORY_ORDERINGS, "-last_updated"), NAME_FILTER],
        responses={200: RepositorySerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, namespace: str) -> Response:
        principal = principal_of(request)
        found = _namespace(namespace)
        visible = pullable_repositories(principal, Repository.objects.filter(namespace=found))
        repositories = _ordered(
            request, _with_counts(visible, principal), REPOSITORY_ORDERINGS, "-last_updated"
        )
        return _paginated(
            request, self, repositories, lambda page: _serialize_repositories(principal, page)
        )

    @extend_schema(
        tags=["repositories"],
        summary="Create a repository",
        description="In your namespace, or an organization where you may create repositories.",
        request=RepositoryCreateSerializer,
        responses={201: RepositorySerializer, **ERRORS},
    )
    def post(self, request: Request, namespace: str) -> Response:
        _signed_in(request)
        data = RepositoryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _create(request, namespace, data.validated_data)


class RepositoryCreateView(APIView):
    """`/v2/repositories/`: Docker Hub's older way to create a repository."""

    @extend_schema(
        tags=["repositories"],
        summary="Create a repository (namespace in the body)",
        request=NamespacedRepositoryCreateSerializer,
        responses={201: RepositorySerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        _signed_in(request)
        data = NamespacedRepositoryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _create(request, data.validated_data["namespace"], data.validated_data)


class RepositoryView(APIView):
    """`/v2/namespaces/<ns>/repositories/<name>` and `/v2/repositories/<ns>/<name>/`."""

    @extend_schema(
        tags=["repositories"],
        summary="Get a repository",
        responses={200: RepositorySerializer, **READ_ERRORS},
    )
    def get(self, request: Request, namespace: str, name: str) -> Response:
        repository = _repository(request, namespace, name, Permission.PULL)
        return _repository_answer(principal_of(request), repository, status.HTTP_200_OK)

    @extend_schema(
        tags=["repositories"],
        summary="Change a repository's descriptions or visibility",
        description="Needs admin permission on the repository. A change of visibility applies "
        "at once, pulls included.",
        request=RepositoryUpdateSerializer,
        responses={200: RepositorySerializer, **ERRORS},
    )
    def patch(self, request: Request, namespace: str, name: str) -> Response:
        repository = _repository(request, namespace, name, Permission.ADMIN)
        data = RepositoryUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        was_private = repository.is_private
        for field, value in data.validated_data.items():
            setattr(repository, field, value)
        principal = principal_of(request)
        with transaction.atomic():
            repository.save(update_fields=[*data.validated_data, "updated"])
            if repository.is_private != was_private:
                activity.record(
                    Activity.Action.VISIBILITY_CHANGED,
                    namespace=repository.namespace,
                    repository=repository,
                    actor=principal.user,
                    visibility="private" if repository.is_private else "public",
                )
        return _repository_answer(principal, repository, status.HTTP_200_OK)

    @extend_schema(
        tags=["repositories"],
        summary="Delete a repository",
        description="Needs admin permission on the repository. It disappears at once; its "
        "images are then deleted from the registry in the background.",
        request=None,
        responses={202: None, **ERRORS},
    )
    def delete(self, request: Request, namespace: str, name: str) -> Response:
        repository = _repository(request, namespace, name, Permission.ADMIN)
        deletion.delete_repository(repository, actor=principal_of(request).user)
        return Response(status=status.HTTP_202_ACCEPTED)


# Tags


class TagImageSerializer(serializers.Serializer):
    architecture = serializers.CharField()
    os = serializers.CharField()
    variant = serializers.CharField(allow_null=True)
    digest = serializers.CharField()
    size = serializers.IntegerField(help_text="Compressed size of config and layers, in bytes.")
    status = serializers.CharField()
    last_pushed = serializers.DateTimeField()
    last_pulled = serializers.DateTimeField(allow_null=True)


class TagSerializer(serializers.ModelSerializer):
    digest = serializers.CharField(source="manifest.digest")
    full_size = serializers.IntegerField(
        source="manifest.size", help_text="Compressed size of every platform, in bytes."
    )
    last_updated = serializers.DateTimeField(source="pushed_at")
    last_updater_username = serializers.SerializerMethodField()
    tag_last_pushed = serializers.DateTimeField(source="pushed_at")
    tag_last_pulled = serializers.DateTimeField(source="last_pulled")
    tag_status = serializers.SerializerMethodField()
    media_type = serializers.CharField(source="manifest.media_type")
    content_type = serializers.SerializerMethodField()
    images = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = [
            "id",
            "name",
            "digest",
            "full_size",
            "last_updated",
            "last_updater_username",
            "tag_last_pushed",
            "tag_last_pulled",
            "tag_status",
            "media_type",
            "content_type",
            "images",
        ]

    def get_last_updater_username(self, tag: Tag) -> str | None:
        return tag.pushed_by.username if tag.pushed_by else None

    def get_tag_status(self, tag: Tag) -> str:
        return "active"

    def get_content_type(self, tag: Tag) -> str:
        return _content_type(tag.manifest.media_type)

    @extend_schema_field(TagImageSerializer(many=True))
    def get_images(self, tag: Tag) -> list[dict]:
        """One per platform: one for an image, one per child manifest of an index."""
        return [
            {
                "architecture": platform.get("architecture", ""),
                "os": platform.get("os", ""),
                "variant": platform.get("variant") or None,
                "digest": platform.get("digest", tag.manifest.digest),
                "size": platform.get("size", 0),
                "status": "active",
                "last_pushed": tag.pushed_at,
                "last_pulled": tag.last_pulled,
            }
            for platform in tag.manifest.platforms
        ]


def _tags(repository: Repository) -> QuerySet:
    return repository.tags.select_related("manifest", "pushed_by")


class TagListView(APIView):
    """`/v2/namespaces/<ns>/repositories/<name>/tags` and `/v2/repositories/<ns>/<name>/tags/`."""

    pagination_class = HubPagination

    @extend_schema(
        tags=["repositories"],
        summary="List a repository's tags",
        parameters=[_ordering_parameter(TAG_ORDERINGS, "-last_updated"), NAME_FILTER],
        responses={200: TagSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, namespace: str, name: str) -> Response:
        repository = _repository(request, namespace, name, Permission.PULL)
        tags = _ordered(request, _tags(repository), TAG_ORDERINGS, "-last_updated")
        return _paginated(request, self, tags, lambda page: TagSerializer(page, many=True).data)


def _tag(repository: Repository, name: str) -> Tag:
    tag = _tags(repository).filter(name=name).first()
    if tag is None:
        raise exceptions.NotFound(f"{repository.full_name} has no tag '{name}'.")
    return tag


class RegistryUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The registry could not be reached; nothing was deleted. Try again later."


class TagView(APIView):
    """`/v2/namespaces/<ns>/repositories/<name>/tags/<tag>` and the older spelling."""

    @extend_schema(
        tags=["repositories"],
        summary="Get a tag",
        responses={200: TagSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, namespace: str, name: str, tag: str) -> Response:
        repository = _repository(request, namespace, name, Permission.PULL)
        return Response(TagSerializer(_tag(repository, tag)).data)

    @extend_schema(
        tags=["repositories"],
        summary="Delete a tag",
        description="Needs delete permission (write) on the repository. Other tags on the same "
        "image stay.",
        request=None,
        responses={204: None, **ERRORS, 503: ErrorSerializer},
    )
    def delete(self, request: Request, namespace: str, name: str, tag: str) -> Response:
        repository = _repository(request, namespace, name, Permission.DELETE)
        try:
            validate_tag(tag)
        except DjangoValidationError as error:
            raise exceptions.ValidationError({"tag": error.messages}) from None
        try:
            deleted = deletion.delete_tag(repository, tag, principal_of(request).user)
        except RegistryError:
            log.exception("could not delete %s:%s", repository.full_name, tag)
            raise RegistryUnavailable() from None
        if not deleted:
            raise exceptions.NotFound(f"{repository.full_name} has no tag '{tag}'.")
        return Response(status=status.HTTP_204_NO_CONTENT)
