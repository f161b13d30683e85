"""The registry token service (DESIGN §4): GET /token and the OAuth2 POST /token, as docker,
podman, skopeo and buildah call them. Tokens are checked the way the registry checks them:
ES256 signature against the certificate in the registry's rootcertbundle, libtrust `kid`."""

import base64
import hashlib
import re
import time
from datetime import timedelta

import jwt
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client
from django.utils import timezone

from accounts.models import AccessToken, Namespace
from registry.keys import cert_path, key_id
from registry.robots import ROBOT_LOGIN, issue_robot_secret
from registry.scopes import Scope, parse_scopes
from repos.models import Repository
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase"
LIBTRUST_KID = re.compile(r"^[A-Z2-7]{4}(?::[A-Z2-7]{4}){11}$")


def basic(login: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()


def get_token(*scopes: str, auth: tuple[str, str] | None = None, **params: str):
    data = {"service": settings.REGISTRY_SERVICE, "scope": list(scopes), **params}
    headers = {"HTTP_AUTHORIZATION": basic(*auth)} if auth else {}
    return Client().get("/token", data, **headers)


def post_token(**form: str):
    data = {"service": settings.REGISTRY_SERVICE, "client_id": "docker", **form}
    return Client().post("/token", data)


def decode(token: str) -> dict:
    """Verify a token as the registry does and return its claims."""
    certificate = x509.load_pem_x509_certificate(cert_path().read_bytes())
    public_key = certificate.public_key()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == key_id(public_key)
    assert LIBTRUST_KID.match(header["kid"]), header["kid"]
    # libtrust: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, 4-char groups.
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    libtrust = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    assert header["kid"].replace(":", "") == libtrust
    return jwt.decode(
        token,
        public_key,
        algorithms=["ES256"],
        audience=settings.REGISTRY_SERVICE,
        issuer=settings.REGISTRY_TOKEN_ISSUER,
        options={"require": ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]},
    )


def granted(response) -> dict[str, set[str]]:
    """{name: actions} the token in a 200 answer grants, after verifying it."""
    assert response.status_code == 200, response.content
    claims = decode(response.json()["token"])
    return {entry["name"]: set(entry["actions"]) for entry in claims["access"]}


def repo(owner: str, name: str, *, private: bool) -> Repository:
    namespace = Namespace.objects.get(name=owner)
    return Repository.objects.create(namespace=namespace, name=name, is_private=private)


@pytest.fixture
def repos(alice, bob, charlie):
    repo("alice", "app", private=False)
    repo("alice", "secret", private=True)
    repo("bob", "tool", private=False)


def change_password_on_the_web(user, old: str, new: str) -> None:
    client = Client()
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": old, "password1": new, "password2": new},
    )
    assert response.status_code == 302, response.content.decode()


# The token itself


def test_token_is_signed_for_the_registry_with_the_documented_claims(alice, repos):
    before = int(time.time())
    response = get_token("repository:alice/app:pull", auth=("alice", PASSWORD))
    answer = response.json()
    claims = decode(answer["token"])
    assert answer["access_token"] == answer["token"]
    assert claims["iss"] == settings.REGISTRY_TOKEN_ISSUER
    assert claims["aud"] == settings.REGISTRY_SERVICE  # a plain string, as the registry wants
    assert claims["sub"] == "alice"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["iat"] - 60 < claims["nbf"] < claims["iat"]
    assert claims["exp"] - claims["iat"] == answer["expires_in"] == settings.REGISTRY_TOKEN_LIFETIME
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", answer["issued_at"])
    assert claims["access"] == [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]
    again = decode(get_token("repository:alice/app:pull").json()["token"])
    assert again["jti"] != claims["jti"]


# Anonymous


def test_anonymous_pulls_public_repositories_only(repos):
    response = get_token("repository:alice/app:pull,push", "repository:alice/secret:pull")
    assert granted(response) == {"alice/app": {"pull"}}
    assert decode(response.json()["token"])["sub"] == ""


def test_anonymous_asking_for_a_private_repository_gets_an_empty_token_not_401(repos):
    response = get_token("repository:alice/secret:pull")
    assert response.status_code == 200
    assert granted(response) == {}
    assert "refresh_token" not in get_token(offline_token="true").json()


# Who gets what


def test_owner_gets_pull_and_push(repos):
    response = get_token(
        "repository:alice/secret:pull,push",
        "repository:alice/app:*",
        auth=("alice", PASSWORD),
    )
    assert granted(response) == {
        "alice/secret": {"pull", "push"},
        "alice/app": {"pull", "push", "delete"},
    }


def test_outsider_pulls_public_and_gets_nothing_private(repos):
    response = get_token(
        "repository:alice/app:pull,push",
        "repository:alice/secret:pull,push",
        auth=("charlie", PASSWORD),
    )
    assert granted(response) == {"alice/app": {"pull"}}


def test_push_to_a_new_repository_in_own_namespace_only(repos):
    response = get_token(
        "repository:alice/brand-new:pull,push",
        "repository:bob/brand-new:pull,push",
        "repository:nobody-here/brand-new:pull,push",
        auth=("alice", PASSWORD),
    )
    assert granted(response) == {"alice/brand-new": {"pull", "push"}}
    # Only a push creates: pulling what does not exist grants nothing.
    assert granted(get_token("repository:alice/other:pull", auth=("alice", PASSWORD))) == {}


def test_a_name_too_long_to_keep_is_not_granted(repos):
    # 30 + 1 + 224 = 255, distribution's limit for the whole name; the registry itself would
    # take a longer name after a short namespace, which the portal could not keep.
    longest, too_long = "a" * 224, "a" * 225
    response = get_token(
        f"repository:alice/{longest}:pull,push",
        f"repository:alice/{too_long}:pull,push",
        auth=("alice", PASSWORD),
    )
    assert granted(response) == {f"alice/{longest}": {"pull", "push"}}


def test_a_repository_being_deleted_is_not_granted(repos):
    Repository.objects.filter(name="secret").update(state=Repository.State.DELETING)
    response = get_token("repository:alice/secret:pull", auth=("alice", PASSWORD))
    assert granted(response) == {}


def test_catalog_is_for_staff_only(repos):
    UserFactory(username="admin-user", is_staff=True)
    scope = "registry:catalog:*"
    staff = get_token(scope, auth=("admin-user", PASSWORD))
    assert decode(staff.json()["token"])["access"] == [
        {"type": "registry", "name": "catalog", "actions": ["*"]}
    ]
    assert granted(get_token(scope, auth=("alice", PASSWORD))) == {}
    assert granted(get_token(scope)) == {}


# Scope parsing


def test_repeated_and_space_separated_scopes_are_merged(repos):
    response = get_token(
        "repository:alice/app:pull",
        "repository:alice/app:push repository:alice/secret:pull",
        "repository:alice/secret:push,pull",
        auth=("alice", PASSWORD),
    )
    claims = decode(response.json()["token"])
    assert sorted(entry["name"] for entry in claims["access"]) == ["alice/app", "alice/secret"]
    assert granted(response) == {"alice/app": {"pull", "push"}, "alice/secret": {"pull", "push"}}


def test_a_name_may_contain_host_and_port():
    assert parse_scopes(["repository:127.0.0.1:5000/alice/app:pull"]) == [
        Scope("repository", "127.0.0.1:5000/alice/app", ("pull",))
    ]
    assert parse_scopes(["repository(plugin):alice/app:pull,push"]) == [
        Scope("repository(plugin)", "alice/app", ("pull", "push"))
    ]


def test_host_port_names_are_accepted_and_grant_nothing(repos):
    response = get_token("repository:127.0.0.1:5000/alice/app:pull", "repository:alice/app:pull")
    assert granted(response) == {"alice/app": {"pull"}}


def test_unknown_scope_types_and_actions_are_ignored(repos):
    response = get_token(
        "plugin:some/thing:pull",
        "registry:other:*",
        "repository:alice/app:pull,launch",
        auth=("alice", PASSWORD),
    )
    claims = decode(response.json()["token"])
    assert claims["access"] == [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]


@pytest.mark.parametrize(
    "scope", ["repository:alice/app", "repository", "pull", ":alice/app:pull", "repository::pull"]
)
def test_malformed_scope_is_400_with_a_message(repos, scope):
    response = get_token("repository:alice/app:pull", scope)
    assert response.status_code == 400
    assert "Malformed scope" in response.json()["message"]
    assert "type:name:actions" in response.json()["message"]


def test_another_service_is_refused(repos):
    response = Client().get(
        "/token", {"service": "elsewhere", "scope": "repository:alice/app:pull"}
    )
    assert response.status_code == 400
    assert settings.REGISTRY_SERVICE in response.json()["message"]


# Credentials


@pytest.mark.parametrize("account", ["alice", "ALICE", "alice@example.com"])
def test_account_naming_the_user_is_fine(repos, account):
    response = get_token("repository:alice/secret:pull", auth=("alice", PASSWORD), account=account)
    assert granted(response) == {"alice/secret": {"pull"}}


def test_account_differing_from_the_credentials_is_400(repos):
    response = get_token("repository:alice/app:pull", auth=("alice", PASSWORD), account="bob")
    assert response.status_code == 400
    assert "'bob'" in response.json()["message"]


def test_sign_in_by_email(repos):
    response = get_token("repository:alice/secret:pull", auth=("Alice@Example.com", PASSWORD))
    assert granted(response) == {"alice/secret": {"pull"}}


def assert_401(response, message: str) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Basic realm=")
    body = response.json()
    assert message in body["message"]
    assert body["errors"][0]["message"] == body["message"]
    assert "token" not in body


@pytest.mark.parametrize(
    ("login", "secret"), [("alice", "wrong-password"), ("nobody", PASSWORD), ("alice", "")]
)
def test_wrong_credentials_are_401_with_a_clear_message(repos, login, secret):
    response = get_token("repository:alice/app:pull", auth=(login, secret))
    assert_401(response, "Incorrect username or password.")


def test_malformed_basic_auth_is_401(repos):
    response = Client().get("/token", HTTP_AUTHORIZATION="Basic %%%not-base64")
    assert_401(response, "Malformed basic authorization header.")


def test_unverified_email_must_be_verified_first(repos):
    UserFactory(username="newbie", verified=False)
    response = get_token("repository:newbie/app:push", auth=("newbie", PASSWORD))
    assert_401(response, "verify your email first")


def test_disabled_account_is_401(alice, repos):
    alice.is_active = False
    alice.save()
    assert_401(get_token(auth=("alice", PASSWORD)), "This account is currently inactive.")


def test_two_factor_account_must_use_an_access_token(alice, repos):
    TOTP.activate(alice, generate_totp_secret())
    response = get_token("repository:alice/secret:pull", auth=("alice", PASSWORD))
    assert_401(response, "personal access token")
    assert post_token(grant_type="password", username="alice", password=PASSWORD).status_code == 401
    _, secret = AccessToken.issue(alice, "laptop", "repo:write")
    response = get_token("repository:alice/secret:pull,push", auth=("alice", secret))
    assert granted(response) == {"alice/secret": {"pull", "push"}}


# Personal access tokens as passwords


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("repo:read", {"alice/secret": {"pull"}, "alice/app": {"pull"}}),
        ("repo:write", {"alice/secret": {"pull", "push"}, "alice/app": {"pull", "push"}}),
        (
            "repo:delete",
            {"alice/secret": {"pull", "push"}, "alice/app": {"pull", "push", "delete"}},
        ),
    ],
)
def test_access_token_scope_caps_the_grant(alice, repos, scope, expected):
    token, secret = AccessToken.issue(alice, "ci", scope)
    response = get_token(
        "repository:alice/secret:pull,push", "repository:alice/app:*", auth=("alice", secret)
    )
    assert granted(response) == expected
    assert decode(response.json()["token"])["sub"] == "alice"
    token.refresh_from_db()
    assert token.last_used is not None


def test_read_only_token_cannot_create_a_repository(alice, repos):
    _, secret = AccessToken.issue(alice, "ci", "repo:read")
    response = get_token("repository:alice/brand-new:pull,push", auth=("alice", secret))
    assert granted(response) == {}
    _, secret = AccessToken.issue(alice, "ci", "repo:write")
    response = get_token("repository:alice/brand-new:pull,push", auth=("alice", secret))
    assert granted(response) == {"alice/brand-new": {"pull", "push"}}


def test_revoked_token_is_refused_at_once(alice, alice_client, repos):
    token, secret = AccessToken.issue(alice, "ci", "repo:write")
    assert get_token(auth=("alice", secret)).status_code == 200
    alice_client.post(f"/settings/security/tokens/{token.uuid}/deactivate/")
    assert_401(get_token(auth=("alice", secret)), "the token was revoked")
    alice_client.post(f"/settings/security/tokens/{token.uuid}/activate/")
    assert get_token(auth=("alice", secret)).status_code == 200
    alice_client.post(f"/settings/security/tokens/{token.uuid}/delete/")
    assert_401(get_token(auth=("alice", secret)), "the token was revoked")


def test_expired_token_is_refused(alice, repos):
    token, secret = AccessToken.issue(alice, "ci", "repo:write")
    assert get_token(auth=("alice", secret)).status_code == 200
    AccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_401(get_token(auth=("alice", secret)), "the token was revoked")


def test_token_of_another_user_is_refused(alice, repos):
    _, secret = AccessToken.issue(alice, "ci", "repo:write")
    assert_401(get_token(auth=("bob", secret)), "Incorrect username or access token")


# Refresh tokens


def test_offline_token_gives_a_refresh_token(repos):
    answer = get_token(
        "repository:alice/app:pull", auth=("alice", PASSWORD), offline_token="true"
    ).json()
    assert answer["refresh_token"].startswith("dyd_rt_")
    plain = get_token("repository:alice/app:pull", auth=("alice", PASSWORD)).json()
    assert "refresh_token" not in plain


def test_post_password_grant(repos):
    response = post_token(
        grant_type="password",
        username="alice",
        password=PASSWORD,
        access_type="offline",
        scope="repository:alice/secret:pull,push repository:bob/tool:pull,push",
    )
    answer = response.json()
    assert set(answer["scope"].split()) == {
        "repository:alice/secret:pull,push",
        "repository:bob/tool:pull",
    }
    assert answer["expires_in"] == settings.REGISTRY_TOKEN_LIFETIME
    assert granted(response) == {"alice/secret": {"pull", "push"}, "bob/tool": {"pull"}}
    assert decode(answer["access_token"])["sub"] == "alice"
    assert answer["refresh_token"].startswith("dyd_rt_")
    online = post_token(grant_type="password", username="alice", password=PASSWORD).json()
    assert "refresh_token" not in online


def test_post_password_grant_with_wrong_password_is_401(repos):
    response = post_token(grant_type="password", username="alice", password="wrong")
    assert_401(response, "Incorrect username or password.")
    assert response.json()["error"] == "invalid_grant"


def test_post_needs_client_id_and_a_known_grant_type(repos):
    response = Client().post(
        "/token", {"grant_type": "password", "username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "client_id is required" in response.json()["message"]
    response = post_token(grant_type="client_credentials")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert "grant_type must be" in response.json()["message"]


def refresh(refresh_token: str, scope: str = "repository:alice/secret:pull,push"):
    return post_token(grant_type="refresh_token", refresh_token=refresh_token, scope=scope)


def test_refresh_token_is_reusable_and_never_rotates(repos):
    refresh_token = get_token(auth=("alice", PASSWORD), offline_token="true").json()[
        "refresh_token"
    ]
    for _ in range(3):
        response = refresh(refresh_token)
        assert granted(response) == {"alice/secret": {"pull", "push"}}
        assert response.json().get("refresh_token", refresh_token) == refresh_token
        assert response.json()["scope"] == "repository:alice/secret:pull,push"


def test_unknown_refresh_token_is_401(repos):
    response = refresh("dyd_rt_made-up")
    assert_401(response, "log in again")
    assert response.json()["error"] == "invalid_grant"


def test_refresh_token_ends_when_the_password_changes(alice, repos):
    refresh_token = get_token(auth=("alice", PASSWORD), offline_token="true").json()[
        "refresh_token"
    ]
    assert refresh(refresh_token).status_code == 200
    change_password_on_the_web(alice, PASSWORD, NEW_PASSWORD)
    assert_401(refresh(refresh_token), "log in again")


def test_refresh_token_from_an_access_token_keeps_its_scope_and_ends_with_it(
    alice, alice_client, repos
):
    token, secret = AccessToken.issue(alice, "laptop", "repo:read")
    refresh_token = get_token(auth=("alice", secret), offline_token="true").json()["refresh_token"]
    assert granted(refresh(refresh_token)) == {"alice/secret": {"pull"}}
    alice_client.post(f"/settings/security/tokens/{token.uuid}/deactivate/")
    assert_401(refresh(refresh_token), "log in again")


def test_refresh_token_ends_when_the_account_is_disabled(alice, repos):
    refresh_token = post_token(
        grant_type="password", username="alice", password=PASSWORD, access_type="offline"
    ).json()["refresh_token"]
    assert refresh(refresh_token).status_code == 200
    alice.is_active = False
    alice.save()
    assert refresh(refresh_token).status_code == 401


# The price of password hashing


class CountingHasher(MD5PasswordHasher):
    """MD5, counting how often a password is checked against its hash."""

    algorithm = "counting_md5"
    verified = 0

    def verify(self, password: str, encoded: str) -> bool:
        CountingHasher.verified += 1
        return super().verify(password, encoded)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [
        f"{__name__}.CountingHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    CountingHasher.verified = 0
    return CountingHasher


def test_repeated_token_requests_check_the_password_once(counting_hasher):
    UserFactory(username="dana")
    repo("dana", "app", private=True)
    for _ in range(20):
        response = get_token("repository:dana/app:pull", auth=("dana", PASSWORD))
        assert granted(response) == {"dana/app": {"pull"}}
    assert counting_hasher.verified == 1


def test_after_a_password_change_the_old_password_fails(counting_hasher):
    dana = UserFactory(username="dana")
    assert get_token(auth=("dana", PASSWORD)).status_code == 200
    assert get_token(auth=("dana", PASSWORD)).status_code == 200
    assert counting_hasher.verified == 1
    change_password_on_the_web(dana, PASSWORD, NEW_PASSWORD)
    assert_401(get_token(auth=("dana", PASSWORD)), "Incorrect username or password.")
    assert get_token(auth=("dana", NEW_PASSWORD)).status_code == 200
    assert get_token(auth=("dana", NEW_PASSWORD)).status_code == 200
    assert_401(get_token(auth=("dana", PASSWORD)), "Incorrect username or password.")


def test_wrong_passwords_are_never_remembered(counting_hasher):
    UserFactory(username="dana")
    for _ in range(3):
        assert get_token(auth=("dana", "guess")).status_code == 401
    assert counting_hasher.verified == 3


# Build robots: the builder's `--creds _build:<secret>`


def test_a_build_robot_pushes_its_repository_and_pulls_what_its_user_may(alice, bob, repos):
    app = Repository.objects.get(namespace__name="alice", name="app")
    secret = issue_robot_secret(app.pk, alice.pk, lifetime=60)
    scopes = [
        "repository:alice/app:pull,push",
        "repository:alice/secret:pull,push",
        "repository:bob/tool:pull,push",
        "repository:alice/new:pull,push",
    ]
    response = get_token(*scopes, auth=(ROBOT_LOGIN, secret))
    assert granted(response) == {
        "alice/app": {"pull", "push"},
        "alice/secret": {"pull"},
        "bob/tool": {"pull"},
    }
    assert decode(response.json()["token"])["sub"] == "alice"
    oauth = post_token(
        grant_type="password", username=ROBOT_LOGIN, password=secret, scope=scopes[0]
    )
    assert granted(oauth) == {"alice/app": {"pull", "push"}}


def test_a_build_robot_for_bob_pulls_nothing_private_of_alice(alice, bob, repos):
    tool = Repository.objects.get(namespace__name="bob", name="tool")
    secret = issue_robot_secret(tool.pk, bob.pk, lifetime=60)
    response = get_token("repository:alice/secret:pull", auth=(ROBOT_LOGIN, secret))
    assert granted(response) == {}


@pytest.mark.parametrize(
    ("secret", "message"),
    [("forged", "Unknown build credentials."), (None, "These build credentials have expired.")],
)
def test_forged_or_expired_build_credentials_are_401(alice, repos, secret, message):
    app = Repository.objects.get(namespace__name="alice", name="app")
    secret = secret or issue_robot_secret(app.pk, alice.pk, lifetime=-1)
    response = get_token("repository:alice/app:push", auth=(ROBOT_LOGIN, secret))
    assert_401(response, message)
    oauth = post_token(grant_type="password", username=ROBOT_LOGIN, password=secret)
    assert oauth.status_code == 401
    assert oauth.json()["details"] == message
