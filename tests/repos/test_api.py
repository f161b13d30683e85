"""The Hub API for repositories and tags, as Docker Hub's clients call it. alice owns her
repositories and the organization `acme`; bob is in acme's `readers` team, which may read the
private `acme/app`, and in `writers` when a test says so; charlie is the outsider."""

import hashlib
import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Namespace, TokenScope
from orgs.models import Collaborator, Organization, Team, TeamMembership, TeamPermission
from registry.client import OCI_INDEX, OCI_MANIFEST, RegistryClient
from registry.config import registry_config
from registry.keys import ensure_signing_key
from registry.tokens import issue_token
from repos.access import (
    ANONYMOUS,
    Principal,
    pullable_repositories,
    repositories_permissions,
    repository_permissions,
)
from repos.models import Activity, Manifest, Repository, Star, Tag
from tests.factories import UserFactory
from tests.support.api_clients import anonymous, basic, bearer, token_client
from tests.support.processes import free_port, wait_for_http

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "a" * 64
INDEX = "sha256:" + "b" * 64
ARM = "sha256:" + "c" * 64


def assert_error(response, code: int, text: str) -> None:
    assert response.status_code == code, response.content
    body = response.json()
    assert text in body["detail"], body
    assert body["message"] == body["detail"]


def repository(full_name: str, *, private: bool = False, **fields) -> Repository:
    namespace, name = full_name.split("/", 1)
    return Repository.objects.create(
        namespace=Namespace.objects.get(name=namespace), name=name, is_private=private, **fields
    )


def tag(repo: Repository, name: str, *, digest: str = DIGEST, age: int = 0, by=None) -> Tag:
    manifest, _ = Manifest.objects.get_or_create(
        repository=repo,
        digest=digest,
        defaults={
            "media_type": OCI_MANIFEST,
            "size": 1000,
            "platforms": [
                {"os": "linux", "architecture": "amd64", "variant": "", "digest": digest,
                 "size": 1000}
            ],
        },
    )  # fmt: skip
    return Tag.objects.create(
        repository=repo,
        name=name,
        manifest=manifest,
        pushed_at=timezone.now() - timedelta(minutes=age),
        pushed_by=by,
    )


@pytest.fixture
def acme(alice, bob) -> Organization:
    organization = Organization.create("acme", alice)
    readers = Team.objects.create(organization=organization, name="readers")
    Team.objects.create(organization=organization, name="writers")
    TeamMembership.objects.create(team=readers, user=bob)
    app = repository("acme/app", private=True)
    TeamPermission.objects.create(team=readers, repository=app, level="read")
    tag(app, "latest", by=alice)
    repository("acme/hidden", private=True)
    repository("acme/site")
    return organization


def make_writer(bob) -> None:
    writers = Team.objects.get(name="writers")
    TeamMembership.objects.create(team=writers, user=bob)
    TeamPermission.objects.create(
        team=writers, repository=Repository.objects.get(name="app"), level="write"
    )


def state() -> list:
    return sorted(
        Repository.objects.values_list(
            "namespace__name", "name", "state", "description", "is_private"
        )
    ) + sorted(Tag.objects.values_list("repository__name", "name"))


# The authorization matrix on the private acme/app (bob reads it) and the public alice/site.
# "token" is alice with a repo:read access token. Tag deletions reach the registry only when
# allowed: here it is down (503); test_delete_a_tag has one that answers.
NEW = "/v2/namespaces"
ENDPOINTS = [
    # method, path, body, alice, bob, charlie, anonymous, token
    ("get", f"{NEW}/acme/repositories", None, 200, 200, 200, 200, 200),
    ("post", f"{NEW}/acme/repositories", {"name": "new"}, 201, 403, 403, 401, 403),
    ("post", "/v2/repositories/", {"namespace": "acme", "name": "new"}, 201, 403, 403, 401, 403),
    ("get", f"{NEW}/acme/repositories/app", None, 200, 200, 404, 404, 200),
    ("patch", f"{NEW}/acme/repositories/app", {"description": "New"}, 200, 403, 404, 404, 403),
    ("patch", f"{NEW}/alice/repositories/site", {"description": "New"}, 200, 403, 403, 401, 403),
    ("delete", f"{NEW}/acme/repositories/app", None, 202, 403, 404, 404, 403),
    ("delete", f"{NEW}/alice/repositories/site", None, 202, 403, 403, 401, 403),
    ("get", f"{NEW}/acme/repositories/app/tags", None, 200, 200, 404, 404, 200),
    ("get", f"{NEW}/acme/repositories/app/tags/latest", None, 200, 200, 404, 404, 200),
    ("delete", f"{NEW}/acme/repositories/app/tags/latest", None, 503, 403, 404, 404, 403),
    ("get", "/v2/repositories/acme/", None, 200, 200, 200, 200, 200),
    ("get", "/v2/repositories/acme/app/", None, 200, 200, 404, 404, 200),
    ("patch", "/v2/repositories/acme/app/", {"is_private": False}, 200, 403, 404, 404, 403),
    ("get", "/v2/repositories/acme/app/tags/", None, 200, 200, 404, 404, 200),
    ("get", "/v2/repositories/acme/app/tags/latest/", None, 200, 200, 404, 404, 200),
    ("delete", "/v2/repositories/acme/app/tags/latest/", None, 503, 403, 404, 404, 403),
]
PRINCIPALS = ["alice", "bob", "charlie", "anonymous", "token"]


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [(method, path, body, dict(zip(PRINCIPALS, codes, strict=True)))
     for method, path, body, *codes in ENDPOINTS],
    ids=[f"{method} {path}" for method, path, *_ in ENDPOINTS],
)  # fmt: skip
def test_authorization_matrix(
    acme,
    alice,
    charlie,
    method,
    path,
    body,
    expected,
    principal,
    django_capture_on_commit_callbacks,
):
    if expected[principal] is None:
        pytest.skip("needs a registry: see test_delete_a_tag")
    repository("alice/site")
    if principal == "anonymous":
        client = anonymous()
    elif principal == "token":
        client = token_client(alice, TokenScope.READ)
    else:
        client = bearer(principal)
    before = state()
    with django_capture_on_commit_callbacks():
        response = getattr(client, method)(path, body)
    assert response.status_code == expected[principal], response.content
    if response.status_code >= 400:
        error = response.json()
        assert error["detail"] and error["message"] == error["detail"]
        assert state() == before, "a refused request changed something"
        assert "app" not in error["detail"] or response.status_code != 404
    elif method != "get":
        assert state() != before


def test_a_repository_in_docker_hubs_shape(acme, alice, bob):
    app = Repository.objects.get(name="app")
    Repository.objects.filter(pk=app.pk).update(
        description="Short", full_description="# App", pull_count=7
    )
    Star.objects.create(repository=app, user=bob)
    Manifest.objects.create(repository=app, digest=INDEX, media_type=OCI_INDEX, size=1)
    body = bearer("bob").get(f"{NEW}/acme/repositories/app").json()
    app.refresh_from_db()
    assert body == {
        "user": "acme",
        "name": "app",
        "namespace": "acme",
        "repository_type": "image",
        "status": 1,
        "status_description": "active",
        "description": "Short",
        "full_description": "# App",
        "is_private": True,
        "star_count": 1,
        "has_starred": True,
        "pull_count": 7,
        "last_updated": None,
        "last_modified": body["last_modified"],
        "date_registered": body["date_registered"],
        "media_types": [OCI_INDEX, OCI_MANIFEST],
        "content_types": ["image"],
        "permissions": {"read": True, "write": False, "admin": False},
    }
    assert body["date_registered"].startswith(app.created.date().isoformat())
    mine = bearer("alice").get("/v2/repositories/acme/app/").json()
    assert mine["permissions"] == {"read": True, "write": True, "admin": True}
    assert mine["has_starred"] is False
    assert token_client(alice, TokenScope.READ).get("/v2/repositories/acme/app/").json()[
        "permissions"
    ] == {"read": True, "write": False, "admin": False}


def test_a_tag_in_docker_hubs_shape(acme, alice):
    app = Repository.objects.get(name="app")
    index = Manifest.objects.create(
        repository=app,
        digest=INDEX,
        media_type=OCI_INDEX,
        size=3000,
        platforms=[
            {"os": "linux", "architecture": "amd64", "variant": "", "digest": DIGEST,
             "size": 1000},
            {"os": "linux", "architecture": "arm64", "variant": "v8", "digest": ARM,
             "size": 2000},
        ],
    )  # fmt: skip
    pushed = Tag.objects.create(
        repository=app, name="2.0", manifest=index, pushed_at=timezone.now(), pushed_by=alice
    )
    body = bearer("bob").get(f"{NEW}/acme/repositories/app/tags/2.0").json()
    pushed_at = body["last_updated"]
    assert pushed_at.startswith(pushed.pushed_at.date().isoformat())
    assert body == {
        "id": pushed.pk,
        "name": "2.0",
        "digest": INDEX,
        "full_size": 3000,
        "last_updated": pushed_at,
        "last_updater_username": "alice",
        "tag_last_pushed": pushed_at,
        "tag_last_pulled": None,
        "tag_status": "active",
        "media_type": OCI_INDEX,
        "content_type": "image",
        "images": [
            {"architecture": "amd64", "os": "linux", "variant": None, "digest": DIGEST,
             "size": 1000, "status": "active", "last_pushed": pushed_at, "last_pulled": None},
            {"architecture": "arm64", "os": "linux", "variant": "v8", "digest": ARM,
             "size": 2000, "status": "active", "last_pushed": pushed_at, "last_pulled": None},
        ],
    }  # fmt: skip
    assert_error(
        bearer("bob").get(f"{NEW}/acme/repositories/app/tags/nope"), 404, "acme/app has no tag"
    )


def test_lists_show_only_what_the_requester_may_see(acme, alice, bob, charlie):
    def names(client: APIClient, namespace: str = "acme") -> list[str]:
        body = client.get(f"{NEW}/{namespace}/repositories", {"ordering": "name"}).json()
        assert body["count"] == len(body["results"])
        return [entry["name"] for entry in body["results"]]

    assert names(bearer("alice")) == ["app", "hidden", "site"]
    assert names(bearer("bob")) == ["app", "site"]
    assert names(bearer("charlie")) == ["site"]
    assert names(anonymous()) == ["site"]
    # A collaborator sees the private repository of a user.
    secret = repository("alice/secret", private=True)
    repository("alice/open")
    assert names(basic("charlie"), "alice") == ["open"]
    Collaborator.objects.create(repository=secret, user=charlie)
    assert names(basic("charlie"), "alice") == ["open", "secret"]
    # Nothing being deleted is listed.
    Repository.objects.filter(name="site").update(state=Repository.State.DELETING)
    assert names(bearer("alice")) == ["app", "hidden"]
    assert_error(anonymous().get(f"{NEW}/nobody/repositories"), 404, "no user or organization")


def test_bulk_permissions_agree_with_repository_permissions(acme, alice, bob, charlie):
    make_writer(bob)
    staff = UserFactory(username="operator", is_staff=True)
    secret = repository("alice/secret", private=True)
    Collaborator.objects.create(repository=secret, user=charlie)
    # A team of another organization lends nothing.
    other = Organization.create("other", charlie)
    TeamPermission.objects.create(
        team=other.owners_team, repository=Repository.objects.get(name="hidden"), level="admin"
    )
    Repository.objects.filter(name="site").update(state=Repository.State.DELETING)
    repositories = list(Repository.objects.select_related("namespace"))
    principals = [
        ANONYMOUS,
        *(Principal(user=user) for user in (alice, bob, charlie, staff)),
        Principal(user=alice, scope=TokenScope.READ),
        Principal(robot_repository_id=secret.pk),
    ]
    for principal in principals:
        bulk = repositories_permissions(principal, repositories)
        single = {r.pk: repository_permissions(principal, r) for r in repositories}
        assert bulk == single, principal
        pullable = set(pullable_repositories(principal, Repository.objects.all()))
        assert pullable == {r for r in repositories if "pull" in single[r.pk]}, principal


def test_pagination_ordering_and_filter_of_repositories(alice):
    for number in range(12):
        repository(f"alice/repo{number:02}", pull_count=number, last_pushed=timezone.now())
    repository("alice/never-pushed")
    client = bearer("alice")
    first = client.get(f"{NEW}/alice/repositories", {"page_size": 5, "ordering": "name"}).json()
    assert first["count"] == 13
    assert [r["name"] for r in first["results"]] == [
        "never-pushed", "repo00", "repo01", "repo02", "repo03"
    ]  # fmt: skip
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [r["name"] for r in second["results"]][0] == "repo04"
    assert "page=2" in first["next"] and "ordering=name" in first["next"]
    by_pulls = client.get(f"{NEW}/alice/repositories", {"ordering": "-pull_count"}).json()
    assert [r["pull_count"] for r in by_pulls["results"][:3]] == [11, 10, 9]
    # Never pushed: last when the newest come first, first otherwise.
    newest = client.get(f"{NEW}/alice/repositories").json()["results"]
    assert newest[-1]["name"] == "never-pushed"
    oldest = client.get(f"{NEW}/alice/repositories", {"ordering": "last_updated"}).json()
    assert oldest["results"][0]["name"] == "never-pushed"
    assert oldest["results"][1]["name"] == "repo00"
    found = client.get("/v2/repositories/alice/", {"name": "PO1", "ordering": "-name"}).json()
    assert [r["name"] for r in found["results"]] == ["repo11", "repo10"]
    assert_error(
        client.get(f"{NEW}/alice/repositories", {"ordering": "stars"}),
        400,
        "'stars' is not a sort order; use one of name, -name, last_updated",
    )
    assert_error(client.get(f"{NEW}/alice/repositories", {"page": 9}), 404, "Invalid page")


def test_pagination_ordering_and_filter_of_tags(alice):
    repo = repository("alice/app")
    for number, name in enumerate(["b", "a", "c", "v1.0", "v1.1"]):
        tag(repo, name, digest=f"sha256:{number:064}", age=number)
    client = basic("alice")
    newest = client.get(f"{NEW}/alice/repositories/app/tags", {"page_size": 2}).json()
    assert newest["count"] == 5
    assert [t["name"] for t in newest["results"]] == ["b", "a"]
    assert [t["name"] for t in client.get(newest["next"]).json()["results"]] == ["c", "v1.0"]
    oldest = client.get("/v2/repositories/alice/app/tags/", {"ordering": "last_updated"}).json()
    assert [t["name"] for t in oldest["results"]] == ["v1.1", "v1.0", "c", "a", "b"]
    named = client.get(f"{NEW}/alice/repositories/app/tags", {"ordering": "-name", "name": "V1"})
    assert [t["name"] for t in named.json()["results"]] == ["v1.1", "v1.0"]
    assert_error(
        client.get(f"{NEW}/alice/repositories/app/tags", {"ordering": "size"}),
        400,
        "use one of last_updated, -last_updated, name, -name",
    )


def test_query_counts_do_not_grow_with_rows(acme, alice, bob, django_assert_max_num_queries):
    client = bearer("bob")
    org = Namespace.objects.get(name="acme")

    def add(count: int, offset: int) -> None:
        readers = Team.objects.get(name="readers")
        for number in range(offset, offset + count):
            repo = Repository.objects.create(namespace=org, name=f"r{number}", is_private=True)
            TeamPermission.objects.create(team=readers, repository=repo, level="read")
            Star.objects.create(repository=repo, user=bob)
            tag(repo, "latest", digest=f"sha256:{number:064}", by=alice)
            tag(Repository.objects.get(name="app"), f"t{number}", digest=f"sha256:{number:064}")

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    paths = [f"{NEW}/acme/repositories", f"{NEW}/acme/repositories/app/tags"]
    add(2, 0)
    few = [queries(path) for path in paths]
    add(20, 2)
    assert [queries(path) for path in paths] == few
    with django_assert_max_num_queries(12):
        client.get(paths[0])


def test_create_a_repository(alice, acme, bob, django_capture_on_commit_callbacks):
    client = bearer("alice")
    created = client.post(
        f"{NEW}/alice/repositories",
        {"name": "tools/cli", "description": "CLI", "full_description": "# CLI"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["namespace"], body["name"], body["is_private"]) == ("alice", "tools/cli", False)
    assert body["permissions"] == {"read": True, "write": True, "admin": True}
    # Reachable with a slash in its name, by both spellings.
    assert client.get(f"{NEW}/alice/repositories/tools/cli").json()["description"] == "CLI"
    assert client.get("/v2/repositories/alice/tools/cli/tags/").json()["count"] == 0
    activity = Activity.objects.get(action=Activity.Action.REPO_CREATED)
    assert (activity.object_name, activity.actor) == ("alice/tools/cli", alice)
    # The namespace's default visibility when none is given.
    Namespace.objects.filter(name="acme").update(default_private=True)
    docker_hubs = client.post("/v2/repositories/", {"namespace": "acme", "name": "svc"})
    assert docker_hubs.status_code == 201
    assert docker_hubs.json()["is_private"] is True
    # Members may create in organizations that allow it.
    assert_error(
        bearer("bob").post(f"{NEW}/acme/repositories", {"name": "x"}),
        403,
        "You cannot create repositories in 'acme'.",
    )
    Organization.objects.filter(pk=acme.pk).update(members_can_create_repositories=True)
    assert bearer("bob").post(f"{NEW}/acme/repositories", {"name": "x"}).status_code == 201
    assert_error(
        token_client(alice, TokenScope.READ).post(f"{NEW}/alice/repositories", {"name": "y"}),
        403,
        "with a repo:read access token",
    )


@pytest.mark.parametrize(
    ("path", "body", "code", "detail"),
    [
        (f"{NEW}/alice/repositories", {"name": "Bad Name"}, 400,
         "name: 'Bad Name' is not a valid repository name. Use lowercase letters"),
        (f"{NEW}/alice/repositories", {}, 400, "name: This field is required."),
        (f"{NEW}/alice/repositories", {"name": "app"}, 400, "name: alice/app already exists."),
        (f"{NEW}/alice/repositories", {"name": "x", "description": "d" * 101}, 400,
         "description: Ensure this field has no more than 100 characters."),
        (f"{NEW}/alice/repositories", {"name": "x", "is_private": "maybe"}, 400,
         "is_private: Must be a valid boolean."),
        (f"{NEW}/alice/repositories", {"name": "x", "stars": 5}, 400,
         "Unknown field stars; allowed: description, full_description, is_private, name."),
        (f"{NEW}/nobody/repositories", {"name": "x"}, 404,
         "There is no user or organization named 'nobody'."),
        ("/v2/repositories/", {"name": "x"}, 400, "namespace: This field is required."),
        (f"{NEW}/alice/repositories/app", {"name": "renamed"}, 400,
         "Unknown field name; allowed: description, full_description, is_private."),
        (f"{NEW}/alice/repositories/app", {"is_private": None}, 400,
         "is_private: This field may not be null."),
    ],
)  # fmt: skip
def test_bad_requests_say_what_is_wrong(alice, path, body, code, detail):
    repository("alice/app")
    before = state()
    client = bearer("alice")
    response = client.patch(path, body) if path.endswith("/app") else client.post(path, body)
    assert_error(response, code, detail)
    assert state() == before


def test_change_visibility_and_descriptions(acme, alice, charlie):
    client = bearer("alice")
    assert anonymous().get(f"{NEW}/acme/repositories/app").status_code == 404
    changed = client.patch(
        f"{NEW}/acme/repositories/app", {"is_private": False, "description": "Now public"}
    )
    assert changed.status_code == 200
    assert (changed.json()["is_private"], changed.json()["description"]) == (False, "Now public")
    assert anonymous().get(f"{NEW}/acme/repositories/app").json()["description"] == "Now public"
    activity = Activity.objects.get(action=Activity.Action.VISIBILITY_CHANGED)
    assert (activity.data, activity.actor) == ({"visibility": "public"}, alice)
    # Only descriptions: no visibility change recorded.
    client.patch(f"{NEW}/acme/repositories/app", {"full_description": "README"})
    assert Activity.objects.filter(action=Activity.Action.VISIBILITY_CHANGED).count() == 1
    assert Repository.objects.get(name="app").full_description == "README"
    # A public repository is visible to charlie, who still may not change it.
    assert_error(
        bearer("charlie").patch(f"{NEW}/acme/repositories/app", {"is_private": True}),
        403,
        "You need admin access to acme/app.",
    )


def test_a_team_with_admin_may_change_and_delete(acme, bob, django_capture_on_commit_callbacks):
    TeamPermission.objects.filter(team__name="readers").update(level="admin")
    client = bearer("bob")
    assert client.patch(f"{NEW}/acme/repositories/app", {"description": "B"}).status_code == 200
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.delete(f"{NEW}/acme/repositories/app").status_code == 202
    assert len(callbacks) == 1


def test_delete_hides_the_repository_at_once(acme, alice, django_capture_on_commit_callbacks):
    client = basic("alice")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.delete("/v2/repositories/acme/app/")
    assert response.status_code == 202
    assert len(callbacks) == 1  # the registry clean-up
    assert Repository.objects.get(name="app").state == Repository.State.DELETING
    assert_error(client.get(f"{NEW}/acme/repositories/app"), 404, "No such repository")
    listed = client.get(f"{NEW}/acme/repositories").json()["results"]
    assert "app" not in [entry["name"] for entry in listed]
    activity = Activity.objects.get(action=Activity.Action.REPO_DELETED)
    assert activity.actor == alice
    # The name is free again; the new repository starts empty.
    assert client.post(f"{NEW}/acme/repositories", {"name": "app"}).status_code == 201
    assert client.get(f"{NEW}/acme/repositories/app/tags").json()["count"] == 0


def test_the_v1_delete_still_works(acme, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        assert basic("alice").delete("/v1/repositories/acme/app/").status_code == 202
    assert bearer("alice").get(f"{NEW}/acme/repositories/app").status_code == 404


def test_bad_credentials_are_refused_even_where_none_are_needed(acme):
    public = f"{NEW}/acme/repositories/site"
    assert anonymous().get(public).status_code == 200
    assert_error(basic("alice", "wrong").get(public), 401, "Incorrect username or password")
    junk = anonymous()
    junk.credentials(HTTP_AUTHORIZATION="Bearer junk")
    response = junk.get(public)
    assert_error(response, 401, "The token is not valid.")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_older_groups_route_still_answers(acme):
    groups = bearer("alice").get("/v2/repositories/acme/app/groups")
    assert groups.status_code == 200
    assert groups.json()["results"][0]["group_name"] == "readers"


# Deleting a tag, against the real registry


@pytest.fixture
def registry(tmp_path, settings) -> Iterator[RegistryClient]:
    """The distribution registry on a free port, with token auth from this portal."""
    ensure_signing_key()
    settings.REGISTRY_URL = f"http://127.0.0.1:{free_port()}"
    config = registry_config()
    config["storage"]["filesystem"]["rootdirectory"] = str(tmp_path / "storage")
    config.pop("notifications")
    (tmp_path / "config.yml").write_text(json.dumps(config))
    log = tmp_path / "registry.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(tmp_path / "config.yml")],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"{settings.REGISTRY_URL}/v2/", process=process, log=log)
        yield RegistryClient()
    finally:
        process.terminate()
        process.wait(timeout=10)


def push(client: RegistryClient, repo: Repository, *tags: str) -> None:
    """An image with only a config blob, pushed under the tags and recorded as the events
    receiver would."""
    name = repo.full_name
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                         "diff_ids": []}}).encode()  # fmt: skip
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    access = [{"type": "repository", "name": name, "actions": ["pull", "push"]}]
    auth = {"Authorization": f"Bearer {issue_token('test', access)['token']}"}
    started = requests.post(f"{client.base_url}/v2/{name}/blobs/uploads/", headers=auth)
    location = started.headers["Location"]
    location = location if location.startswith("http") else client.base_url + location
    uploaded = requests.put(location, params={"digest": config_digest}, data=config, headers=auth)
    assert uploaded.status_code == 201, uploaded.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    digest = ""
    for name_of_tag in tags:
        digest = client.put_manifest(name, name_of_tag, manifest, OCI_MANIFEST)
    for name_of_tag in tags:
        tag(repo, name_of_tag, digest=digest)


def test_delete_a_tag(acme, alice, bob, registry):
    app = Repository.objects.get(name="app")
    Tag.objects.filter(repository=app).delete()
    push(registry, app, "1", "2")
    make_writer(bob)
    assert_error(
        token_client(bob, TokenScope.WRITE).delete(f"{NEW}/acme/repositories/app/tags/1"),
        403,
        "A repo:write access token cannot delete acme/app",
    )
    response = bearer("bob").delete(f"{NEW}/acme/repositories/app/tags/1")
    assert response.status_code == 204, response.content
    assert registry.list_tags("acme/app") == ["2"]
    assert list(app.tags.values_list("name", flat=True)) == ["2"]
    activity = Activity.objects.get(action=Activity.Action.TAG_DELETED)
    assert (activity.data["tag"], activity.actor) == ("1", bob)
    older = basic("alice").delete("/v2/repositories/acme/app/tags/2/")
    assert older.status_code == 204
    assert registry.list_tags("acme/app") == []
    assert_error(
        bearer("bob").delete(f"{NEW}/acme/repositories/app/tags/2"), 404, "acme/app has no tag '2'"
    )
    assert_error(
        bearer("bob").delete(f"{NEW}/acme/repositories/app/tags/.bad"), 400, "not a valid tag"
    )


def test_delete_a_tag_with_the_registry_down(acme, alice, settings):
    settings.REGISTRY_URL = f"http://127.0.0.1:{free_port()}"
    response = bearer("alice").delete(f"{NEW}/acme/repositories/app/tags/latest")
    assert_error(response, 503, "The registry could not be reached; nothing was deleted.")
    assert Tag.objects.filter(name="latest").exists()
