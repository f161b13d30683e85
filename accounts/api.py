"""Hub API: signing in (`/v2/users/login`, `/v2/users/2fa-login`, `/v2/auth/token`) and
personal access tokens (`/v2/access-tokens`), with Docker Hub's shapes."""

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api import HubPagination

from . import hub_tokens
from .credentials import (
    Credentials,
    CredentialsError,
    SecondFactorRequired,
    TooManyAttempts,
    check_credentials,
)
from .models import AccessToken, TokenScope, User

TWO_FACTOR_REQUIRED = "Require secondary authentication on MFA enabled account"


def _check(request: Request, login: str, secret: str, **options) -> Credentials:
    try:
        return check_credentials(request, login, secret, **options)
    except TooManyAttempts as error:
        raise exceptions.Throttled(detail=str(error)) from None
    except SecondFactorRequired:
        raise
    except CredentialsError as error:
        raise exceptions.AuthenticationFailed(str(error)) from None


class CredentialsExchangeView(APIView):
    """A view that takes credentials in its body, not in a header."""

    authentication_classes: list = []

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="Hub API"'


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Username or email address")
    password = serializers.CharField(
        trim_whitespace=False, help_text="Password, or a personal access token"
    )


class LoginView(CredentialsExchangeView):
    @extend_schema(
        tags=["authentication"],
        summary="Sign in with a username and password (or access token)",
        request=LoginSerializer,
        responses={200: inline_serializer("LoginToken", {"token": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        login, password = data.validated_data["username"], data.validated_data["password"]
        try:
            credentials = _check(request, login, password, defer_second_factor=True)
        except SecondFactorRequired as pending:
            challenge = hub_tokens.two_factor_challenge(pending.user)
            return Response(
                {"detail": TWO_FACTOR_REQUIRED, "message": TWO_FACTOR_REQUIRED,
                 "login_2fa_token": challenge},
                status=status.HTTP_401_UNAUTHORIZED,
            )  # fmt: skip
        return Response({"token": hub_tokens.issue(credentials.user, credentials.access_token)})


class TwoFactorLoginSerializer(serializers.Serializer):
    login_2fa_token = serializers.CharField()
    code = serializers.CharField(help_text="A code from the authenticator app, or a recovery code")


class TwoFactorLoginView(CredentialsExchangeView):
    @extend_schema(
        tags=["authentication"],
        summary="Second step of signing in when two-factor authentication is on",
        request=TwoFactorLoginSerializer,
        responses={200: inline_serializer("TwoFactorToken", {"token": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        data = TwoFactorLoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = hub_tokens.user_of_challenge(data.validated_data["login_2fa_token"])
        except hub_tokens.HubTokenError as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        if not _second_factor_ok(user, data.validated_data["code"].strip()):
            raise exceptions.AuthenticationFailed("Incorrect code.")
        return Response({"token": hub_tokens.issue(user)})


def _second_factor_ok(user: User, code: str) -> bool:
    checks = {Authenticator.Type.TOTP: TOTP, Authenticator.Type.RECOVERY_CODES: RecoveryCodes}
    return any(
        checks[authenticator.type](authenticator).validate_code(code)
        for authenticator in Authenticator.objects.filter(user=user, type__in=checks)
    )


class AuthTokenSerializer(serializers.Serializer):
    identifier = serializers.CharField(help_text="Username or email address")
    secret = serializers.CharField(
        trim_whitespace=False, help_text="A personal access token, or the password"
    )


class AuthTokenView(CredentialsExchangeView):
    @extend_schema(
        tags=["authentication"],
        summary="Exchange an access token (or password) for a bearer token",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("AccessTokenJWT", {"access_token": serializers.CharField()})
        },
    )
    def post(self, request: Request) -> Response:
        data = AuthTokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = _check(
            request, data.validated_data["identifier"], data.validated_data["secret"]
        )
        token = hub_tokens.issue(credentials.user, credentials.access_token)
        return Response({"access_token": token})


class AccessTokenSerializer(serializers.ModelSerializer):
    token_label = serializers.CharField(source="label", max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=TokenScope.values),
        min_length=1,
        max_length=1,
        write_only=True,
        help_text="One of repo:read, repo:write, repo:delete, repo:admin",
    )
    created_at = serializers.DateTimeField(source="created", read_only=True)
    creator_ua = serializers.CharField(source="created_by_client", read_only=True)
    generated_by = serializers.SerializerMethodField()
    token = serializers.SerializerMethodField()

    class Meta:
        model = AccessToken
        fields = [
            "uuid",
            "token_label",
            "scopes",
            "is_active",
            "created_at",
            "creator_ua",
            "generated_by",
            "last_used",
            "expires_at",
            "token",
        ]
        read_only_fields = ["uuid", "last_used"]

    def get_generated_by(self, token: AccessToken) -> str:
        return "manual"

    def get_token(self, token: AccessToken) -> str:
        """The secret, only in the answer that creates the token."""
        return self.context.get("secret", "")

    def to_representation(self, token: AccessToken) -> dict:
        data = super().to_representation(token)
        data["scopes"] = [token.scope]
        return data


class AccessTokenUpdateSerializer(serializers.Serializer):
    token_label = serializers.CharField(max_length=100, required=False)
    is_active = serializers.BooleanField(required=False)


def _token_manager(request: Request) -> User:
    """Access tokens are managed with a password login only, as on Docker Hub."""
    identity = request.auth
    if getattr(identity, "access_token", None) is not None:
        raise exceptions.PermissionDenied(
            "Access tokens cannot manage access tokens: sign in with your password."
        )
    return request.user


class AccessTokenListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["access-tokens"], responses=AccessTokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        user = _token_manager(request)
        tokens = AccessToken.objects.filter(user=user)
        paginator = HubPagination()
        page = paginator.paginate_queryset(tokens, request, view=self)
        response = paginator.get_paginated_response(AccessTokenSerializer(page, many=True).data)
        response.data["active_count"] = tokens.filter(is_active=True).count()
        return response

    @extend_schema(
        tags=["access-tokens"],
        request=AccessTokenSerializer,
        responses={201: AccessTokenSerializer},
    )
    def post(self, request: Request) -> Response:
        user = _token_manager(request)
        data = AccessTokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        token, secret = AccessToken.issue(
            user,
            fields["label"],
            fields["scopes"][0],
            expires_at=fields.get("expires_at"),
            created_by_client=request.headers.get("User-Agent", "")[:200],
        )
        body = AccessTokenSerializer(token, context={"secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AccessTokenDetailView(APIView):
    permission_classes = [IsAuthenticated]

    def _token(self, request: Request, token_uuid: str) -> AccessToken:
        return get_object_or_404(AccessToken, uuid=token_uuid, user=_token_manager(request))

    @extend_schema(tags=["access-tokens"], responses=AccessTokenSerializer)
    def get(self, request: Request, token_uuid: str) -> Response:
        return Response(AccessTokenSerializer(self._token(request, token_uuid)).data)

    @extend_schema(
        tags=["access-tokens"], request=AccessTokenUpdateSerializer, responses=AccessTokenSerializer
    )
    def patch(self, request: Request, token_uuid: str) -> Response:
        token = self._token(request, token_uuid)
        data = AccessTokenUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "token_label" in data.validated_data:
            token.label = data.validated_data["token_label"]
        if "is_active" in data.validated_data:
            token.is_active = data.validated_data["is_active"]
        token.save(update_fields=["label", "is_active"])
        return Response(AccessTokenSerializer(token).data)

    @extend_schema(tags=["access-tokens"], responses={204: None})
    def delete(self, request: Request, token_uuid: str) -> Response:
        self._token(request, token_uuid).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
