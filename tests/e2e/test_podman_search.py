"""`podman search` and the calls `docker search` makes, against the running stack through the
registry front (nginx sends /v1/ to the portal).

podman calls /v1/search without credentials, even after `podman login`, so it lists public
repositories only. docker's daemon sends Basic auth, or a registry token it got from /token
with its identity token; there is no Docker engine here (the docker CLI alone cannot search),
so the same HTTP calls are made with requests.
"""

import json

import pytest
import requests

from accounts.models import Namespace, User
from repos.models import Repository, Star
from tests.e2e import test_registry as spine
from tests.e2e.conftest import Portal
from tests.factories import PASSWORD
from tests.support.images import ContainerTools

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The registry tests' fixtures: images on a storage of their own, a login file per test, and
# waiting for the portal to apply the registry's events after each test.
image_tools = spine.image_tools
base_image = spine.base_image
tools = spine.tools
_portal_settles = spine._portal_settles

PUBLIC = {"alice/seagull-public", "library/seagull"}
PRIVATE = "alice/seagull-private"


@pytest.fixture
def pushed(portal: Portal, tools: ContainerTools, base_image: str, alice: User, bob: User) -> None:
    """alice pushes two repositories with podman's tools, describes them and makes one
    private; bob stars the public one. library/seagull is official (rows only: pushing to
    library needs staff)."""
    for full_name in (*sorted(PUBLIC - {"library/seagull"}), PRIVATE):
        spine.push_as(tools, portal.registry_host, alice, base_image, full_name)
    public = Repository.objects.get(namespace__name="alice", name="seagull-public")
    public.description = "Seagulls, in public"
    public.save()
    Star.objects.create(repository=public, user=bob)
    Repository.objects.filter(namespace__name="alice", name="seagull-private").update(
        is_private=True, description="Seagulls, in secret"
    )
    library = Namespace.objects.create(name="library", kind=Namespace.Kind.ORG)
    Repository.objects.create(namespace=library, name="seagull", description="The seagull")


def podman_search(tools: ContainerTools, registry: str, term: str) -> dict[str, dict]:
    """`podman search --format json`, by listed name."""
    output = tools.podman("search", "--tls-verify=false", "--format", "json", f"{registry}/{term}")
    # With no hits podman prints nothing at all.
    return {hit["Name"]: hit for hit in json.loads(output or "[]")}


def test_podman_search_lists_public_images_with_descriptions_and_stars(
    portal: Portal, tools: ContainerTools, pushed: None
):
    registry = portal.registry_host
    found = podman_search(tools, registry, "seagull")
    assert set(found) == {f"{registry}/{name}" for name in PUBLIC}
    public = found[f"{registry}/alice/seagull-public"]
    assert (public["Description"], public["Stars"], public["Official"]) == (
        "Seagulls, in public",
        1,
        "",
    )
    official = found[f"{registry}/library/seagull"]
    assert (official["Description"], official["Stars"], official["Official"]) == (
        "The seagull",
        0,
        "[OK]",
    )
    # The exact name in `library` is the best match.
    output = tools.podman("search", "--tls-verify=false", "--limit", "1", f"{registry}/seagull")
    assert f"{registry}/library/seagull" in output

    # Logged in as the owner, podman still searches anonymously: no private hits.
    tools.login(registry, "alice", PASSWORD)
    assert set(podman_search(tools, registry, "seagull")) == set(found)
    assert f"{registry}/{PRIVATE}" not in podman_search(tools, registry, "seagull-private")


def v1_search(registry: str, term: str, **kwargs) -> requests.Response:
    return requests.get(
        f"http://{registry}/v1/search", params={"q": term, "n": 25}, timeout=10, **kwargs
    )


def hit_names(response: requests.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {hit["name"] for hit in response.json()["results"]}


def test_docker_search_calls_through_the_registry_front(
    portal: Portal, pushed: None, charlie: User
):
    registry = portal.registry_host
    ping = requests.get(f"http://{registry}/v1/_ping", timeout=10)
    assert (ping.status_code, ping.json()) == (200, True)
    assert ping.headers["X-Docker-Registry-Standalone"] == "True"
    assert ping.headers["X-Docker-Registry-Version"] == "0.6.0"

    assert hit_names(v1_search(registry, "seagull")) == PUBLIC
    # Basic auth, as docker sends it to a standalone index.
    assert hit_names(v1_search(registry, "seagull", auth=("alice", PASSWORD))) == PUBLIC | {PRIVATE}
    assert hit_names(v1_search(registry, "seagull", auth=("charlie", PASSWORD))) == PUBLIC
    refused = v1_search(registry, "seagull", auth=("alice", "not-her-password"))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Incorrect username or password."


def test_docker_search_with_an_identity_token(portal: Portal, pushed: None):
    """docker logged in with an identity token asks the realm of the registry's challenge for
    `registry:catalog:search` and sends that token to /v1/search."""
    registry = portal.registry_host
    challenge = requests.get(f"http://{registry}/v2/", timeout=10)
    assert challenge.status_code == 401
    realm, service = (
        challenge.headers["WWW-Authenticate"].split(f'{key}="')[1].split('"')[0]
        for key in ("realm", "service")
    )
    login = requests.post(
        realm,
        data={
            "grant_type": "password",
            "username": "alice",
            "password": PASSWORD,
            "service": service,
            "client_id": "docker",
            "access_type": "offline",
        },
        timeout=10,
    )
    assert login.status_code == 200, login.text
    token = requests.post(
        realm,
        data={
            "grant_type": "refresh_token",
            "refresh_token": login.json()["refresh_token"],
            "service": service,
            "client_id": "docker",
            "scope": "registry:catalog:search",
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert hit_names(v1_search(registry, "seagull", headers=bearer)) == PUBLIC | {PRIVATE}
