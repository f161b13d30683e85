"""How Hub API requests authenticate: a bearer token from /v2/users/login or /v2/auth/token,
or HTTP Basic with a password or personal access token. Both end in accounts.credentials or
accounts.hub_tokens; `request.auth` carries the access token (and so its scope) if one was used.
"""

from typing import TYPE_CHECKING

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    BasicAuthentication,
    get_authorization_header,
)
from rest_framework.request import Request

from . import hub_tokens
from .credentials import Credentials, CredentialsError, TooManyAttempts, check_credentials
from .models import User

if TYPE_CHECKING:
    # Importing it at run time would import DRF's settings, which import this module.
    from drf_spectacular.openapi import AutoSchema


class HubBearerAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` (or Docker Hub's older `JWT <token>`) with a token from
    /v2/users/login or /v2/auth/token. `request.auth` is a hub_tokens.HubIdentity."""

    def authenticate(self, request: Request) -> tuple[User, hub_tokens.HubIdentity] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() not in {b"bearer", b"jwt"}:
            return None
        try:
            identity = hub_tokens.verify(parts[1].decode("latin-1"))
        except hub_tokens.HubTokenError as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return identity.user, identity

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="Hub API"'


class HubBearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = HubBearerAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: "AutoSchema") -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class HubBasicAuthentication(BasicAuthentication):
    """Username (or email) and a password or personal access token in an
    `Authorization: Basic` header, checked by accounts.credentials like every other login:
    unverified, inactive and (for passwords) two-factor accounts are refused, and failures
    count against the sign-in rate limit. `request.auth` is the Credentials."""

    def authenticate_header(self, request: Request) -> str:
        return f'Basic realm="{settings.HUB_NAME}"'

    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[User, Credentials]:
        try:
            credentials = check_credentials(request, userid, password)
        except TooManyAttempts as error:
            raise exceptions.Throttled(detail=str(error)) from None
        except CredentialsError as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return credentials.user, credentials


class HubBasicAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = HubBasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema: "AutoSchema") -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Username (or email address) and password.",
        }
