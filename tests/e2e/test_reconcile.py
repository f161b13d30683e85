"""`manage.py registry_reconcile` against the real registry: after lost notifications, the
portal's rows come back as the registry has them, and a second run changes nothing.

Other tests of the session leave repositories in the registry; the command sees them too, so
these tests look at their own repositories and at totals only where they must be zero.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from accounts.models import AccessToken, Namespace, TokenScope, User
from registry.models import RegistryEvent
from repos.models import Manifest, Repository, Tag
from tests.e2e import test_v1_repositories as v1
from tests.factories import UserFactory
from tests.support.images import ContainerTools, ToolError
from tests.support.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
# The fixtures of the v1 tests: the session's images, alice's token, the portal's key.
images, tools, alice_token, as_portal = v1.images, v1.tools, v1.alice_token, v1.as_portal
NO_CHANGE = "Tags: 0 added, 0 moved, 0 removed. Manifests: 0 added, 0 removed."


def run_reconcile(portal, **env: str) -> subprocess.CompletedProcess:
    """Run the command as an operator would, with the portal's settings."""
    return subprocess.run(
        [sys.executable, "manage.py", "registry_reconcile"],
        cwd=ROOT,
        env={**portal.env, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def reconcile(portal) -> str:
    """The command's output; it must succeed."""
    result = run_reconcile(portal)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rows(full_name: str) -> dict[str, tuple]:
    """The portal's tags of a repository: name -> digest, media type, size and platforms."""
    namespace, name = full_name.split("/")
    return {
        tag.name: (
            tag.manifest.digest,
            tag.manifest.media_type,
            tag.manifest.size,
            tag.manifest.platforms,
        )
        for tag in Tag.objects.select_related("manifest").filter(
            repository__namespace__name=namespace,
            repository__name=name,
            repository__state=Repository.State.ACTIVE,
        )
    }


def assert_rows_match_the_registry(tools: ContainerTools, registry: str, full_name: str):
    """Each tag's row has the digest, media type and platforms skopeo reads."""
    tags = rows(full_name)
    tag_list = tools.inspect(f"{registry}/{full_name}:{next(iter(tags))}")["RepoTags"]
    assert sorted(tags) == sorted(tag_list)
    for tag, (digest, media_type, _, platforms) in tags.items():
        raw = tools.inspect(f"{registry}/{full_name}:{tag}", raw=True)
        assert media_type == raw["mediaType"]
        if "manifests" in raw:
            assert [platform["digest"] for platform in platforms] == [
                child["digest"] for child in raw["manifests"]
            ]
        else:
            inspected = tools.inspect(f"{registry}/{full_name}:{tag}")
            assert digest == inspected["Digest"]
            assert [(p["os"], p["architecture"]) for p in platforms] == [
                (inspected["Os"], inspected["Architecture"])
            ]


def test_lost_events_are_rebuilt_from_the_registry(portal, tools, alice, alice_token):
    registry = portal.registry_host
    tools.login(registry, "alice", alice_token)
    image = v1.push_image(tools, registry, "alice/reconciled:1.0")
    v1.push_image(tools, registry, "alice/reconciled:latest")
    index = v1.push_index(tools, registry, "alice/reconciled:multi")
    for tag, digest in [("1.0", image), ("latest", image), ("multi", index)]:
        v1.wait_for_tag("alice/reconciled", tag, digest)
    from_events = rows("alice/reconciled")

    # dora pushes too, then leaves: her name is nobody's any more.
    _, dora_token = AccessToken.issue(UserFactory(username="dora"), "e2e", TokenScope.WRITE)
    tools.login(registry, "dora", dora_token)
    orphan = v1.push_image(tools, registry, "dora/orphan:1")
    v1.wait_for_tag("dora/orphan", "1", orphan)
    tools.login(registry, "alice", alice_token)
    Repository.objects.filter(namespace__name="dora").delete()
    User.objects.filter(username="dora").delete()
    Namespace.objects.filter(name="dora").delete()

    # As if the registry had restarted before delivering anything: no events, no rows.
    repository = Repository.objects.get(namespace__name="alice", name="reconciled")
    repository.delete()
    RegistryEvent.objects.all().delete()

    output = reconcile(portal)
    assert "alice/reconciled" in next(line for line in output.splitlines() if "Created" in line)
    skipped = next(line for line in output.splitlines() if "Skipped" in line)
    assert "no such user or organization here" in skipped
    assert "dora/orphan" in skipped
    assert not Repository.objects.filter(name="orphan").exists()
    assert rows("alice/reconciled") == from_events
    assert_rows_match_the_registry(tools, registry, "alice/reconciled")
    recreated = Repository.objects.active().get(namespace__name="alice", name="reconciled")
    assert not recreated.is_private
    assert recreated.last_pushed is not None

    again = reconcile(portal)
    assert NO_CHANGE in again
    assert "Created" not in again
    assert rows("alice/reconciled") == from_events


def test_tags_are_added_moved_and_removed_as_the_registry_has_them(
    portal,
    tools,
    alice,
    alice_token,
):
    registry = portal.registry_host
    tools.login(registry, "alice", alice_token)
    image = v1.push_image(tools, registry, "alice/drifted:1")
    index = v1.push_index(tools, registry, "alice/drifted:2")
    one = v1.wait_for_tag("alice/drifted", "1", image)
    two = v1.wait_for_tag("alice/drifted", "2", index)
    from_events = rows("alice/drifted")

    # Lost: the push of "2"; a push that moved "1"; the delete of a tag "old".
    two.delete()
    Tag.objects.filter(pk=one.pk).update(manifest=two.manifest)
    Tag.objects.create(
        repository=one.repository, name="old", manifest=one.manifest, pushed_at=one.pushed_at
    )
    # And a manifest the registry no longer has.
    Manifest.objects.create(
        repository=one.repository, digest="sha256:" + "0" * 64, media_type="x", size=0
    )

    reconcile(portal)
    assert rows("alice/drifted") == from_events
    assert_rows_match_the_registry(tools, registry, "alice/drifted")
    assert not Manifest.objects.filter(digest="sha256:" + "0" * 64).exists()
    assert NO_CHANGE in reconcile(portal)


def test_an_unfinished_deletion_is_finished(portal, tools, alice, alice_token, as_portal):
    registry = portal.registry_host
    tools.login(registry, "alice", alice_token)
    image = v1.push_image(tools, registry, "alice/half-deleted:1")
    repository = v1.wait_for_tag("alice/half-deleted", "1", image).repository
    # A deletion whose task gave up while the registry was unreachable.
    Repository.objects.filter(pk=repository.pk).update(state=Repository.State.DELETING)

    output = reconcile(portal)
    assert "Finished deleting 1: alice/half-deleted" in output
    assert not Repository.objects.filter(pk=repository.pk).exists()
    with pytest.raises(ToolError) as gone:
        v1.inspect_with_portal_token(tools, registry, f"alice/half-deleted@{image}")
    assert "manifest unknown" in gone.value.stderr

    # The emptied repository stays in the registry's catalog; it does not come back.
    again = reconcile(portal)
    assert "alice/half-deleted" not in again
    assert not Repository.objects.filter(namespace__name="alice", name="half-deleted").exists()


def test_an_unreachable_registry_is_reported(portal):
    result = run_reconcile(portal, REGISTRY_URL=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "Could not read the registry" in result.stderr
    assert "Traceback" not in result.stderr
