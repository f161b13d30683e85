"""Hub API bearer tokens: the JWTs that `POST /v2/users/login` and `POST /v2/auth/token` give,
and the short-lived challenge of the two-factor login.

A Hub token names its user, the access token it came from (if any) and a stamp of the user's
password, so revoking that access token or changing the password ends it at once.
"""

import time
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.core import signing

from .models import AccessToken, User, hash_secret

ALGORITHM = "HS256"
TWO_FACTOR_SALT = "accounts.hub_tokens.2fa"
TWO_FACTOR_MAX_AGE = 300


class HubTokenError(Exception):
    pass


@dataclass(frozen=True)
class HubIdentity:
    user: User
    access_token: AccessToken | None = None

    @property
    def scope(self) -> str | None:
        return self.access_token.scope if self.access_token else None


def _key() -> str:
    return hash_secret(f"hub-api-token:{settings.SECRET_KEY}")


def _password_stamp(user: User) -> str:
    return hash_secret(user.password)[:16]


def issue(user: User, access_token: AccessToken | None = None) -> str:
    now = int(time.time())
    claims = {
        "iss": settings.HUB_URL,
        "sub": str(user.pk),
        "username": user.username,
        "iat": now,
        "exp": now + settings.HUB_API_TOKEN_LIFETIME,
        "pwd": _password_stamp(user),
    }
    if access_token is not None:
        claims["pat"] = str(access_token.uuid)
        claims["scope"] = access_token.scope
    return jwt.encode(claims, _key(), algorithm=ALGORITHM)


def verify(token: str) -> HubIdentity:
    try:
        claims = jwt.decode(
            token, _key(), algorithms=[ALGORITHM], issuer=settings.HUB_URL, leeway=10
        )
    except jwt.ExpiredSignatureError:
        raise HubTokenError("The token has expired; log in again.") from None
    except jwt.InvalidTokenError:
        raise HubTokenError("The token is not valid.") from None
    user = User.objects.filter(pk=claims.get("sub"), is_active=True).first()
    if user is None or claims.get("pwd") != _password_stamp(user):
        raise HubTokenError("The token was revoked; log in again.")
    access_token = None
    if "pat" in claims:
        access_token = AccessToken.objects.usable().filter(uuid=claims["pat"], user=user).first()
        if access_token is None:
            raise HubTokenError("The access token behind this token was revoked.")
    return HubIdentity(user=user, access_token=access_token)


def two_factor_challenge(user: User) -> str:
    return signing.dumps({"user": user.pk, "pwd": _password_stamp(user)}, salt=TWO_FACTOR_SALT)


def user_of_challenge(challenge: str) -> User:
    try:
        data = signing.loads(challenge, salt=TWO_FACTOR_SALT, max_age=TWO_FACTOR_MAX_AGE)
    except signing.SignatureExpired:
        raise HubTokenError("The two-factor login has expired; log in again.") from None
    except signing.BadSignature:
        raise HubTokenError("The login_2fa_token is not valid.") from None
    user = User.objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None or data.get("pwd") != _password_stamp(user):
        raise HubTokenError("The login_2fa_token is not valid.")
    return user
