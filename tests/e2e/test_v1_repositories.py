"""The v1 repository API and repository deletion end to end: the real registry behind nginx,
the portal, its task (a worker when a broker is configured), buildah and skopeo.

The registry's storage lives for the whole session while the database is emptied after each
test, so every test pushes to repository names of its own.
"""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import requests

from accounts.models import AccessToken, TokenScope, User
from registry.keys import signing_key
from registry.tokens import issue_token
from repos.models import Manifest, Repository, Tag
from tests.e2e.conftest import wait_until_registry_settles
from tests.support.images import ContainerTools, ToolError

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("registry_settles"),
]

T = TypeVar("T")
AMD64_IMAGE = "localhost/dockyard-v1-tests/busybox"
ARM64_IMAGE = "localhost/dockyard-v1-tests/busybox-arm64"
DENIED = "requested access to the resource is denied"


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> ContainerTools:
    """Image storage for the session, with a linux/amd64 and a linux/arm64 busybox image."""
    tools = ContainerTools.create(tmp_path_factory.mktemp("v1-containers"))
    tools.make_base_image(AMD64_IMAGE)
    tools.make_base_image(ARM64_IMAGE, arch="arm64", variant="v8")
    return tools


@pytest.fixture
def tools(images: ContainerTools, tmp_path: Path) -> ContainerTools:
    return images.with_auth_file(tmp_path / "auth.json")


@pytest.fixture
def alice_token(alice: User) -> str:
    """alice's secret for the registry and the API: an access token, which the portal
    checks without the password hasher the test settings use."""
    return AccessToken.issue(alice, "e2e", TokenScope.ADMIN)[1]


@pytest.fixture
def as_portal(portal, settings) -> Iterator[None]:
    """This process mints registry tokens with the portal's key, as the portal does for its
    own calls: a repository being deleted is out of every user's reach at once, so only
    such a token can tell whether the registry still holds its images."""
    settings.HUB_DATA_DIR = portal.data_dir
    settings.REGISTRY_SERVICE = portal.registry_host
    signing_key.cache_clear()
    yield
    signing_key.cache_clear()


def wait_for(check: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Poll until `check` returns something truthy: events and tasks run asynchronously."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout}s still waiting for {what}")
        time.sleep(0.2)
    return result


def wait_for_tag(full_name: str, tag: str, digest: str) -> Tag:
    namespace, name = full_name.split("/")
    return wait_for(
        lambda: (
            Tag.objects.select_related("repository", "manifest")
            .filter(
                repository__namespace__name=namespace,
                repository__name=name,
                repository__state=Repository.State.ACTIVE,
                name=tag,
                manifest__digest=digest,
            )
            .first()
        ),
        f"the portal to show {full_name}:{tag} at {digest}",
    )


def push_image(tools: ContainerTools, registry: str, reference: str) -> str:
    """Push the amd64 image to host/ns/name:tag; its digest."""
    return tools.push(AMD64_IMAGE, f"{registry}/{reference}")


def push_index(tools: ContainerTools, registry: str, reference: str) -> str:
    """Push an index of the amd64 and arm64 images to host/ns/name:tag; its digest."""
    local = f"localhost/{reference.replace(':', '-')}-{time.monotonic_ns()}"
    tools.create_manifest_list(local, [AMD64_IMAGE, ARM64_IMAGE])
    return tools.push_manifest_list(local, f"{registry}/{reference}")


def inspect_raw(tools: ContainerTools, reference: str, token: str) -> dict:
    """`skopeo inspect --raw` with a registry bearer token."""
    argv = [
        "inspect",
        "--tls-verify=false",
        "--retry-times",
        "0",
        "--raw",
        "--registry-token",
        token,
    ]
    return json.loads(tools.skopeo(*argv, f"docker://{reference}"))


def inspect_with_portal_token(tools: ContainerTools, registry: str, reference: str) -> dict:
    """`skopeo inspect --raw` with a pull token as the portal mints for itself (`as_portal`)."""
    name = reference.split("@")[0].split(":")[0]
    access = [{"type": "repository", "name": name, "actions": ["pull"]}]
    return inspect_raw(tools, f"{registry}/{reference}", issue_token("e2e", access)["token"])


def test_old_clients_push_with_the_token_from_put_repositories(portal, tools, alice, alice_token):
    registry = portal.registry_host
    # Old docker clients reach the index API through the registry's host.
    answer = requests.put(
        f"http://{registry}/v1/repositories/alice/v1-pushed/",
        json=[{"id": "9e89cc6f0bc3"}],
        headers={"X-Docker-Token": "true"},
        auth=("alice", alice_token),
        timeout=10,
    )
    assert answer.status_code == 201
    assert answer.headers["X-Docker-Endpoints"] == registry
    signature = answer.headers["X-Docker-Token"].split(",")[0].removeprefix("signature=")

    tools.skopeo(
        "copy", "--dest-tls-verify=false", "--dest-registry-token", signature,
        f"containers-storage:{AMD64_IMAGE}", f"docker://{registry}/alice/v1-pushed:1.0",
    )  # fmt: skip
    inspected = tools.inspect(f"{registry}/alice/v1-pushed:1.0", creds=f"alice:{alice_token}")
    tag = wait_for_tag("alice/v1-pushed", "1.0", inspected["Digest"])
    assert tag.pushed_by == alice
    assert tag.repository.created_by == alice

    end = requests.put(
        f"http://{registry}/v1/repositories/alice/v1-pushed/images",
        json=[{"id": "9e89cc6f0bc3", "checksum": "b486531f9a77"}],
        auth=("alice", alice_token),
        timeout=10,
    )
    assert end.status_code == 204
    listed = requests.get(f"http://{registry}/v1/repositories/alice/v1-pushed/images", timeout=10)
    assert [(image["digest"], image["tags"]) for image in listed.json()] == [
        (inspected["Digest"], ["1.0"])
    ]

    # A token from /auth is for the registry too; anonymous gets pull on a public repository.
    auth = requests.put(f"{portal.url}/v1/repositories/alice/v1-pushed/auth", timeout=10)
    assert auth.json()["scope"] == "repository:alice/v1-pushed:pull"
    raw = inspect_raw(tools, f"{registry}/alice/v1-pushed:1.0", auth.json()["token"])
    assert raw["mediaType"] == tag.manifest.media_type


def test_deleting_a_repository_empties_the_registry(portal, tools, alice, alice_token, as_portal):
    registry = portal.registry_host
    tools.login(registry, "alice", alice_token)
    image = push_image(tools, registry, "alice/v1-doomed:1.0")
    push_image(tools, registry, "alice/v1-doomed:latest")
    index = push_index(tools, registry, "alice/v1-doomed:multi")
    tag = wait_for_tag("alice/v1-doomed", "multi", index)
    wait_for_tag("alice/v1-doomed", "1.0", image)
    wait_for_tag("alice/v1-doomed", "latest", image)
    children = [
        child["digest"]
        for child in inspect_with_portal_token(tools, registry, "alice/v1-doomed:multi")[
            "manifests"
        ]
    ]
    digests = [image, index, *children]
    for digest in digests:
        inspect_with_portal_token(tools, registry, f"alice/v1-doomed@{digest}")

    listed = requests.get(f"{portal.url}/v1/repositories/alice/v1-doomed/images", timeout=10)
    tags = {image["digest"]: image["tags"] for image in listed.json()}
    assert tags[image] == ["1.0", "latest"]
    assert tags[index] == ["multi"]

    response = requests.delete(
        f"http://{registry}/v1/repositories/alice/v1-doomed/",
        auth=("alice", alice_token),
        timeout=30,
    )
    assert response.status_code == 202

    # At once: the repository is gone for its users.
    gone = requests.get(f"{portal.url}/v1/repositories/alice/v1-doomed/images", timeout=10)
    assert gone.status_code == 404
    # Once the clean-up and garbage collection ran: pulls are denied, no manifest is left in
    # the registry, no rows in the portal.
    wait_until_registry_settles()
    with pytest.raises(ToolError) as denied:
        tools.inspect(f"{registry}/alice/v1-doomed:1.0")
    assert DENIED in denied.value.stderr

    def registry_is_empty() -> bool:
        for digest in digests:
            try:
                inspect_with_portal_token(tools, registry, f"alice/v1-doomed@{digest}")
            except ToolError as error:
                assert "manifest unknown" in error.stderr
            else:
                return False
        return True

    wait_for(registry_is_empty, "the registry to delete every manifest of alice/v1-doomed")
    with pytest.raises(ToolError) as untagged:
        inspect_with_portal_token(tools, registry, "alice/v1-doomed:1.0")
    assert "manifest unknown" in untagged.value.stderr
    wait_for(
        lambda: not Repository.objects.filter(pk=tag.repository.pk).exists(),
        "the portal to remove the repository's rows",
    )
    assert not Manifest.objects.filter(digest__in=digests).exists()

    # A repository created again with the same name starts empty.
    again = requests.put(
        f"{portal.url}/v1/repositories/alice/v1-doomed/", auth=("alice", alice_token), timeout=10
    )
    assert again.status_code == 201
    listed = requests.get(
        f"{portal.url}/v1/repositories/alice/v1-doomed/images",
        auth=("alice", alice_token),
        timeout=10,
    )
    assert listed.json() == []
