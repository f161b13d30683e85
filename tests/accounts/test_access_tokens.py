from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.credentials import CredentialsError, check_credentials
from accounts.models import AccessToken

pytestmark = pytest.mark.django_db


def create_token(client, **data):
    return client.post(
        "/settings/security/",
        {"label": "CI", "scope": "repo:write", "expires_in_days": "", **data},
        follow=True,
    )


def test_a_new_token_is_shown_once_and_stored_hashed(alice, alice_client, rf):
    page = create_token(alice_client).content.decode()
    token = AccessToken.objects.get(user=alice)
    secret = page.split('class="token-secret">')[1].split("<")[0]
    assert secret.startswith("dyd_pat_")
    assert "Copy your new access token now" in page
    assert token.token_hash != secret and secret not in token.token_hash
    assert token.scope == "repo:write"
    assert token.expires_at is None
    again = alice_client.get("/settings/security/").content.decode()
    assert secret not in again
    assert "CI" in again and "Read &amp; Write" in again
    assert check_credentials(rf.get("/"), "alice", secret).access_token == token


def test_expiry_and_last_use(alice, alice_client):
    create_token(alice_client, expires_in_days="30")
    token = AccessToken.objects.get(user=alice)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert "Never" in alice_client.get("/settings/security/").content.decode()


def test_bad_input_is_refused(alice, alice_client):
    page = create_token(alice_client, label="   ", scope="repo:everything").content.decode()
    assert "Give the token a description." in page
    assert "Select a valid choice" in page
    assert not AccessToken.objects.exists()


def test_deactivate_activate_and_delete(alice, alice_client, rf):
    token, secret = AccessToken.issue(alice, "laptop", "repo:read")
    url = f"/settings/security/tokens/{token.uuid}"
    page = alice_client.post(f"{url}/deactivate/", follow=True).content.decode()
    assert "is inactive" in page
    with pytest.raises(CredentialsError):
        check_credentials(rf.get("/"), "alice", secret)
    alice_client.post(f"{url}/activate/")
    assert check_credentials(rf.get("/"), "alice", secret).user == alice
    page = alice_client.post(f"{url}/delete/", follow=True).content.decode()
    assert "was deleted" in page
    with pytest.raises(CredentialsError):
        check_credentials(rf.get("/"), "alice", secret)


def test_expired_tokens_stop_working(alice, alice_client, rf):
    token, secret = AccessToken.issue(
        alice, "old", "repo:read", expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert "Expired" in alice_client.get("/settings/security/").content.decode()
    with pytest.raises(CredentialsError):
        check_credentials(rf.get("/"), "alice", secret)


def test_nobody_else_can_touch_a_token(alice, bob_client, charlie_client):
    token, secret = AccessToken.issue(alice, "laptop", "repo:read")
    for client in (bob_client, charlie_client):
        assert client.post(f"/settings/security/tokens/{token.uuid}/delete/").status_code == 404
        assert "laptop" not in client.get("/settings/security/").content.decode()
    assert AccessToken.objects.filter(pk=token.pk, is_active=True).exists()


def test_a_token_only_works_with_its_own_username(alice, bob, rf):
    _, secret = AccessToken.issue(alice, "laptop", "repo:read")
    with pytest.raises(CredentialsError):
        check_credentials(rf.get("/"), "bob", secret)
