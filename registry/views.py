"""The registry's token endpoint (GET and OAuth2 POST /token) and event receiver."""

import base64
import binascii
import hmac
import json
import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.credentials import (
    Credentials,
    CredentialsError,
    TooManyAttempts,
    check_credentials,
)
from accounts.models import TokenScope
from repos.access import ANONYMOUS, Principal

from .events import EnvelopeError, parse_envelope, record
from .models import RefreshToken
from .robots import ROBOT_LOGIN, RobotCredentialsError, robot_principal
from .scopes import ScopeError, parse_scopes
from .tasks import apply_registry_events
from .tokens import grant, issue_token

log = logging.getLogger(__name__)


def _error(status: int, message: str, code: str = "DENIED", **extra) -> JsonResponse:
    response = JsonResponse(
        {
            "errors": [{"code": code, "message": message}],
            "details": message,
            "message": message,
            **extra,
        },
        status=status,
    )
    if status == 401:
        response["WWW-Authenticate"] = f'Basic realm="{settings.HUB_NAME}"'
    return response


def _basic_auth(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        login, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialsError("Malformed basic authorization header.") from None
    return login, secret


def _principal(credentials: Credentials | None) -> Principal:
    if credentials is None:
        return ANONYMOUS
    scope = TokenScope(credentials.scope) if credentials.scope else None
    return Principal(user=credentials.user, scope=scope)


@csrf_exempt
@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def token(request: HttpRequest) -> JsonResponse:
    params = request.GET if request.method == "GET" else request.POST
    service = params.get("service")
    if service and service != settings.REGISTRY_SERVICE:
        return _error(400, f"Unknown service {service!r}; this is {settings.REGISTRY_SERVICE!r}.")
    try:
        if request.method == "GET":
            scopes = parse_scopes(params.getlist("scope"))
        else:
            scopes = parse_scopes([params.get("scope", "")])
    except ScopeError as error:
        return _error(400, str(error), code="INVALID_REQUEST")
    if request.method == "GET":
        return _token_get(request, scopes)
    return _token_post(request, scopes)


def _token_get(request: HttpRequest, scopes) -> JsonResponse:
    try:
        basic = _basic_auth(request)
        if basic and basic[0] == ROBOT_LOGIN:
            robot = robot_principal(basic[1])
            return JsonResponse(issue_token(robot.name, grant(robot, scopes)))
        credentials = check_credentials(request, *basic) if basic else None
    except TooManyAttempts as error:
        return _error(429, str(error), code="TOOMANYREQUESTS")
    except (CredentialsError, RobotCredentialsError) as error:
        return _error(401, str(error), code="UNAUTHORIZED")
    account = request.GET.get("account")
    if (
        credentials
        and account
        and account.lower()
        not in {
            credentials.user.username,
            credentials.user.email.lower(),
        }
    ):
        return _error(
            400,
            f"The account {account!r} is not the one the credentials belong to.",
            code="INVALID_REQUEST",
        )
    principal = _principal(credentials)
    answer = issue_token(principal.name, grant(principal, scopes))
    if credentials and request.GET.get("offline_token", "").lower() == "true":
        answer["refresh_token"] = RefreshToken.issue(
            credentials.user, credentials.access_token, request.GET.get("client_id", "")
        )
    return JsonResponse(answer)


def _token_post(request: HttpRequest, scopes) -> JsonResponse:
    grant_type = request.POST.get("grant_type")
    client_id = request.POST.get("client_id", "")
    if not client_id:
        return _error(
            400, "client_id is required.", code="INVALID_REQUEST", error="invalid_request"
        )
    refresh_token = None
    if grant_type == "password" and request.POST.get("username") == ROBOT_LOGIN:
        try:
            robot = robot_principal(request.POST.get("password", ""))
        except RobotCredentialsError as error:
            return _error(401, str(error), code="UNAUTHORIZED", error="invalid_grant")
        return _token_answer(robot, scopes, refresh_token=None)
    if grant_type == "password":
        try:
            credentials = check_credentials(
                request, request.POST.get("username", ""), request.POST.get("password", "")
            )
        except TooManyAttempts as error:
            return _error(429, str(error), code="TOOMANYREQUESTS", error="invalid_grant")
        except CredentialsError as error:
            return _error(401, str(error), code="UNAUTHORIZED", error="invalid_grant")
        if request.POST.get("access_type") == "offline":
            refresh_token = RefreshToken.issue(
                credentials.user, credentials.access_token, client_id
            )
    elif grant_type == "refresh_token":
        refresh_token = request.POST.get("refresh_token", "")
        stored = RefreshToken.find(refresh_token)
        if stored is None:
            return _error(
                401,
                "The refresh token is unknown or was revoked; log in again.",
                code="UNAUTHORIZED",
                error="invalid_grant",
            )
        credentials = Credentials(user=stored.user, access_token=stored.access_token)
    else:
        return _error(
            400,
            "grant_type must be 'password' or 'refresh_token'.",
            code="INVALID_REQUEST",
            error="unsupported_grant_type",
        )
    return _token_answer(_principal(credentials), scopes, refresh_token)


def _token_answer(principal: Principal, scopes, refresh_token: str | None) -> JsonResponse:
    """The OAuth2 answer of POST /token."""
    access = grant(principal, scopes)
    issued = issue_token(principal.name, access)
    answer = {
        "access_token": issued["access_token"],
        "token": issued["token"],
        "scope": " ".join(
            f"{entry['type']}:{entry['name']}:{','.join(entry['actions'])}" for entry in access
        ),
        "expires_in": issued["expires_in"],
        "issued_at": issued["issued_at"],
    }
    if refresh_token:
        answer["refresh_token"] = refresh_token
    return JsonResponse(answer)


def _schedule_apply() -> None:
    try:
        apply_registry_events.delay()
    except Exception:
        # Recorded events stay pending: the next delivery or registry_reconcile applies them.
        log.exception("could not apply registry events now")


@csrf_exempt
@require_POST
def events(request: HttpRequest) -> JsonResponse:
    expected = f"Bearer {settings.REGISTRY_EVENTS_SECRET}"
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return JsonResponse({"detail": "Wrong or missing event secret."}, status=401)
    try:
        rows = parse_envelope(json.loads(request.body))
    except (ValueError, EnvelopeError) as error:
        return JsonResponse({"detail": f"Malformed event envelope: {error}"}, status=400)
    record(rows)
    transaction.on_commit(_schedule_apply)
    return JsonResponse({"recorded": len(rows)})
