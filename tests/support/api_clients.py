"""Hub API clients as Docker Hub's tools sign in: anonymous, HTTP Basic, or a bearer JWT."""

import base64

from rest_framework.test import APIClient

from accounts.models import AccessToken, TokenScope
from tests.factories import PASSWORD


def anonymous() -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


def basic(login: str, secret: str = PASSWORD) -> APIClient:
    client = anonymous()
    encoded = base64.b64encode(f"{login}:{secret}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")
    return client


def bearer(username: str, secret: str = PASSWORD) -> APIClient:
    """Signed in as Docker Hub's clients do: a JWT from POST /v2/users/login."""
    client = anonymous()
    login = client.post("/v2/users/login", {"username": username, "password": secret})
    assert login.status_code == 200, login.json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['token']}")
    return client


def token_client(user, scope: TokenScope) -> APIClient:
    _, secret = AccessToken.issue(user, f"{scope} token", scope)
    return bearer(user.username, secret)
