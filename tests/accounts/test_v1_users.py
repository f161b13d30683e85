"""The legacy v1 user API: sign up, check a login, change one's email or password."""

import base64
import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Namespace, User
from accounts.namespaces import NAMESPACE_RULE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "tangerine-submarine-42"
SIGNUP = {"username": "dave", "email": "dave@example.com", "password": NEW_PASSWORD}


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def api(login: str | None = None, password: str | None = None) -> APIClient:
    client = APIClient()
    if login is not None:
        client.credentials(HTTP_AUTHORIZATION=basic(login, password))
    return client


def sign_up(body: dict, path: str = "/v1/users"):
    return api().post(path, body, format="json")


def login_check(login: str, password: str, path: str = "/v1/users"):
    return api(login, password).get(path)


def confirm_link_key(message) -> str:
    match = re.search(r"/accounts/confirm-email/([^/\s]+)/", message.body)
    assert match, message.body
    return match.group(1)


def assert_nothing_created(username: str, email: str, mailoutbox) -> None:
    assert not User.objects.filter(username=username).exists()
    assert not Namespace.objects.filter(name=username).exists()
    assert not EmailAddress.objects.filter(email=email).exists()
    assert mailoutbox == []


# Sign up: POST /v1/users


@pytest.mark.parametrize("path", ["/v1/users", "/v1/users/"])
def test_sign_up_creates_an_unverified_account_and_mails_a_link(path, mailoutbox):
    response = sign_up(SIGNUP, path)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert response.json() == "User created"
    user = User.objects.get(username="dave")
    assert user.check_password(NEW_PASSWORD)
    assert Namespace.objects.get(name="dave").kind == Namespace.Kind.USER
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == ("dave@example.com", True, False)
    [message] = mailoutbox
    assert message.to == ["dave@example.com"]
    assert "Confirm Your Email" in message.subject
    assert confirm_link_key(message)


def test_signed_up_account_signs_in_once_the_email_is_confirmed(mailoutbox):
    sign_up(SIGNUP)
    before = login_check("dave", NEW_PASSWORD)
    assert before.status_code == 401
    assert "verify your email" in before.json()["detail"]
    key = confirm_link_key(mailoutbox[0])
    Client().post(f"/accounts/confirm-email/{key}/")
    assert login_check("dave", NEW_PASSWORD).json() == "OK"


def test_sign_up_ignores_the_extra_keys_old_docker_clients_send():
    response = sign_up({**SIGNUP, "auth": "", "serveraddress": "https://index.docker.io/v1/"})
    assert response.status_code == 201


def test_sign_up_stores_the_username_in_lowercase():
    assert sign_up({**SIGNUP, "username": "Dave"}).status_code == 201
    assert User.objects.filter(username="dave").exists()


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("dave!", NAMESPACE_RULE),
        ("-dave", NAMESPACE_RULE),
        ("admin", "reserved"),
        ("d", NAMESPACE_RULE),
        ("d" * 31, "at most 30 characters"),
    ],
)
def test_sign_up_refuses_a_bad_username_saying_what_is_allowed(username, expected, mailoutbox):
    response = sign_up({**SIGNUP, "username": username})
    assert response.status_code == 400
    body = response.json()
    assert expected in body["detail"]
    assert body["detail"] == body["message"]
    assert expected in body["errors"]["username"][0]
    assert_nothing_created(username.lower(), SIGNUP["email"], mailoutbox)


def test_sign_up_refuses_a_username_taken_by_a_user(alice, mailoutbox):
    response = sign_up({**SIGNUP, "username": "alice"})
    assert response.status_code == 400
    assert "'alice' is already taken" in response.json()["detail"]
    assert User.objects.filter(username="alice").count() == 1
    assert mailoutbox == []


def test_sign_up_refuses_a_username_taken_by_an_organization(mailoutbox):
    Namespace.objects.create(name="acme", kind=Namespace.Kind.ORG)
    response = sign_up({**SIGNUP, "username": "acme"})
    assert response.status_code == 400
    assert "taken by a user or an organization" in response.json()["detail"]
    assert not User.objects.filter(username="acme").exists()
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("short", "too short"),
        ("password123", "too common"),
        ("84736251907", "entirely numeric"),
        ("dave@example.com", "too similar"),
    ],
)
def test_sign_up_applies_the_password_validators(password, expected, mailoutbox):
    response = sign_up({**SIGNUP, "password": password})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("password: ")
    assert expected in " ".join(response.json()["errors"]["password"])
    assert_nothing_created("dave", SIGNUP["email"], mailoutbox)


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_sign_up_names_a_missing_field(missing, mailoutbox):
    body = {key: value for key, value in SIGNUP.items() if key != missing}
    response = sign_up(body)
    assert response.status_code == 400
    assert response.json()["detail"] == f"{missing}: This field is required."
    assert_nothing_created("dave", SIGNUP["email"], mailoutbox)


def test_sign_up_refuses_an_invalid_email(mailoutbox):
    response = sign_up({**SIGNUP, "email": "dave-at-example"})
    assert response.status_code == 400
    assert response.json()["detail"] == "email: Enter a valid email address."
    assert_nothing_created("dave", "dave-at-example", mailoutbox)


def test_sign_up_refuses_what_is_not_json():
    response = api().post("/v1/users", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    form = api().post("/v1/users", SIGNUP)
    assert form.status_code == 415
    assert not User.objects.filter(username="dave").exists()


def test_sign_up_with_a_used_email_tells_its_owner_and_not_the_caller(alice, mailoutbox):
    # allauth's enumeration prevention, as on the web sign-up page.
    response = sign_up({**SIGNUP, "email": "ALICE@example.com"})
    assert response.status_code == 201
    assert response.json() == "User created"
    assert not User.objects.filter(username="dave").exists()
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert "Account Already Exists" in message.subject


def test_sign_up_with_a_used_email_is_refused_without_enumeration_prevention(
    alice, settings, mailoutbox
):
    settings.ACCOUNT_PREVENT_ENUMERATION = False
    response = sign_up({**SIGNUP, "email": "alice@example.com"})
    assert response.status_code == 400
    assert "already registered with this email" in response.json()["detail"]
    assert not User.objects.filter(username="dave").exists()
    assert mailoutbox == []


def test_sign_up_leaves_nothing_behind_when_the_mail_cannot_be_sent(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: nothing listens
    client = APIClient(raise_request_exception=False)
    response = client.post("/v1/users", SIGNUP, format="json")
    assert response.status_code == 500
    assert not User.objects.filter(username="dave").exists()
    assert not Namespace.objects.filter(name="dave").exists()
    assert not EmailAddress.objects.filter(email="dave@example.com").exists()


def test_sign_up_is_refused_when_sign_up_is_closed(settings, mailoutbox):
    settings.ACCOUNT_SIGNUP_ENABLED = False
    response = sign_up(SIGNUP)
    assert response.status_code == 403
    assert "closed" in response.json()["detail"]
    assert_nothing_created("dave", SIGNUP["email"], mailoutbox)


def test_sign_up_is_rate_limited(settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/m/ip"}
    for n in range(2):
        body = {"username": f"dave{n}", "email": f"dave{n}@example.com", "password": NEW_PASSWORD}
        assert sign_up(body).status_code == 201
    response = sign_up(SIGNUP)
    assert response.status_code == 429
    assert "Too many requests" in response.json()["detail"]
    assert not User.objects.filter(username="dave").exists()


# Check a login: GET /v1/users


@pytest.mark.parametrize("path", ["/v1/users", "/v1/users/"])
@pytest.mark.parametrize("login", ["alice", "alice@example.com"])
def test_right_credentials_answer_ok(alice, password, login, path):
    response = login_check(login, password, path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b'"OK"'


def assert_asks_for_basic_auth(response, detail: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Basic realm="{settings.HUB_NAME}"'
    assert response.json()["detail"] == detail


def test_missing_credentials_are_asked_for(alice):
    response = api().get("/v1/users")
    assert response["WWW-Authenticate"] == 'Basic realm="Dockyard"'
    assert_asks_for_basic_auth(response, "Authentication credentials were not provided.")


@pytest.mark.parametrize(("login", "secret"), [("alice", "wrong-password"), ("charlie", "x")])
def test_wrong_credentials_are_refused(alice, login, secret):
    assert_asks_for_basic_auth(login_check(login, secret), "Incorrect username or password.")


def test_unverified_email_must_be_verified_first(password):
    UserFactory(username="newbie", verified=False)
    assert_asks_for_basic_auth(
        login_check("newbie", password),
        "Please verify your email first: follow the link in the confirmation email we sent you.",
    )


def test_inactive_accounts_are_refused(alice, password):
    alice.is_active = False
    alice.save()
    assert_asks_for_basic_auth(
        login_check("alice", password), "This account is currently inactive."
    )


def test_two_factor_accounts_must_use_a_token_not_their_password(alice, password):
    TOTP.activate(alice, generate_totp_secret())
    response = login_check("alice", password)
    assert response.status_code == 401
    assert "personal access token" in response.json()["detail"]


def test_failed_attempts_are_rate_limited_with_the_web_sign_in(alice, password):
    web = Client()
    for _ in range(3):
        web.post("/accounts/login/", {"login": "alice", "password": "wrong-password"})
    for _ in range(2):
        assert login_check("alice", "wrong-password").status_code == 401
    response = login_check("alice", password)
    assert response.status_code == 429
    assert response.json()["detail"] == "Too many failed login attempts. Try again later."
    page = web.post("/accounts/login/", {"login": "alice", "password": password})
    assert "Too many failed login attempts" in page.content.decode()


def test_successful_checks_do_not_use_up_the_failed_attempts(alice, password):
    for _ in range(12):
        assert login_check("alice", password).status_code == 200


# Change one's email or password: PUT /v1/users/<username>/


def change(login: str, password: str, body, username: str = "alice"):
    return api(login, password).put(f"/v1/users/{username}/", body, format="json")


def test_change_password(alice, alice_client, password):
    assert alice_client.get("/settings/profile/").status_code == 200
    response = change("alice", password, {"password": NEW_PASSWORD})
    assert response.status_code == 200
    assert response.json() == {
        "username": "alice",
        "full_name": "Alice Liddell",
        "location": "",
        "company": "",
        "profile_url": "",
        "date_joined": response.json()["date_joined"],
        "type": "User",
    }
    assert login_check("alice", NEW_PASSWORD).json() == "OK"
    assert login_check("alice", password).status_code == 401
    # Django ends the sessions signed in with the old password.
    assert alice_client.get("/settings/profile/").status_code == 302


def test_change_email_takes_effect_once_confirmed(alice, password, mailoutbox):
    response = change("alice", password, {"email": "Alice@Wonderland.example"})
    assert response.status_code == 200
    assert "email" not in response.json()
    new = EmailAddress.objects.get(user=alice, email="alice@wonderland.example")
    assert (new.verified, new.primary) == (False, False)
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    [message] = mailoutbox
    assert message.to == ["alice@wonderland.example"]
    Client().post(f"/accounts/confirm-email/{confirm_link_key(message)}/")
    alice.refresh_from_db()
    assert alice.email == "alice@wonderland.example"
    addresses = EmailAddress.objects.filter(user=alice).values_list("email", "primary", "verified")
    assert list(addresses) == [("alice@wonderland.example", True, True)]


def test_change_email_and_password_together(alice, password, mailoutbox):
    response = change("alice", password, {"email": "a@wonderland.example", "password": "x" * 3})
    assert response.status_code == 400
    assert "too short" in response.json()["detail"]
    assert not EmailAddress.objects.filter(email="a@wonderland.example").exists()
    assert mailoutbox == []
    both = {"email": "a@wonderland.example", "password": NEW_PASSWORD}
    assert change("alice", password, both).status_code == 200
    assert EmailAddress.objects.filter(user=alice, email="a@wonderland.example").exists()
    assert login_check("alice", NEW_PASSWORD).status_code == 200


def test_nobody_can_change_another_user(alice, bob, password, mailoutbox):
    response = change("bob", password, {"password": NEW_PASSWORD, "email": "bob@evil.example"})
    assert response.status_code == 403
    assert response.json()["detail"] == "You can only change your own account."
    alice.refresh_from_db()
    assert alice.check_password(password)
    assert not EmailAddress.objects.filter(email="bob@evil.example").exists()
    assert mailoutbox == []


def test_changing_an_unknown_user_is_not_found(alice, password):
    response = change("alice", password, {"password": NEW_PASSWORD}, username="charlie")
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no user named 'charlie'."


def test_changes_need_credentials(alice, password):
    response = api().put("/v1/users/alice/", {"password": NEW_PASSWORD}, format="json")
    assert_asks_for_basic_auth(response, "Authentication credentials were not provided.")
    wrong = change("alice", "wrong-password", {"password": NEW_PASSWORD})
    assert_asks_for_basic_auth(wrong, "Incorrect username or password.")
    alice.refresh_from_db()
    assert alice.check_password(password)


@pytest.mark.parametrize("body", [{"username": "queen"}, {"password": NEW_PASSWORD, "is_staff": 1}])
def test_unknown_fields_are_refused(alice, password, body):
    response = change("alice", password, body)
    assert response.status_code == 400
    unknown = next(key for key in body if key not in {"email", "password"})
    assert response.json()["detail"] == (
        f'{unknown}: Unknown field: only "email" and "password" can be changed.'
    )
    alice.refresh_from_db()
    assert alice.check_password(password)
    assert not alice.is_staff


def test_an_empty_change_is_refused(alice, password):
    response = change("alice", password, {})
    assert response.status_code == 400
    assert response.json()["detail"] == 'Send a new "email", a new "password", or both.'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"email": "nope"}, "email: Enter a valid email address."),
        ({"email": "ALICE@example.com"}, "email: This email address is already associated"),
        ({"password": "alice@example.com"}, "password: The password is too similar"),
        ({"password": "123456789"}, "password: This password is too common."),
    ],
)
def test_bad_changes_say_why(alice, password, body, expected, mailoutbox):
    response = change("alice", password, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(expected)
    alice.refresh_from_db()
    assert alice.check_password(password)
    assert EmailAddress.objects.filter(user=alice).count() == 1
    assert mailoutbox == []


def test_password_changes_are_rate_limited(alice, password, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "change_password": "1/m/user"}
    assert change("alice", password, {"password": NEW_PASSWORD}).status_code == 200
    again = change("alice", NEW_PASSWORD, {"password": "another-fine-password"})
    assert again.status_code == 429
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
