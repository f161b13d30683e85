"""The legacy Docker Hub (v1 index) repository API (DESIGN §3).

Old docker clients started a push with `PUT /v1/repositories/<ns>/<repo>/` and a pull with
`GET …/images`, both with `X-Docker-Token: true`, and took a registry token from the answer's
`X-Docker-Token` and `WWW-Authenticate: Token …` headers and the registry to use from
`X-Docker-Endpoints`. Here the token is a registry bearer token for that repository, and the
images are the repository's manifests. Without a namespace the repository is in `library`,
where only staff may write.
"""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import HubBasicAuthentication
from accounts.credentials import Credentials
from accounts.models import Namespace, TokenScope
from hub.api import ErrorSerializer
from registry.scopes import Scope
from registry.tokens import REPOSITORY_ACTIONS, grant, issue_token

from .access import (
    ANONYMOUS,
    Permission,
    Principal,
    can_create_in,
    get_repository_or_404,
    namespace_role,
)
from .deletion import delete_repository
from .models import Repository
from .names import validate_repository_name

LIBRARY = "library"
SIGNED_IN = [{"basicAuth": []}]


def principal_of(request: Request) -> Principal:
    """Who the request is from; an access token's scope caps what it may do."""
    credentials = request.auth if isinstance(request.auth, Credentials) else None
    if credentials is None:
        return ANONYMOUS
    scope = TokenScope(credentials.scope) if credentials.scope else None
    return Principal(user=credentials.user, scope=scope)


class ImageSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The hex part of the manifest digest.")
    checksum = serializers.CharField(help_text="The manifest digest.")
    digest = serializers.CharField()
    media_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Compressed size of config and layers, in bytes.")
    tags = serializers.ListField(child=serializers.CharField())


class ImageIdSerializer(serializers.Serializer):
    """What old clients send; accepted and not needed: the registry tells what was pushed."""

    id = serializers.CharField()
    checksum = serializers.CharField(required=False)


class RegistryTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Bearer token for the registry.")
    access_token = serializers.CharField(help_text="The same token.")
    expires_in = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    scope = serializers.CharField(
        help_text="What the token allows, e.g. `repository:alice/app:pull,push`; empty if nothing."
    )


DOCKER_TOKEN_REQUEST = OpenApiParameter(
    "X-Docker-Token",
    str,
    OpenApiParameter.HEADER,
    enum=["true"],
    description="`true` for a registry token for this repository in the answer's headers.",
)


def docker_token_headers(*codes: int) -> list[OpenApiParameter]:
    """The v1 index's answer headers, on the given response codes."""
    return [
        OpenApiParameter(
            "X-Docker-Token",
            str,
            OpenApiParameter.HEADER,
            response=list(codes),
            description='`signature=<registry token>,repository="<ns>/<repo>",access=<read|write>`,'
            " when asked for with `X-Docker-Token: true`.",
        ),
        OpenApiParameter(
            "WWW-Authenticate",
            str,
            OpenApiParameter.HEADER,
            response=list(codes),
            description="`Token ` and the same value as `X-Docker-Token`, when asked for.",
        ),
        OpenApiParameter(
            "X-Docker-Endpoints",
            str,
            OpenApiParameter.HEADER,
            response=list(codes),
            description="The registry that holds the repository.",
        ),
    ]


EMPTY = OpenApiResponse(
    OpenApiTypes.STR, examples=[OpenApiExample("Empty", value="", response_only=True)]
)


def _granted(principal: Principal, repository: Repository, actions: tuple[str, ...]) -> dict:
    """A registry token for what the principal may do of `actions` on the repository."""
    access = grant(principal, [Scope("repository", repository.full_name, actions)])
    answer = issue_token(principal.name, access)
    answer["scope"] = " ".join(
        f"{entry['type']}:{entry['name']}:{','.join(entry['actions'])}" for entry in access
    )
    return answer


def _index_headers(
    response: Response,
    request: Request,
    principal: Principal,
    repository: Repository,
    access: str,
    actions: tuple[str, ...],
) -> Response:
    if request.headers.get("X-Docker-Token", "").lower() == "true":
        token = _granted(principal, repository, actions)["token"]
        value = f'signature={token},repository="{repository.full_name}",access={access}'
        response["X-Docker-Token"] = value
        response["WWW-Authenticate"] = f"Token {value}"
    response["X-Docker-Endpoints"] = settings.REGISTRY_HOST
    return response


def _signed_in(request: Request) -> Principal:
    principal = principal_of(request)
    if principal.is_anonymous:
        raise exceptions.NotAuthenticated("Sign in with your username and password or token.")
    return principal


def _create(principal: Principal, namespace_name: str, name: str) -> Repository:
    """A new repository, if the principal may create it; refused in the same words whether or
    not a repository they may not see has that name."""
    user = principal.user
    if namespace_name == LIBRARY and not (user and user.is_staff):
        raise exceptions.PermissionDenied("Only staff can create library repositories.")
    namespace = Namespace.objects.filter(name=namespace_name).first()
    if namespace is None and namespace_name == LIBRARY:
        # Saved with its first repository.
        namespace = Namespace(name=LIBRARY, kind=Namespace.Kind.ORG)
    if namespace is None:
        raise exceptions.NotFound(f"There is no user or organization named '{namespace_name}'.")
    if not can_create_in(principal, namespace):
        if namespace_role(principal, namespace) is None:
            raise exceptions.NotFound(
                f"There is no repository {namespace_name}/{name} that you can push to, and you "
                f"cannot create repositories in '{namespace_name}'."
            )
        with_token = f" with a {principal.scope} access token" if principal.scope else ""
        raise exceptions.PermissionDenied(
            f"You cannot create repositories in '{namespace_name}'{with_token}."
        )
    try:
        with transaction.atomic():
            if namespace.pk is None:
                namespace.save()
            return Repository.objects.create(
                namespace=namespace,
                name=name,
                is_private=namespace.default_private,
                created_by=principal.user,
            )
    except IntegrityError:
        # Created meanwhile by a push.
        return get_repository_or_404(principal, namespace_name, name, Permission.PUSH)


class RepositoryView(APIView):
    """`/v1/repositories/<ns>/<repo>/`: create a repository (PUT) or delete it (DELETE)."""

    authentication_classes = [HubBasicAuthentication]

    @extend_schema(
        tags=["v1"],
        operation_id="v1_repository_create",
        auth=SIGNED_IN,
        summary="Create a repository, or start a push to it",
        description=(
            "Creates the repository if it does not exist and you may create repositories in "
            "the namespace (201), or checks that you may push to it (200). The body, a list "
            "of image ids, is accepted and ignored."
        ),
        request=ImageIdSerializer(many=True),
        parameters=[DOCKER_TOKEN_REQUEST, *docker_token_headers(200, 201)],
        responses={
            200: EMPTY,
            201: EMPTY,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def put(self, request: Request, name: str, namespace: str = LIBRARY) -> Response:
        principal = _signed_in(request)
        try:
            validate_repository_name(name)
        except DjangoValidationError as error:
            raise exceptions.ValidationError({"name": error.messages}) from None
        try:
            repository = get_repository_or_404(principal, namespace, name, Permission.PUSH)
            created = False
        except Http404:
            repository = _create(principal, namespace, name)
            created = True
        response = Response("", status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
        return _index_headers(response, request, principal, repository, "write", ("pull", "push"))

    @extend_schema(
        tags=["v1"],
        operation_id="v1_repository_delete",
        auth=SIGNED_IN,
        summary="Delete a repository",
        description=(
            "Needs admin permission on the repository. It disappears at once; its images are "
            "then deleted from the registry in the background."
        ),
        request=None,
        responses={
            202: EMPTY,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def delete(self, request: Request, name: str, namespace: str = LIBRARY) -> Response:
        principal = _signed_in(request)
        repository = get_repository_or_404(principal, namespace, name, Permission.ADMIN)
        delete_repository(repository, actor=principal.user)
        return Response("", status=status.HTTP_202_ACCEPTED)


class ImagesView(APIView):
    """`/v1/repositories/<ns>/<repo>/images`: list the images (GET) or end a push (PUT)."""

    authentication_classes = [HubBasicAuthentication]

    @extend_schema(
        tags=["v1"],
        operation_id="v1_repository_images",
        summary="List a repository's images",
        description=(
            "Every manifest of the repository, newest first, with the tags on it. Public "
            "repositories need no credentials."
        ),
        parameters=[DOCKER_TOKEN_REQUEST, *docker_token_headers(200)],
        responses={
            200: ImageSerializer(many=True),
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, name: str, namespace: str = LIBRARY) -> Response:
        principal = principal_of(request)
        repository = get_repository_or_404(principal, namespace, name)
        manifests = repository.manifests.prefetch_related("tags").order_by("-created", "-pk")
        images = [
            {
                "id": manifest.digest.partition(":")[2],
                "checksum": manifest.digest,
                "digest": manifest.digest,
                "media_type": manifest.media_type,
                "size": manifest.size,
                "tags": sorted(tag.name for tag in manifest.tags.all()),
            }
            for manifest in manifests
        ]
        response = Response(ImageSerializer(images, many=True).data)
        return _index_headers(response, request, principal, repository, "read", ("pull",))

    @extend_schema(
        tags=["v1"],
        operation_id="v1_repository_images_update",
        auth=SIGNED_IN,
        summary="End a push",
        description=(
            "Checks that you may push to the repository. The body, the pushed image ids and "
            "checksums, is accepted and ignored: the registry tells the hub what was pushed."
        ),
        request=ImageIdSerializer(many=True),
        responses={
            204: None,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def put(self, request: Request, name: str, namespace: str = LIBRARY) -> Response:
        principal = _signed_in(request)
        get_repository_or_404(principal, namespace, name, Permission.PUSH)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthView(APIView):
    """`/v1/repositories/<ns>/<repo>/auth`: a registry token for the repository."""

    authentication_classes = [HubBasicAuthentication]

    @extend_schema(
        tags=["v1"],
        operation_id="v1_repository_auth",
        summary="Get a registry token for a repository",
        description=(
            "A bearer token for the registry with what you may do on this repository: pull, "
            "push, delete. Anonymous requests get pull on public repositories."
        ),
        request=None,
        responses={
            200: RegistryTokenSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def put(self, request: Request, name: str, namespace: str = LIBRARY) -> Response:
        principal = principal_of(request)
        repository = get_repository_or_404(principal, namespace, name)
        actions = tuple(str(action) for action in REPOSITORY_ACTIONS)
        return Response(_granted(principal, repository, actions))


@extend_schema_view(
    put=extend_schema(
        operation_id="v1_library_repository_create",
        summary="Create a library repository (staff only)",
    ),
    delete=extend_schema(
        operation_id="v1_library_repository_delete",
        summary="Delete a library repository (staff only)",
    ),
)
class LibraryRepositoryView(RepositoryView):
    """`/v1/repositories/<repo>/`: the same for `library/<repo>`."""


@extend_schema_view(
    get=extend_schema(
        operation_id="v1_library_repository_images",
        summary="List a library repository's images",
    ),
    put=extend_schema(
        operation_id="v1_library_repository_images_update",
        summary="End a push to a library repository (staff only)",
    ),
)
class LibraryImagesView(ImagesView):
    """`/v1/repositories/<repo>/images`: the same for `library/<repo>`."""


@extend_schema_view(
    put=extend_schema(
        operation_id="v1_library_repository_auth",
        summary="Get a registry token for a library repository",
    )
)
class LibraryAuthView(AuthView):
    """`/v1/repositories/<repo>/auth`: the same for `library/<repo>`."""
