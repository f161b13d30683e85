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

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from .models import AccessToken, User

VERIFIED_LOGIN_TTL = 600


class CredentialsError(Exception):
    """Wrong or unusable credentials; the message is safe to show to the client."""


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


def check_credentials(login: str, secret: str) -> Credentials:
    """The user behind a username (or email) and a password or access token."""
    user = _find_user(login)
    if user is None or not secret:
        raise CredentialsError("Incorrect username or password.")
    if secret.startswith(AccessToken.PREFIX):
        token = AccessToken.find(secret)
        if token is None or token.user_id != user.pk:
            raise CredentialsError("Incorrect username or access token, or the token was revoked.")
        token.touch()
        return Credentials(user=token.user, access_token=token)
    key = _cache_key(user, secret)
    if cache.get(key) != user.password:
        if not user.check_password(secret):
            raise CredentialsError("Incorrect username or password.")
        cache.set(key, user.password, VERIFIED_LOGIN_TTL)
    if not user.is_active:
        raise CredentialsError("This account is disabled.")
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        raise CredentialsError(
            "Please verify your email first: follow the link in the email we sent you."
        )
    return Credentials(user=user)
