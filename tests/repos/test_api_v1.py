"""The legacy v1 repository API, in process: create, delete, images, auth, and the same for
`library` repositories. alice owns the repositories, bob is another signed-in user (no
organizations yet to give him a team permission), charlie is the outsider."""

import base64
from datetime import timedelta

import jwt
import pytest
from celery.exceptions import Retry
from cryptography import x509
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccessToken, Namespace, TokenScope
from registry.client import OCI_INDEX, OCI_MANIFEST, RegistryError
from registry.keys import cert_path
from repos.models import Manifest, Repository, Tag
from repos.names import REPOSITORY_NAME_RULE
from repos.tasks import purge_repository
from tests.factories import PASSWORD, UserFactory
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db

IMAGE = "sha256:" + "1" * 64
INDEX = "sha256:" + "2" * 64
CHILD = "sha256:" + "3" * 64
ALL_ACTIONS = ["pull", "push", "delete"]


def api(login: str | None = None, secret: str = PASSWORD) -> APIClient:
    client = APIClient()
    if login is not None:
        encoded = base64.b64encode(f"{login}:{secret}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")
    return client


def decode(token: str) -> dict:
    """The claims of a registry token, verified as the registry verifies them."""
    public_key = x509.load_pem_x509_certificate(cert_path().read_bytes()).public_key()
    return jwt.decode(token, public_key, algorithms=["ES256"], audience=settings.REGISTRY_SERVICE)


def index_token(response) -> dict:
    """The claims of the token in a v1 index answer's X-Docker-Token header."""
    fields = response["X-Docker-Token"]
    assert response["WWW-Authenticate"] == f"Token {fields}"
    signature, repository, access = fields.split(",")
    return {
        "claims": decode(signature.removeprefix("signature=")),
        "repository": repository,
        "access": access,
    }


def make_repository(owner: str, name: str, *, private: bool) -> Repository:
    return Repository.objects.create(
        namespace=Namespace.objects.get(name=owner), name=name, is_private=private
    )


def add_manifest(repository: Repository, digest: str, media_type: str, *tags: str, age: int = 0):
    manifest = Manifest.objects.create(
        repository=repository, digest=digest, media_type=media_type, size=1234
    )
    Manifest.objects.filter(pk=manifest.pk).update(created=timezone.now() - timedelta(minutes=age))
    for tag in tags:
        Tag.objects.create(
            repository=repository, name=tag, manifest=manifest, pushed_at=timezone.now()
        )
    return manifest


def assert_error(response, status: int, message: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert message in body["detail"]
    assert body["message"] == body["detail"]


@pytest.fixture
def public(alice) -> Repository:
    repository = make_repository("alice", "app", private=False)
    add_manifest(repository, IMAGE, OCI_MANIFEST, "1.0", "latest", age=10)
    add_manifest(repository, CHILD, OCI_MANIFEST, age=5)
    add_manifest(repository, INDEX, OCI_INDEX, "multi")
    return repository


@pytest.fixture
def private(alice) -> Repository:
    repository = make_repository("alice", "secret", private=True)
    add_manifest(repository, IMAGE, OCI_MANIFEST, "latest")
    return repository


@pytest.fixture
def staff(db):
    return UserFactory(username="operator", is_staff=True)


def token_of(user, scope: TokenScope) -> str:
    return AccessToken.issue(user, "ci", scope)[1]


# Creating: PUT /v1/repositories/<ns>/<repo>/


def test_creating_a_repository_answers_201_then_200(alice):
    first = api("alice").put(
        "/v1/repositories/alice/new-app/", [{"id": "9e89cc6f0bc3"}], format="json"
    )
    assert first.status_code == 201
    assert first.json() == ""
    assert first["X-Docker-Endpoints"] == settings.REGISTRY_HOST
    assert "X-Docker-Token" not in first
    repository = Repository.objects.active().get(namespace__name="alice", name="new-app")
    assert repository.created_by == alice
    assert not repository.is_private

    again = api("alice").put("/v1/repositories/alice/new-app/")
    assert again.status_code == 200
    assert Repository.objects.filter(name="new-app").count() == 1


def test_a_new_repository_follows_the_namespace_default_privacy(alice):
    Namespace.objects.filter(name="alice").update(default_private=True)
    assert api("alice").put("/v1/repositories/alice/hidden/").status_code == 201
    assert Repository.objects.get(name="hidden").is_private


def test_x_docker_token_asks_for_a_push_token_in_the_headers(alice):
    response = api("alice").put("/v1/repositories/alice/new-app/", HTTP_X_DOCKER_TOKEN="true")
    assert response.status_code == 201
    token = index_token(response)
    assert token["repository"] == 'repository="alice/new-app"'
    assert token["access"] == "access=write"
    assert token["claims"]["sub"] == "alice"
    assert token["claims"]["access"] == [
        {"type": "repository", "name": "alice/new-app", "actions": ["pull", "push"]}
    ]


def test_a_bad_name_is_refused_with_the_rule(alice):
    response = api("alice").put("/v1/repositories/alice/Bad..Name/")
    assert_error(response, 400, REPOSITORY_NAME_RULE)
    assert response.json()["errors"]["name"]
    assert not Repository.objects.exists()


def test_an_unknown_namespace_is_404(alice):
    assert_error(api("alice").put("/v1/repositories/nobody/app/"), 404, "'nobody'")


def test_outsiders_cannot_tell_a_private_repository_from_a_missing_one(private, charlie):
    hidden = api("charlie").put("/v1/repositories/alice/secret/")
    missing = api("charlie").put("/v1/repositories/alice/missing/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"].replace("missing", "secret")
    assert list(Repository.objects.values_list("name", flat=True)) == ["secret"]


def test_a_visible_repository_without_push_is_403(public, bob):
    assert_error(api("bob").put("/v1/repositories/alice/app/"), 403, "push")


def test_anonymous_writes_ask_for_credentials(public):
    for method, path in [
        ("put", "/v1/repositories/alice/app/"),
        ("put", "/v1/repositories/alice/other/"),
        ("delete", "/v1/repositories/alice/app/"),
        ("put", "/v1/repositories/alice/app/images"),
    ]:
        response = getattr(api(), method)(path)
        assert_error(response, 401, "Sign in")
        assert response["WWW-Authenticate"] == f'Basic realm="{settings.HUB_NAME}"'
    assert Repository.objects.active().count() == 1


@pytest.mark.parametrize(
    "login, secret, message",
    [
        ("alice", "wrong-password", "Incorrect username or password."),
        ("alice", AccessToken.PREFIX + "made-up", "Incorrect username or access token"),
        ("bob", None, "Incorrect username or access token"),
    ],
)
def test_bad_credentials_are_401_even_for_public_reads(public, alice, bob, login, secret, message):
    secret = secret or token_of(alice, TokenScope.ADMIN)  # alice's token under bob's name
    response = api(login, secret).get("/v1/repositories/alice/app/images")
    assert_error(response, 401, message)


def test_a_revoked_token_stops_working(public, alice):
    token, secret = AccessToken.issue(alice, "ci", TokenScope.ADMIN)
    assert api("alice", secret).put("/v1/repositories/alice/app/").status_code == 200
    AccessToken.objects.filter(pk=token.pk).update(is_active=False)
    assert api("alice", secret).put("/v1/repositories/alice/app/").status_code == 401


# Access token scopes cap what alice may do on her own repositories.
SCOPE_STATUSES = {
    # scope: registry actions from /auth, then statuses of create new, push to existing,
    # end a push, delete
    TokenScope.READ: (["pull"], 403, 403, 403, 403),
    TokenScope.WRITE: (["pull", "push"], 201, 200, 204, 403),
    TokenScope.DELETE: (ALL_ACTIONS, 201, 200, 204, 403),
    TokenScope.ADMIN: (ALL_ACTIONS, 201, 200, 204, 202),
}


@pytest.mark.parametrize("scope", list(SCOPE_STATUSES))
def test_access_token_scopes(private, alice, scope, django_capture_on_commit_callbacks):
    client = api("alice", token_of(alice, scope))
    actions, create, push, end_push, delete = SCOPE_STATUSES[scope]
    assert client.get("/v1/repositories/alice/secret/images").status_code == 200
    auth = client.put("/v1/repositories/alice/secret/auth").json()
    assert decode(auth["token"])["access"][0]["actions"] == actions
    created = client.put("/v1/repositories/alice/made-with-token/")
    assert created.status_code == create
    if create == 403:
        assert f"with a {scope} access token" in created.json()["detail"]
    assert client.put("/v1/repositories/alice/secret/").status_code == push
    assert client.put("/v1/repositories/alice/secret/images").status_code == end_push
    with django_capture_on_commit_callbacks():
        assert client.delete("/v1/repositories/alice/secret/").status_code == delete


# Deleting: DELETE /v1/repositories/<ns>/<repo>/


def test_deleting_hides_the_repository_at_once_and_queues_the_clean_up(
    public, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api("alice").delete("/v1/repositories/alice/app/")
    assert response.status_code == 202
    assert response.json() == ""
    assert len(callbacks) == 1
    assert Repository.objects.get(pk=public.pk).state == Repository.State.DELETING
    assert Manifest.objects.filter(repository=public).count() == 3  # until the registry is clean

    assert api("alice").get("/v1/repositories/alice/app/images").status_code == 404
    assert api().get("/v1/repositories/alice/app/images").status_code == 404
    assert api("alice").delete("/v1/repositories/alice/app/").status_code == 404
    token = Client().get(
        "/token",
        {"service": settings.REGISTRY_SERVICE, "scope": "repository:alice/app:pull"},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
    )
    assert decode(token.json()["token"])["access"] == []

    # The name is free again, and the new repository starts empty.
    assert api("alice").put("/v1/repositories/alice/app/").status_code == 201
    assert api("alice").get("/v1/repositories/alice/app/images").json() == []


def test_deleting_needs_admin_and_hides_private_repositories(private, public, bob, charlie):
    assert_error(api("bob").delete("/v1/repositories/alice/app/"), 403, "admin")
    assert_error(api("charlie").delete("/v1/repositories/alice/secret/"), 404, "No such")
    assert_error(api("bob").delete("/v1/repositories/alice/secret/"), 404, "No such")
    assert Repository.objects.active().count() == 2


def test_staff_may_delete_anything(private, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        assert api("operator").delete("/v1/repositories/alice/secret/").status_code == 202
    assert not Repository.objects.active().exists()


def test_a_registry_that_is_down_leaves_the_repository_deleting(
    public, alice, settings, django_capture_on_commit_callbacks, caplog
):
    settings.REGISTRY_URL = f"http://127.0.0.1:{free_port()}"
    with django_capture_on_commit_callbacks(execute=True):
        response = api("alice").delete("/v1/repositories/alice/app/")
    assert response.status_code == 202
    assert "Connection refused" in caplog.text
    repository = Repository.objects.get(pk=public.pk)
    assert repository.state == Repository.State.DELETING
    assert repository.tags.count() == 3
    assert api("alice").get("/v1/repositories/alice/app/images").status_code == 404

    # The task asks to be tried again later, and changed nothing.
    with pytest.raises(Retry) as retry:
        purge_repository.apply(args=[public.pk])
    assert isinstance(retry.value.exc, RegistryError)
    assert Repository.objects.get(pk=public.pk).tags.count() == 3


# Images: GET and PUT /v1/repositories/<ns>/<repo>/images


def test_images_lists_manifests_newest_first_with_their_tags(public):
    response = api().get("/v1/repositories/alice/app/images")
    assert response.status_code == 200
    assert response["X-Docker-Endpoints"] == settings.REGISTRY_HOST
    assert response.json() == [
        {
            "id": INDEX.removeprefix("sha256:"),
            "checksum": INDEX,
            "digest": INDEX,
            "media_type": OCI_INDEX,
            "size": 1234,
            "tags": ["multi"],
        },
        {
            "id": CHILD.removeprefix("sha256:"),
            "checksum": CHILD,
            "digest": CHILD,
            "media_type": OCI_MANIFEST,
            "size": 1234,
            "tags": [],
        },
        {
            "id": IMAGE.removeprefix("sha256:"),
            "checksum": IMAGE,
            "digest": IMAGE,
            "media_type": OCI_MANIFEST,
            "size": 1234,
            "tags": ["1.0", "latest"],
        },
    ]


def test_images_with_x_docker_token_gives_a_pull_token(public):
    response = api().get("/v1/repositories/alice/app/images", HTTP_X_DOCKER_TOKEN="true")
    token = index_token(response)
    assert token["access"] == "access=read"
    assert token["claims"]["sub"] == ""
    assert token["claims"]["access"] == [
        {"type": "repository", "name": "alice/app", "actions": ["pull"]}
    ]


@pytest.mark.parametrize(
    "login, status", [(None, 404), ("charlie", 404), ("bob", 404), ("alice", 200)]
)
def test_private_images_are_shown_only_to_those_with_access(private, bob, charlie, login, status):
    response = api(login).get("/v1/repositories/alice/secret/images")
    assert response.status_code == status
    if status == 404:
        assert response.json()["detail"] == "No such repository"
    else:
        assert [image["tags"] for image in response.json()] == [["latest"]]


def test_ending_a_push_needs_push_permission(public, private, alice, bob, charlie):
    body = [{"id": "9e89cc6f0bc3", "checksum": "b486531f9a77"}]
    ok = api("alice").put("/v1/repositories/alice/app/images", body, format="json")
    assert ok.status_code == 204
    assert ok.content == b""
    assert_error(
        api("bob").put("/v1/repositories/alice/app/images", body, format="json"), 403, "push"
    )
    assert_error(api("charlie").put("/v1/repositories/alice/secret/images"), 404, "No such")
    assert api("alice").put("/v1/repositories/alice/missing/images").status_code == 404


# Registry tokens: PUT /v1/repositories/<ns>/<repo>/auth


@pytest.mark.parametrize(
    "login, actions",
    [(None, ["pull"]), ("bob", ["pull"]), ("alice", ALL_ACTIONS), ("operator", ALL_ACTIONS)],
)
def test_auth_gives_a_registry_token_for_what_the_principal_may_do(
    public, bob, staff, login, actions
):
    response = api(login).put("/v1/repositories/alice/app/auth")
    assert response.status_code == 200
    answer = response.json()
    assert answer["access_token"] == answer["token"]
    assert answer["scope"] == f"repository:alice/app:{','.join(actions)}"
    claims = decode(answer["token"])
    assert claims["sub"] == (login or "")
    assert claims["access"] == [{"type": "repository", "name": "alice/app", "actions": actions}]
    assert answer["expires_in"] == claims["exp"] - claims["iat"]


def test_auth_for_a_private_repository_is_404_to_outsiders(private, charlie):
    assert_error(api("charlie").put("/v1/repositories/alice/secret/auth"), 404, "No such")
    assert_error(api().put("/v1/repositories/alice/secret/auth"), 404, "No such")


# Library repositories: the same without a namespace, staff only to write.


def test_staff_create_library_repositories_everyone_pulls_them(
    staff, alice, django_capture_on_commit_callbacks
):
    created = api("operator").put("/v1/repositories/busybox/", HTTP_X_DOCKER_TOKEN="true")
    assert created.status_code == 201
    assert index_token(created)["repository"] == 'repository="library/busybox"'
    repository = Repository.objects.get(namespace__name="library", name="busybox")
    assert repository.created_by == staff
    add_manifest(repository, IMAGE, OCI_MANIFEST, "latest")

    images = api().get("/v1/repositories/busybox/images")
    assert [image["tags"] for image in images.json()] == [["latest"]]
    auth = api().put("/v1/repositories/busybox/auth").json()
    assert auth["scope"] == "repository:library/busybox:pull"
    assert api("operator").put("/v1/repositories/busybox/images").status_code == 204

    assert_error(api("alice").put("/v1/repositories/busybox/"), 403, "push")
    assert_error(api("alice").put("/v1/repositories/busybox/images"), 403, "push")
    assert_error(api("alice").delete("/v1/repositories/busybox/"), 403, "admin")
    with django_capture_on_commit_callbacks():
        assert api("operator").delete("/v1/repositories/busybox/").status_code == 202
    assert api().get("/v1/repositories/busybox/images").status_code == 404


def test_only_staff_create_library_repositories(alice, staff):
    assert_error(api("alice").put("/v1/repositories/busybox/"), 403, "Only staff")
    read_only = api("operator", token_of(staff, TokenScope.READ))
    assert_error(read_only.put("/v1/repositories/busybox/"), 403, "with a repo:read access token")
    assert not Namespace.objects.filter(name="library").exists()


def test_the_user_repository_form_wins_over_the_library_form(alice):
    """`<ns>/<repo>/` has a slash at the end, `<repo>/images` none: the two never meet."""
    assert api("alice").put("/v1/repositories/alice/images/").status_code == 201
    assert Repository.objects.filter(namespace__name="alice", name="images").exists()
    assert api("alice").get("/v1/repositories/alice/images").status_code == 404
