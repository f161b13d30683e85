"""Deleting tags and repositories from the settings page, garbage collection, and renaming and
transferring, end to end: the browser, the real registry (restarted read-only for garbage
collection), buildah, skopeo and podman.

The registry's storage lives for the whole session, so each test pushes images of its own,
with a layer of random bytes: their blobs are the repository's alone.
"""

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from orgs.models import Organization
from registry.models import GarbageCollection
from repos.models import Repository, RepositoryRedirect, Tag
from tests.e2e import test_v1_repositories as v1
from tests.e2e.conftest import Portal, wait_until_registry_settles
from tests.e2e.test_signup import sign_in, submit
from tests.support.images import ContainerTools, ToolError

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("registry_settles"),
]

ROOT = Path(__file__).resolve().parents[2]
# The v1 tests' fixtures: the session's busybox images, a login file per test, alice's
# access token, and registry tokens minted with the portal's key.
images, tools, alice_token, as_portal = v1.images, v1.tools, v1.alice_token, v1.as_portal
wait_for, wait_for_tag = v1.wait_for, v1.wait_for_tag


def unique_image(tools: ContainerTools, name: str, tmp_path: Path) -> str:
    """A local busybox image with 256 KiB of random bytes in its one layer."""
    noise = tmp_path / f"{name}.bin"
    noise.write_bytes(os.urandom(256 * 1024))
    image = f"localhost/dockyard-deletion-tests/{name}"
    with tools.container("scratch") as container:
        tools.buildah("copy", container, str(noise), "/noise.bin")
        tools.buildah("copy", container, "/bin/busybox", "/bin/busybox")
        tools.configure(container, "--cmd", "/bin/busybox")
        tools.commit(container, image)
    return image


def blob_path(portal: Portal, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    storage = portal.data_dir / "registry" / "storage" / "docker" / "registry" / "v2"
    return storage / "blobs" / "sha256" / hex_digest[:2] / hex_digest / "data"


def storage_bytes(portal: Portal) -> int:
    root = portal.data_dir / "registry" / "storage"
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def tag_names(full_name: str) -> set[str]:
    namespace, name = full_name.split("/")
    return set(
        Tag.objects.filter(
            repository__namespace__name=namespace,
            repository__name=name,
            repository__state=Repository.State.ACTIVE,
        ).values_list("name", flat=True)
    )


def manifest_unknown(tools: ContainerTools, registry: str, reference: str) -> bool:
    """Does the registry itself (asked with the portal's token) hold no such manifest?"""
    try:
        v1.inspect_with_portal_token(tools, registry, reference)
    except ToolError as error:
        assert "manifest unknown" in error.stderr, error.stderr
        return True
    return False


def status(page: Page):
    return expect(page.get_by_role("status"))


def delete_in_browser(page: Page, portal: Portal, full_name: str) -> None:
    page.goto(f"{portal.url}/r/{full_name}/settings/")
    page.get_by_label(f"Type {full_name} to confirm", exact=True).fill(full_name)
    submit(page, "Delete repository")


def test_alice_deletes_a_tag_then_the_repository_and_gc_frees_its_blobs(
    portal, page: Page, tools, alice: User, alice_token, as_portal, tmp_path
):
    registry = portal.registry_host
    tools.login(registry, "alice", alice_token)
    image = unique_image(tools, "tmp", tmp_path)
    digest = tools.push(image, f"{registry}/alice/tmp:1.0")
    tools.push(image, f"{registry}/alice/tmp:latest")
    wait_for_tag("alice/tmp", "1.0", digest)
    wait_for_tag("alice/tmp", "latest", digest)
    manifest = v1.inspect_with_portal_token(tools, registry, "alice/tmp:1.0")
    blobs = [
        digest,
        manifest["config"]["digest"],
        *(layer["digest"] for layer in manifest["layers"]),
    ]
    assert all(blob_path(portal, blob).exists() for blob in blobs)

    # Both tags are on one manifest: deleting one must leave the other.
    sign_in(page, portal, "alice")
    page.goto(f"{portal.url}/r/alice/tmp/settings/")
    expect(page.locator("h1")).to_contain_text("alice/tmp")
    page.get_by_label("Tag", exact=True).fill("latest")
    submit(page, "Delete tag")
    status(page).to_contain_text("Deleted the tag latest of alice/tmp.")
    with pytest.raises(ToolError) as untagged:
        tools.inspect(f"{registry}/alice/tmp:latest")
    assert "manifest unknown" in untagged.value.stderr
    assert tools.inspect(f"{registry}/alice/tmp:1.0")["Digest"] == digest
    assert tag_names("alice/tmp") == {"1.0"}
    kept = Tag.objects.get(repository__name="tmp", name="1.0")
    assert kept.pushed_by == alice  # the portal's own put back is not a push by nobody

    unique = sum(blob_path(portal, blob).stat().st_size for blob in blobs)
    last_run = GarbageCollection.objects.order_by("-pk").values_list("pk", flat=True).first()
    before = storage_bytes(portal)
    page.get_by_label("Type alice/tmp to confirm", exact=True).fill("alice/tmp")
    submit(page, "Delete repository")
    assert page.url == f"{portal.url}/"
    status(page).to_contain_text("alice/tmp was deleted.")

    # Gone for everyone at once: the page, the API, both tags.
    page.goto(f"{portal.url}/r/alice/tmp/")
    expect(page.locator("body")).to_contain_text("not found", ignore_case=True)
    assert portal.get("/r/alice/tmp/", auth=("alice", alice_token)).status_code == 404
    assert portal.get("/v1/repositories/alice/tmp/images").status_code == 404
    for tag in ("1.0", "latest"):
        with pytest.raises(ToolError):
            tools.inspect(f"{registry}/alice/tmp:{tag}")
    wait_for(
        lambda: not Repository.objects.filter(namespace__name="alice", name="tmp").exists(),
        "the task to empty the registry and remove the rows",
    )

    # Garbage collection ran after the deletion, read-only, and freed the blobs.
    run = wait_for(
        lambda: (
            GarbageCollection.objects.filter(pk__gt=last_run or 0, finished__isnull=False)
            .order_by("-pk")
            .first()
        ),
        "garbage collection after the deletion",
    )
    assert run.status == GarbageCollection.Status.DONE, run.output
    wait_until_registry_settles()
    assert manifest_unknown(tools, registry, f"alice/tmp@{digest}")
    assert not any(blob_path(portal, blob).exists() for blob in blobs)
    assert before - storage_bytes(portal) >= unique
    assert run.bytes_freed >= unique
    # The registry takes pushes again: the same name starts with only the new tag.
    again = tools.push(image, f"{registry}/alice/tmp:2.0")
    wait_for_tag("alice/tmp", "2.0", again)
    assert tag_names("alice/tmp") == {"2.0"}
    listed = json.loads(
        tools.skopeo("list-tags", "--tls-verify=false", f"docker://{registry}/alice/tmp")
    )
    assert listed["Tags"] == ["2.0"]


def test_a_deletion_with_the_registry_down_finishes_when_it_is_back(
    portal, page: Page, tools, alice: User, alice_token, as_portal, tmp_path
):
    registry = portal.registry_host
    tools.login(registry, "alice", alice_token)
    digest = tools.push(unique_image(tools, "outage", tmp_path), f"{registry}/alice/outage:1")
    repository = wait_for_tag("alice/outage", "1", digest).repository
    sign_in(page, portal, "alice")

    portal.stop_registry()
    try:
        delete_in_browser(page, portal, "alice/outage")
        status(page).to_contain_text("alice/outage was deleted.")
        # Hidden at once, though nothing could be deleted in the registry yet.
        assert Repository.objects.get(pk=repository.pk).state == Repository.State.DELETING
        assert portal.get("/r/alice/outage/").status_code == 404
        assert portal.get("/v1/repositories/alice/outage/images").status_code == 404
    finally:
        portal.start_registry()

    # The worker retries the clean-up with a backoff until the registry answers again.
    wait_for(
        lambda: not Repository.objects.filter(pk=repository.pk).exists(),
        "the deletion to finish once the registry is back",
    )
    wait_until_registry_settles()
    with pytest.raises(ToolError) as denied:
        tools.inspect(f"{registry}/alice/outage:1")
    assert v1.DENIED in denied.value.stderr
    assert manifest_unknown(tools, registry, f"alice/outage@{digest}")


def test_rename_then_transfer_moves_the_images(
    portal, page: Page, tools, alice: User, alice_token, as_portal, tmp_path
):
    registry = portal.registry_host
    Organization.create("acme", alice)
    tools.login(registry, "alice", alice_token)
    image = unique_image(tools, "before", tmp_path)
    digest = tools.push(image, f"{registry}/alice/before:1")
    index = v1.push_index(tools, registry, "alice/before:multi")
    wait_for_tag("alice/before", "1", digest)
    wait_for_tag("alice/before", "multi", index)
    children = [
        child["digest"]
        for child in v1.inspect_with_portal_token(tools, registry, "alice/before:multi")[
            "manifests"
        ]
    ]

    sign_in(page, portal, "alice")
    page.goto(f"{portal.url}/r/alice/before/settings/")
    page.locator("#rename").get_by_label("Name", exact=True).fill("after")
    submit(page, "Rename")
    assert page.url == f"{portal.url}/r/alice/after/settings/"
    status(page).to_contain_text("alice/before is now alice/after")
    wait_until_registry_settles()

    # The images moved: pull them under the new name; the index with both platforms.
    tools.pull(f"{registry}/alice/after:1")
    assert tools.inspect(f"{registry}/alice/after:1")["Digest"] == digest
    moved = v1.inspect_raw(
        tools,
        f"{registry}/alice/after:multi",
        v1.issue_token("e2e", [{"type": "repository", "name": "alice/after", "actions": ["pull"]}])[
            "token"
        ],
    )
    assert [child["digest"] for child in moved["manifests"]] == children
    assert tag_names("alice/after") == {"1", "multi"}
    assert Tag.objects.get(repository__name="after", name="1").pushed_by == alice
    # The old page address leads to the new one; the old image name stops resolving.
    old_page = portal.get("/r/alice/before/", allow_redirects=False)
    assert old_page.status_code in (301, 302)
    assert old_page.headers["Location"].endswith("/r/alice/after/")
    wait_for(
        lambda: (
            manifest_unknown(tools, registry, f"alice/before@{digest}")
            and manifest_unknown(tools, registry, f"alice/before@{index}")
        ),
        "the old name to be emptied in the registry",
    )
    with pytest.raises(ToolError):
        tools.inspect(f"{registry}/alice/before:1")

    # Transfer to the organization alice owns; push and pull there.
    page.locator("#rename").get_by_label("Namespace", exact=True).select_option("acme")
    page.locator("#rename").get_by_label("Name", exact=True).fill("moved")
    submit(page, "Rename")
    assert page.url == f"{portal.url}/r/acme/moved/settings/"
    wait_until_registry_settles()
    assert tools.inspect(f"{registry}/acme/moved:1")["Digest"] == digest
    pushed = tools.push(image, f"{registry}/acme/moved:2")
    wait_for_tag("acme/moved", "2", pushed)
    tools.pull(f"{registry}/acme/moved:2")
    assert tag_names("acme/moved") == {"1", "2", "multi"}
    assert set(RepositoryRedirect.objects.values_list("full_name", flat=True)) >= {
        "alice/before",
        "alice/after",
    }
    assert (
        portal.get("/r/alice/before/", allow_redirects=False)
        .headers["Location"]
        .endswith("/r/acme/moved/")
    )

    # The old name is free again and starts empty.
    fresh = tools.push(image, f"{registry}/alice/before:new")
    wait_for_tag("alice/before", "new", fresh)
    assert tag_names("alice/before") == {"new"}
