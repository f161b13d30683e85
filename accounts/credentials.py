"""Checking a username and a secret (password or personal access token) for the registry
token service, the v1 API and the Hub API.

Password hashing is slow by design; registry clients send the password with every token
request. A successful check is remembered in the cache under a salted hash of the credentials
together with the user's current password hash, so a later request costs one query and no
hashing, and a password change ends it.
"""

import hashlib
import hmac
from dataclasses import dataclass

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.core.internal.ratelimit import consume as consume_rate_limit
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest

from .models import AccessToken, User, hash_secret

VERIFIED_LOGIN_TTL = 600


class CredentialsError(Exception):
    """Wrong or unusable credentials; the message is safe to show to the client."""


class TooManyAttempts(CredentialsError):
    """Too many failed attempts for this account or address: answer 429."""


class SecondFactorRequired(CredentialsError):
    def __init__(self, user: User):
        super().__init__("A two-factor authentication code is required.")
        self.user = user


@dataclass(frozen=True)
class Credentials:
    user: User
    access_token: AccessToken | None = None

    @property
    def scope(self) -> str | None:
        return self.access_token.scope if self.access_token else None


def _cache_key(user: User, secret: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{user.pk}:{secret}".encode(), hashlib.sha256
    ).hexdigest()
    return f"verified-login:{digest}"


def _find_user(login: str) -> User | None:
    login = login.strip()
    if not login:
        return None
    query = Q(email__iexact=login) if "@" in login else Q(username=login.lower())
    return User.objects.filter(query).first()


def _check_access_token(login: str, secret: str) -> Credentials:
    # The token comes with its user: when the login is that username, one query is enough.
    # Otherwise (an email address, a wrong name) look the login up as below, for the message.
    token = AccessToken.find(secret)
    username = login.strip().lower()
    if token is None or "@" in username or token.user.username != username:
        user = _find_user(login)
        if user is None:
            raise CredentialsError("Incorrect username or password.")
        if token is None or token.user_id != user.pk:
            raise CredentialsError("Incorrect username or access token, or the token was revoked.")
    token.touch()
    return Credentials(user=token.user, access_token=token)


def _consume_failed_login_budget(request: HttpRequest, login: str):
    """allauth's "login_failed" limit, shared with the web sign-in form; None when spent.

    allauth's own check skips GET requests, but a registry login is a GET /token.
    """
    adapter = get_adapter(request)
    return consume_rate_limit(
        request,
        app="allauth.account",
        action="login_failed",
        key=adapter._get_login_attempts_cache_key(request, username=login),
        limit_get=True,
    )


def check_credentials(
    request: HttpRequest, login: str, secret: str, *, defer_second_factor: bool = False
) -> Credentials:
    """The user behind a username (or email) and a password or access token.

    A password of an account with two-factor authentication is refused (use an access token),
    unless `defer_second_factor`: then SecondFactorRequired says a code must follow.
    """
    if secret.startswith(AccessToken.PREFIX):
        return _check_access_token(login, secret)
    user = _find_user(login)
    key = _cache_key(user, secret) if user else ""
    if user is None or not secret or cache.get(key) != hash_secret(user.password):
        usage = _consume_failed_login_budget(request, login)
        if not usage:
            raise TooManyAttempts(get_adapter(request).error_messages["too_many_login_attempts"])
        if user is None or not secret or not user.check_password(secret):
            raise CredentialsError("Incorrect username or password.")
        usage.rollback()
        cache.set(key, hash_secret(user.password), VERIFIED_LOGIN_TTL)
    if not user.is_active:
        raise CredentialsError("This account is currently inactive.")
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        raise CredentialsError(
            "Please verify your email first: follow the link in the confirmation email we sent you."
        )
    if is_mfa_enabled(user):
        if defer_second_factor:
            raise SecondFactorRequired(user)
        # As on Docker Hub: a password alone must not get around the second factor.
        raise CredentialsError(
            "Two-factor authentication is enabled for this account: "
            "use a personal access token instead of your password."
        )
    return Credentials(user=user)
