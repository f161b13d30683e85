"""The registry spine end to end: the real registry behind nginx, the portal's token service
and event receiver, and the real buildah, podman and skopeo.

The registry's storage lives for the whole session while the database is emptied after each
test, so every test pushes to repository names of its own.
"""

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import redis
import requests
from django.db.models import Q
from django.utils import timezone

from accounts.models import AccessToken, TokenScope, User
from registry.models import RegistryEvent
from repos.models import Repository, Tag
from tests.factories import PASSWORD, UserFactory
from tests.support.images import ContainerTools, ToolError

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")
MESSAGE = "this is my new container to make image and then push to hub"
DOCKERFILE = """\
FROM {base}
RUN mkdir /mynewdir
RUN touch /mynewdir/mynewfile
RUN echo "this is my new container to make image and then push to hub" > /mynewdir/mynewfile
"""
BASE_IMAGE = "localhost/dockyard-tests/busybox"
ARM64_IMAGE = "localhost/dockyard-tests/busybox-arm64"
DENIED = "requested access to the resource is denied"
# The registry sends an event within milliseconds of the request; this long without one, and
# none left to apply, the portal is done with what the test did.
EVENTS_QUIET_SECONDS = 0.5


@pytest.fixture(autouse=True)
def _portal_settles(transactional_db: None, hub_cache: redis.Redis) -> Iterator[None]:
    """Each test starts with no sign-in rate limit used; after it, the portal applies the
    last events the registry sent (the pulls of the test's final reads) before the database
    is emptied: emptying it while an event is being applied can deadlock."""
    yield
    wait_for(events_settled, "the portal to apply the registry's last events")
    failed = RegistryEvent.objects.exclude(error="").values_list("action", "repository", "error")
    assert not failed, f"registry events the portal could not apply: {list(failed)}"


def events_settled() -> bool:
    quiet_since = timezone.now() - timedelta(seconds=EVENTS_QUIET_SECONDS)
    return not RegistryEvent.objects.filter(
        Q(processed__isnull=True) | Q(received__gt=quiet_since)
    ).exists()


@pytest.fixture(scope="session")
def image_tools(tmp_path_factory: pytest.TempPathFactory) -> ContainerTools:
    return ContainerTools.create(tmp_path_factory.mktemp("containers"))


@pytest.fixture(scope="session")
def base_image(image_tools: ContainerTools) -> str:
    image_tools.make_base_image(BASE_IMAGE)
    return BASE_IMAGE


@pytest.fixture(scope="session")
def arm64_image(image_tools: ContainerTools) -> str:
    image_tools.make_base_image(ARM64_IMAGE, arch="arm64", variant="v8")
    return ARM64_IMAGE


@pytest.fixture
def tools(image_tools: ContainerTools, tmp_path: Path) -> ContainerTools:
    """The session's image storage with this test's own logins."""
    return image_tools.with_auth_file(tmp_path / "auth.json")


def wait_for(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Poll until `check` returns something truthy: registry events are applied
    asynchronously."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout}s still waiting for {what}")
        time.sleep(0.1)
    return result


def wait_for_tag(full_name: str, tag: str, digest: str) -> Tag:
    namespace, _, name = full_name.partition("/")
    return wait_for(
        lambda: (
            Tag.objects.select_related("repository", "manifest", "pushed_by")
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


def pull_count(repository: Repository) -> int:
    return Repository.objects.get(pk=repository.pk).pull_count


def image_size(manifest: dict) -> int:
    """Compressed size as Docker Hub shows it: config and layers."""
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def push_as(tools: ContainerTools, registry: str, user: User, image: str, full_name: str) -> Tag:
    """Log in as `user` with the password, push `image` as full_name:latest, and wait for
    the portal to show it."""
    tools.login(registry, user.username, PASSWORD)
    digest = tools.push(image, f"{registry}/{full_name}")
    return wait_for_tag(full_name, "latest", digest)


def assert_portal_shows_image(
    tools: ContainerTools, reference: str, tag: Tag, pusher: User
) -> None:
    """The portal's Tag and Manifest rows agree with what skopeo reads from the registry."""
    inspected = tools.inspect(reference)
    raw = tools.inspect(reference, raw=True)
    config = tools.inspect(reference, config=True)
    manifest = tag.manifest
    assert manifest.digest == inspected["Digest"]
    assert manifest.media_type == raw["mediaType"]
    assert manifest.size == image_size(raw)
    assert manifest.platforms == [
        {
            "os": inspected["Os"],
            "architecture": inspected["Architecture"],
            "variant": inspected.get("Variant", ""),
            "digest": inspected["Digest"],
            "size": image_size(raw),
        }
    ]
    assert [layer["digest"] for layer in manifest.layers] == inspected["Layers"]
    assert [layer["size"] for layer in manifest.layers] == [
        layer["size"] for layer in raw["layers"]
    ]
    layer_history = [step for step in config["history"] if not step.get("empty_layer")]
    assert [layer["instruction"] for layer in manifest.layers] == [
        step.get("created_by", "") for step in layer_history
    ]
    assert tag.pushed_by == pusher
    assert tag.repository.created_by == pusher


def test_commit_a_container_push_it_and_pull_it_back(portal, tools, base_image, alice):
    registry = portal.registry_host
    with tools.container(base_image) as container:
        tools.run_in(container, "mkdir", "/mynewdir")
        tools.run_in(container, "sh", "-c", f"echo '{MESSAGE}' > /mynewdir/mynewfile")
        tools.commit(container, "alice/imageforhub")

    assert "Login Succeeded" in tools.login(registry, "alice", PASSWORD)
    digest = tools.push("alice/imageforhub", f"{registry}/alice/imageforhub")
    tools.remove_image("alice/imageforhub")
    assert not tools.image_exists("alice/imageforhub")

    tools.pull(f"{registry}/alice/imageforhub")
    output = tools.run_image(f"{registry}/alice/imageforhub", "cat", "/mynewdir/mynewfile")
    assert output == f"{MESSAGE}\n"

    tag = wait_for_tag("alice/imageforhub", "latest", digest)
    assert not tag.repository.is_private
    assert_portal_shows_image(tools, f"{registry}/alice/imageforhub", tag, alice)


def test_build_a_dockerfile_push_it_and_pull_it_back(portal, tools, base_image, alice, tmp_path):
    registry = portal.registry_host
    (tmp_path / "Dockerfile").write_text(DOCKERFILE.format(base=base_image))
    # The Docker format, as `docker build` makes; the commit test pushes OCI.
    tools.build(tmp_path, "alice/dockerfileimageforhub", format="docker")

    tools.login(registry, "alice", PASSWORD)
    digest = tools.push("alice/dockerfileimageforhub", f"{registry}/alice/dockerfileimageforhub")
    tools.remove_image("alice/dockerfileimageforhub")
    tools.pull(f"{registry}/alice/dockerfileimageforhub")
    output = tools.run_image(
        f"{registry}/alice/dockerfileimageforhub", "cat", "/mynewdir/mynewfile"
    )
    assert output == f"{MESSAGE}\n"

    tag = wait_for_tag("alice/dockerfileimageforhub", "latest", digest)
    assert tag.manifest.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [layer["instruction"] for layer in tag.manifest.layers][-3:] == [
        "/bin/sh -c mkdir /mynewdir",
        "/bin/sh -c touch /mynewdir/mynewfile",
        f'/bin/sh -c echo "{MESSAGE}" > /mynewdir/mynewfile',
    ]
    assert_portal_shows_image(tools, f"{registry}/alice/dockerfileimageforhub", tag, alice)


def test_a_two_platform_index_shows_both_platforms(portal, tools, base_image, arm64_image, alice):
    registry = portal.registry_host
    reference = f"{registry}/alice/multiplatform:1.0"
    tools.create_manifest_list("alice/multiplatform", [base_image, arm64_image])
    tools.login(registry, "alice", PASSWORD)
    digest = tools.push_manifest_list("alice/multiplatform", reference)

    tag = wait_for_tag("alice/multiplatform", "1.0", digest)
    index = tools.inspect(reference, raw=True)
    assert tag.manifest.media_type == index["mediaType"]
    expected = []
    for child in index["manifests"]:
        image = tools.inspect(f"{registry}/alice/multiplatform@{child['digest']}", raw=True)
        expected.append(
            {
                "os": child["platform"]["os"],
                "architecture": child["platform"]["architecture"],
                "variant": child["platform"].get("variant", ""),
                "digest": child["digest"],
                "size": image_size(image),
            }
        )
    assert tag.manifest.platforms == expected
    assert [(p["os"], p["architecture"], p["variant"]) for p in tag.manifest.platforms] == [
        ("linux", "amd64", ""),
        ("linux", "arm64", "v8"),
    ]
    assert tag.manifest.size == sum(platform["size"] for platform in expected)
    assert tag.pushed_by == alice


def test_a_private_repository_is_pulled_only_by_those_with_access(
    portal, tools, base_image, alice, charlie
):
    registry = portal.registry_host
    reference = f"{registry}/alice/private-app"
    tag = push_as(tools, registry, alice, base_image, "alice/private-app")
    Repository.objects.filter(pk=tag.repository.pk).update(is_private=True)
    _, charlie_token = AccessToken.issue(charlie, "ci", TokenScope.READ)

    with pytest.raises(ToolError) as anonymous:
        tools.inspect(reference, anonymous=True)
    assert DENIED in anonymous.value.stderr
    with pytest.raises(ToolError) as outsider:
        tools.inspect(reference, creds=f"charlie:{PASSWORD}")
    assert DENIED in outsider.value.stderr
    with pytest.raises(ToolError) as outsider_token:
        tools.inspect(reference, creds=f"charlie:{charlie_token}")
    assert DENIED in outsider_token.value.stderr
    assert tools.inspect(reference, creds=f"alice:{PASSWORD}")["Digest"] == tag.manifest.digest

    Repository.objects.filter(pk=tag.repository.pk).update(is_private=False)
    tools.logout(registry)
    tools.pull(reference)
    assert tools.run_image(reference, "echo", "pulled anonymously") == "pulled anonymously\n"


def test_a_read_token_logs_in_and_pulls_but_cannot_push(portal, tools, base_image, alice):
    registry = portal.registry_host
    reference = f"{registry}/alice/read-only"
    tag = push_as(tools, registry, alice, base_image, "alice/read-only")
    Repository.objects.filter(pk=tag.repository.pk).update(is_private=True)
    tools.logout(registry)
    _, secret = AccessToken.issue(alice, "ci", TokenScope.READ)

    assert "Login Succeeded" in tools.login(registry, "alice", secret)
    tools.pull(reference)
    with pytest.raises(ToolError) as denied:
        tools.push(base_image, f"{reference}:2")
    assert DENIED in denied.value.stderr
    with pytest.raises(ToolError) as missing:
        tools.inspect(f"{reference}:2", creds=f"alice:{PASSWORD}")
    assert "manifest unknown" in missing.value.stderr


def test_a_wrong_password_fails_with_the_portals_message(portal, tools, alice):
    registry = portal.registry_host
    with pytest.raises(ToolError) as login:
        tools.login(registry, "alice", "not-the-password")
    # podman login prints a fixed text for a 401 from the token service, never its message.
    assert "invalid username/password" in login.value.stderr
    assert registry not in tools.auth_file.read_text()
    with pytest.raises(ToolError) as pull:
        tools.pull(f"{registry}/alice/anything", creds="alice:not-the-password")
    assert "Incorrect username or password." in pull.value.stderr


def test_a_revoked_token_stops_working_at_once(portal, tools, base_image, alice):
    registry = portal.registry_host
    reference = f"{registry}/alice/token-pushed"
    token, secret = AccessToken.issue(alice, "laptop", TokenScope.WRITE)
    tools.login(registry, "alice", secret)
    digest = tools.push(base_image, reference)
    tag = wait_for_tag("alice/token-pushed", "latest", digest)
    assert tag.pushed_by == alice
    Repository.objects.filter(pk=tag.repository.pk).update(is_private=True)
    assert tools.inspect(reference)["Digest"] == digest

    AccessToken.objects.filter(pk=token.pk).update(is_active=False)
    with pytest.raises(ToolError) as revoked:
        tools.inspect(reference)
    assert "the token was revoked" in revoked.value.stderr
    with pytest.raises(ToolError):
        tools.login(registry, "alice", secret)


def catalog(registry_host: str, username: str, password: str) -> list[str]:
    """The registry's catalog as a client reads it: challenge, token, catalog."""
    url = f"http://{registry_host}/v2/_catalog?n=1000"
    challenge = requests.get(url, timeout=10)
    assert challenge.status_code == 401
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge.headers["WWW-Authenticate"]))
    answer = requests.get(params.pop("realm"), params=params, auth=(username, password), timeout=10)
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    listing = requests.get(url, headers=headers, timeout=10)
    listing.raise_for_status()
    return listing.json()["repositories"]


def test_pushing_into_someone_elses_namespace_is_denied_and_creates_nothing(
    portal, tools, base_image, alice, bob
):
    registry = portal.registry_host
    tools.login(registry, "alice", PASSWORD)
    with pytest.raises(ToolError) as denied:
        tools.push(base_image, f"{registry}/bob/from-alice")
    assert DENIED in denied.value.stderr

    # A push alice may make, applied after the denied one, shows the portal has caught up.
    digest = tools.push(base_image, f"{registry}/alice/own-app")
    wait_for_tag("alice/own-app", "latest", digest)
    assert not Repository.objects.filter(namespace__name="bob", name="from-alice").exists()
    operator = UserFactory(username="operator", is_staff=True)
    repositories = catalog(registry, operator.username, PASSWORD)
    assert "alice/own-app" in repositories
    assert "bob/from-alice" not in repositories


def test_pulls_are_counted(portal, tools, base_image, alice):
    registry = portal.registry_host
    reference = f"{registry}/alice/counted"
    tag = push_as(tools, registry, alice, base_image, "alice/counted")
    tools.logout(registry)

    tools.pull(reference)
    tools.pull(reference)
    wait_for(lambda: pull_count(tag.repository) >= 2, "the pulls to be counted")
    # The portal's own reading of the manifest after the push is no pull.
    wait_for(events_settled, "the portal to apply the registry's last events")
    assert pull_count(tag.repository) == 2
    assert Tag.objects.get(pk=tag.pk).last_pulled is not None
