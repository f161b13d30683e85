"""Hub API authentication and access tokens, as Docker Hub's clients call them."""

import time

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from accounts.models import AccessToken
from tests.accounts.test_login import current_code

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: dict, token: str = ""):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(path, body, content_type="application/json", **headers)


def login(client: Client, username: str, password: str) -> str:
    response = post(client, "/v2/users/login", {"username": username, "password": password})
    assert response.status_code == 200, response.json()
    return response.json()["token"]


def test_login_gives_a_bearer_token_for_the_hub_api(alice, client, password):
    token = login(client, "alice", password)
    listed = client.get("/v2/access-tokens", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert listed.status_code == 200
    assert listed.json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "active_count": 0,
        "results": [],
    }
    # Docker Hub's older header spelling works too.
    assert client.get("/v2/access-tokens", HTTP_AUTHORIZATION=f"JWT {token}").status_code == 200


def test_wrong_credentials(alice, client):
    response = post(client, "/v2/users/login", {"username": "alice", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Incorrect username or password."
    missing = post(client, "/v2/users/login", {"username": "alice"})
    assert missing.status_code == 400
    assert "password" in missing.json()["detail"]
    assert client.get("/v2/access-tokens", HTTP_AUTHORIZATION="Bearer junk").status_code == 401
    assert client.get("/v2/access-tokens").status_code == 401


def test_two_factor_login(alice, client, password):
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    first = post(client, "/v2/users/login", {"username": "alice", "password": password})
    assert first.status_code == 401
    body = first.json()
    assert body["detail"] == "Require secondary authentication on MFA enabled account"
    challenge = body["login_2fa_token"]
    wrong = post(client, "/v2/users/2fa-login", {"login_2fa_token": challenge, "code": "000000"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "Incorrect code."
    forged = post(client, "/v2/users/2fa-login", {"login_2fa_token": "x" + challenge, "code": "1"})
    assert forged.status_code == 401
    done = post(
        client, "/v2/users/2fa-login", {"login_2fa_token": challenge, "code": current_code(secret)}
    )
    assert done.status_code == 200
    token = done.json()["token"]
    assert client.get("/v2/access-tokens", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    recovery = RecoveryCodes.activate(alice).get_unused_codes()[0]
    challenge = post(client, "/v2/users/login", {"username": "alice", "password": password}).json()[
        "login_2fa_token"
    ]
    by_recovery = post(
        client, "/v2/users/2fa-login", {"login_2fa_token": challenge, "code": recovery}
    )
    assert by_recovery.status_code == 200


def test_auth_token_exchanges_an_access_token(alice, client):
    pat, secret = AccessToken.issue(alice, "ci", "repo:read")
    response = post(client, "/v2/auth/token", {"identifier": "alice", "secret": secret})
    assert response.status_code == 200
    jwt = response.json()["access_token"]
    # A token that came from an access token cannot manage access tokens.
    denied = client.get("/v2/access-tokens", HTTP_AUTHORIZATION=f"Bearer {jwt}")
    assert denied.status_code == 403
    assert "sign in with your password" in denied.json()["detail"]
    pat.is_active = False
    pat.save()
    revoked = client.get("/v2/access-tokens", HTTP_AUTHORIZATION=f"Bearer {jwt}")
    assert revoked.status_code == 401
    bad = post(client, "/v2/auth/token", {"identifier": "alice", "secret": secret})
    assert bad.status_code == 401


def test_password_change_ends_hub_tokens(alice, client, password):
    token = login(client, "alice", password)
    alice.set_password("another-long-password")
    alice.save()
    response = client.get("/v2/access-tokens", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_access_token_lifecycle(alice, client, password):
    token = login(client, "alice", password)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    created = post(
        client, "/v2/access-tokens", {"token_label": "laptop", "scopes": ["repo:write"]}, token
    )
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("dyd_pat_")
    assert body["token_label"] == "laptop"
    assert body["scopes"] == ["repo:write"]
    assert body["is_active"] is True
    uuid = body["uuid"]
    listed = client.get("/v2/access-tokens", **auth).json()
    assert listed["count"] == 1 and listed["active_count"] == 1
    assert listed["results"][0]["token"] == ""
    detail = client.get(f"/v2/access-tokens/{uuid}", **auth).json()
    assert detail["token"] == ""
    patched = client.patch(
        f"/v2/access-tokens/{uuid}",
        {"is_active": False, "token_label": "old laptop"},
        content_type="application/json",
        **auth,
    ).json()
    assert patched["is_active"] is False and patched["token_label"] == "old laptop"
    assert client.delete(f"/v2/access-tokens/{uuid}", **auth).status_code == 204
    assert client.get(f"/v2/access-tokens/{uuid}", **auth).status_code == 404


def test_access_token_input_is_validated(alice, client, password):
    token = login(client, "alice", password)
    for body, field in [
        ({"token_label": "x", "scopes": ["repo:everything"]}, "scopes"),
        ({"token_label": "x", "scopes": []}, "scopes"),
        ({"token_label": "x", "scopes": ["repo:read", "repo:write"]}, "scopes"),
        ({"scopes": ["repo:read"]}, "token_label"),
        ({"token_label": "x", "scopes": ["repo:read"], "expires_at": "soon"}, "expires_at"),
    ]:
        response = post(client, "/v2/access-tokens", body, token)
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith(field), response.json()
    assert not AccessToken.objects.exists()


def test_nobody_sees_another_users_tokens(alice, bob, client, password):
    pat, _ = AccessToken.issue(alice, "ci", "repo:read")
    token = login(client, "bob", password)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(f"/v2/access-tokens/{pat.uuid}", **auth).status_code == 404
    assert client.delete(f"/v2/access-tokens/{pat.uuid}", **auth).status_code == 404
    assert client.get("/v2/access-tokens", **auth).json()["count"] == 0
    assert AccessToken.objects.filter(pk=pat.pk).exists()


def test_hub_tokens_expire(alice, client, password, settings):
    settings.HUB_API_TOKEN_LIFETIME = -60
    token = login(client, "alice", password)
    time.sleep(0.01)
    response = client.get("/v2/access-tokens", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
