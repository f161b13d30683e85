"""Signing in: username or email, two-factor with TOTP and recovery codes, rate limits."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(client: Client, login: str, password: str):
    return client.post("/accounts/login/", {"login": login, "password": password}, follow=True)


@pytest.mark.parametrize("login", ["alice", "alice@example.com", "ALICE@example.com"])
def test_sign_in_by_username_or_email(alice, client, password, login):
    response = sign_in(client, login, password)
    assert response.context["user"] == alice
    assert "Push your first image" in response.content.decode()


def test_wrong_password_is_refused_with_a_clear_message(alice, client):
    page = sign_in(client, "alice", "wrong-password").content.decode()
    assert "username and/or password you specified are not correct" in page
    assert not client.session.get("_auth_user_id")


def test_unverified_email_cannot_sign_in(client, password):
    UserFactory(username="newbie", verified=False)
    response = sign_in(client, "newbie", password)
    page = response.content.decode()
    assert "Check your inbox" in page
    assert "Resend verification email" in page
    assert not client.session.get("_auth_user_id")


def test_failed_sign_ins_are_rate_limited(alice, client, password):
    for _ in range(5):
        sign_in(client, "alice", "wrong-password")
    page = sign_in(client, "alice", password).content.decode()
    assert "Too many failed login attempts" in page
    assert not client.session.get("_auth_user_id")


def test_activating_totp_gives_recovery_codes(alice, client, password):
    sign_in(client, "alice", password)
    asked = client.get("/accounts/2fa/totp/activate/", follow=True)
    assert "Confirm Access" in asked.content.decode()
    client.post(
        "/accounts/reauthenticate/?next=/accounts/2fa/totp/activate/", {"password": password}
    )
    client.get("/accounts/2fa/totp/activate/")
    secret = client.session["mfa.totp.secret"]
    bad = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert "Incorrect code" in bad.content.decode()
    response = client.post(
        "/accounts/2fa/totp/activate/", {"code": current_code(secret)}, follow=True
    )
    assert response.status_code == 200
    types = set(Authenticator.objects.filter(user=alice).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    codes_page = client.get("/accounts/2fa/recovery-codes/").content.decode()
    recovery = RecoveryCodes(Authenticator.objects.get(user=alice, type="recovery_codes"))
    assert recovery.get_unused_codes()[0] in codes_page


def test_sign_in_with_totp_asks_for_the_code(alice, client, password):
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    response = sign_in(client, "alice", password)
    assert response.redirect_chain[-1][0] == "/accounts/2fa/authenticate/"
    assert not client.session.get("_auth_user_id")
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert "Incorrect code" in wrong.content.decode()
    done = client.post("/accounts/2fa/authenticate/", {"code": current_code(secret)}, follow=True)
    assert done.context["user"] == alice


def test_a_recovery_code_works_once(alice, client, password):
    TOTP.activate(alice, generate_totp_secret())
    code = RecoveryCodes.activate(alice).get_unused_codes()[0]
    sign_in(client, "alice", password)
    done = client.post("/accounts/2fa/authenticate/", {"code": code}, follow=True)
    assert done.context["user"] == alice
    other = Client()
    sign_in(other, "alice", password)
    again = other.post("/accounts/2fa/authenticate/", {"code": code})
    assert "Incorrect code" in again.content.decode()
    assert not other.session.get("_auth_user_id")
