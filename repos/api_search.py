"""Search over the APIs clients call (DESIGN §1, §3): the old index's `GET /v1/_ping` and
`GET /v1/search?q=&n=&page=`, which `podman search HOST/term` and `docker search HOST/term` call
through the registry front, and the Hub API's `GET /v2/search/repositories/?query=`.

Ranking and visibility are repos.search's. podman asks without credentials and so sees public
repositories only; docker sends Basic auth (password or access token), or, logged in with an
identity token, a registry token from /token (its scope, `registry:catalog:search`, is granted
nothing, but its subject is the user); a Hub API token works too. With any of them the
user's private hits are included; wrong credentials answer 401.
"""

import math

import jwt
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import hub_tokens
from accounts.authentication import HubBasicAuthentication, HubBearerAuthentication
from accounts.models import User
from hub.api import ErrorSerializer, HubPagination
from orgs.api import principal_of
from registry.keys import signing_key

from .models import Repository
from .search import (
    COUNT_CAP,
    LIBRARY,
    MAX_QUERY_LENGTH,
    CappedPaginator,
    search_repositories,
)

# Registry tokens are signed with the registry key (ES256); Hub API tokens are not.
REGISTRY_TOKEN_ALGORITHM = "ES256"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
ERRORS = {code: ErrorSerializer for code in (400, 401)}


def _registry_token_user(token: str) -> tuple[User, dict] | None:
    """The user a registry token from /token names, and its claims; none for an anonymous
    token. Its access is not looked at: search shows what the user may see anyway."""
    private_key, _ = signing_key()
    try:
        claims = jwt.decode(
            token,
            private_key.public_key(),
            algorithms=[REGISTRY_TOKEN_ALGORITHM],
            audience=settings.REGISTRY_SERVICE,
            issuer=settings.REGISTRY_TOKEN_ISSUER,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise exceptions.AuthenticationFailed(
            "The registry token has expired; log in again."
        ) from None
    except jwt.InvalidTokenError:
        raise exceptions.AuthenticationFailed("The registry token is not valid.") from None
    if not claims["sub"]:
        return None
    user = User.objects.filter(username=claims["sub"], is_active=True).first()
    if user is None:
        raise exceptions.AuthenticationFailed("The registry token's user no longer exists.")
    return user, claims


class SearchBearerAuthentication(HubBearerAuthentication):
    """`Authorization: Bearer` with a Hub API token (as HubBearerAuthentication), or with a
    registry token from /token, as docker sends one to /v1/search. `request.auth` is the
    Hub identity or the registry token's claims."""

    def authenticate(self, request: Request) -> tuple[User, hub_tokens.HubIdentity | dict] | None:
        parts = get_authorization_header(request).split()
        if len(parts) == 2 and parts[0].lower() == b"bearer":
            token = parts[1].decode("latin-1")
            try:
                algorithm = jwt.get_unverified_header(token).get("alg")
            except jwt.InvalidTokenError:
                algorithm = None
            if algorithm == REGISTRY_TOKEN_ALGORITHM:
                return _registry_token_user(token)
        return super().authenticate(request)


class SearchBearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = SearchBearerAuthentication
    name = "searchBearerAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Hub API token (POST /v2/users/login) or a registry token (/token).",
        }


def _is_official(repository: Repository) -> bool:
    return repository.namespace.name == LIBRARY


# GET /v1/_ping


@extend_schema(
    summary="Ping the index",
    description="What the old index answered; docker reads the headers to decide whether "
    "to send credentials to a standalone index.",
    tags=["v1"],
    responses={200: OpenApiTypes.BOOL},
    parameters=[
        OpenApiParameter(
            "X-Docker-Registry-Version",
            str,
            OpenApiParameter.HEADER,
            response=[200],
            description="`0.6.0`.",
        ),
        OpenApiParameter(
            "X-Docker-Registry-Standalone",
            str,
            OpenApiParameter.HEADER,
            response=[200],
            description="`True`: the index has its own accounts.",
        ),
    ],
)
class PingView(APIView):
    authentication_classes: list[type] = []

    def get(self, request: Request) -> Response:
        return Response(
            True,
            headers={
                "X-Docker-Registry-Version": "0.6.0",
                "X-Docker-Registry-Standalone": "True",
            },
        )


# GET /v1/search


class V1SearchParametersSerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=MAX_QUERY_LENGTH,
        help_text="The search term.",
        error_messages={
            "required": "Give a search term in q.",
            "blank": "Give a search term in q.",
        },
    )
    n = serializers.IntegerField(
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=DEFAULT_PAGE_SIZE,
        help_text=f"Results per page, 1 to {MAX_PAGE_SIZE}.",
    )
    page = serializers.IntegerField(min_value=1, default=1, help_text="From 1.")


class V1SearchResultSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="`namespace/name`, `library/…` for official images.")
    description = serializers.CharField()
    star_count = serializers.IntegerField()
    is_official = serializers.BooleanField()
    is_automated = serializers.BooleanField()


class V1SearchSerializer(serializers.Serializer):
    num_results = serializers.IntegerField()
    num_pages = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    query = serializers.CharField()
    results = V1SearchResultSerializer(many=True)


@extend_schema(
    summary="Search repositories (v1)",
    description="What `podman search` and `docker search` call. Anonymous requests see public "
    "repositories; with credentials, the private ones the user may pull as well.",
    tags=["v1"],
    parameters=[V1SearchParametersSerializer],
    responses={200: V1SearchSerializer, **ERRORS},
)
class V1SearchView(APIView):
    # Basic first: a 401 asks for it, as docker and curl answer.
    authentication_classes = [HubBasicAuthentication, SearchBearerAuthentication]

    def get(self, request: Request) -> Response:
        parameters = V1SearchParametersSerializer(data=request.query_params)
        parameters.is_valid(raise_exception=True)
        query, size, page = (parameters.validated_data[key] for key in ("q", "n", "page"))
        found = search_repositories(principal_of(request), query)
        start = (page - 1) * size
        hits = found[start : start + size]
        # Counted with the page, up to COUNT_CAP: more are reported as COUNT_CAP.
        total = min(found.count(), COUNT_CAP)
        results = [
            {
                "name": hit.full_name,
                "description": hit.description,
                "star_count": hit.star_count,
                "is_official": _is_official(hit),
                "is_automated": hit.is_automated,
            }
            for hit in hits
        ]
        answer = {
            "num_results": total,
            "num_pages": math.ceil(total / size),
            "page": page,
            "page_size": size,
            "query": query,
            "results": results,
        }
        return Response(V1SearchSerializer(answer).data)


# GET /v2/search/repositories/


class HubSearchParametersSerializer(serializers.Serializer):
    query = serializers.CharField(
        max_length=MAX_QUERY_LENGTH,
        help_text="The search term.",
        error_messages={
            "required": "Give a search term in query.",
            "blank": "Give a search term in query.",
        },
    )


class HubSearchResultSerializer(serializers.Serializer):
    repo_name = serializers.CharField(help_text="`namespace/name`.")
    short_description = serializers.CharField()
    star_count = serializers.IntegerField()
    pull_count = serializers.IntegerField()
    repo_owner = serializers.CharField(help_text="The namespace.")
    is_official = serializers.BooleanField()
    is_automated = serializers.BooleanField()


class HubSearchPagination(HubPagination):
    """Counts up to COUNT_CAP: `count` is at most that, and the pages end there."""

    django_paginator_class = CappedPaginator


class HubSearchPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=f"At most {COUNT_CAP}: more are not counted.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = HubSearchResultSerializer(many=True)


@extend_schema(
    summary="Search repositories",
    description="Best match first. Anonymous requests see public repositories; signed-in "
    "users also the private ones they may pull.",
    tags=["search"],
    parameters=[
        HubSearchParametersSerializer,
        OpenApiParameter("page", int, description="From 1."),
        OpenApiParameter("page_size", int, description=f"1 to {MAX_PAGE_SIZE}; 25 if not given."),
    ],
    responses={200: HubSearchPageSerializer, **ERRORS, 404: ErrorSerializer},
)
class HubSearchView(APIView):
    authentication_classes = [
        SearchBearerAuthentication,
        HubBasicAuthentication,
        SessionAuthentication,
    ]

    def get(self, request: Request) -> Response:
        parameters = HubSearchParametersSerializer(data=request.query_params)
        parameters.is_valid(raise_exception=True)
        found = search_repositories(principal_of(request), parameters.validated_data["query"])
        paginator = HubSearchPagination()
        hits = paginator.paginate_queryset(found, request, view=self)
        results = [
            {
                "repo_name": hit.full_name,
                "short_description": hit.description,
                "star_count": hit.star_count,
                "pull_count": hit.pull_count,
                "repo_owner": hit.namespace.name,
                "is_official": _is_official(hit),
                "is_automated": hit.is_automated,
            }
            for hit in hits
        ]
        return paginator.get_paginated_response(HubSearchResultSerializer(results, many=True).data)
