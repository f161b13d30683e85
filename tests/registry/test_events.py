"""The registry notification receiver (DESIGN §5): POST /registry/events as the distribution
registry sends it, then what the portal shows once the events are applied.

Manifest rows are created here where a test needs one, so that applying a push does not have
to fetch the manifest from a registry; the one test that must fetch uses a registry double.
"""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Namespace
from registry.client import OCI_MANIFEST, PORTAL_SUBJECT, FetchedManifest, RegistryError
from registry.events import apply_pending
from registry.models import RegistryEvent
from repos.models import Manifest, Repository, Tag

pytestmark = pytest.mark.django_db

CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
CONFIG = "sha256:" + "c" * 64
LAYER = "sha256:" + "d" * 64
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rfc3339(moment: datetime, offset_hours: int = 0) -> str:
    """As Go writes a time.Time: nanoseconds, and the registry host's zone."""
    local = moment.astimezone(timezone(timedelta(hours=offset_hours)))
    zone = "Z" if offset_hours == 0 else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "789" + zone


_ids = iter(range(1, 10**9))


def event(
    action: str,
    repository: str = "alice/app",
    *,
    when: datetime = T0,
    digest: str = DIGEST_A,
    tag: str | None = None,
    media_type: str | None = OCI_MANIFEST,
    actor: str = "alice",
    event_id: str | None = None,
    offset_hours: int = 0,
) -> dict:
    target = {"repository": repository, "digest": digest}
    if media_type:
        target |= {"mediaType": media_type, "size": 1234, "length": 1234}
        target["url"] = f"http://127.0.0.1:5001/v2/{repository}/manifests/{digest}"
    if tag:
        target["tag"] = tag
    return {
        "id": event_id or f"event-{next(_ids)}",
        "timestamp": rfc3339(when, offset_hours),
        "action": action,
        "target": target,
        "request": {"id": "req", "addr": "127.0.0.1", "host": "127.0.0.1:5000", "method": "PUT"},
        "actor": {"name": actor},
        "source": {"addr": "registry:5001", "instanceID": "x"},
    }


def manifest_delete(repository: str = "alice/app", *, when: datetime, digest: str) -> dict:
    """What distribution sends for DELETE /v2/<name>/manifests/<digest>: no media type."""
    return event("delete", repository, when=when, digest=digest, media_type=None)


def post(body, *, secret: str | None = None, raw: bytes | None = None):
    secret = settings.REGISTRY_EVENTS_SECRET if secret is None else secret
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    data = raw if raw is not None else json.dumps(body)
    return Client().post("/registry/events", data, content_type=CONTENT_TYPE, **headers)


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """POST events in one envelope and run what the receiver queues once its request commits."""

    def deliver(*events: dict):
        with django_capture_on_commit_callbacks(execute=True):
            response = post({"events": list(events)})
        assert response.status_code == 200, response.content
        return response

    return deliver


@pytest.fixture
def app(alice):
    return Repository.objects.create(namespace=Namespace.objects.get(name="alice"), name="app")


def make_manifest(repository: Repository, digest: str) -> Manifest:
    return Manifest.objects.create(
        repository=repository, digest=digest, media_type=OCI_MANIFEST, size=1234
    )


def tags(repository: Repository) -> dict[str, str]:
    return dict(Tag.objects.filter(repository=repository).values_list("name", "manifest__digest"))


# Authentication and validation


@pytest.mark.parametrize("secret", ["wrong", "", "Basic x"])
def test_wrong_or_missing_secret_is_401(secret):
    response = post({"events": [event("pull", tag="latest")]}, secret=secret)
    assert response.status_code == 401
    assert "secret" in response.json()["detail"]
    assert not RegistryEvent.objects.exists()


def without(key: str, inside: str | None = None) -> dict:
    bad = event("push", tag="latest")
    (bad[inside] if inside else bad).pop(key)
    return bad


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"this is not json", "Malformed event envelope"),
        (b"\xff\xfe", "Malformed event envelope"),
        ([event("pull")], '{"events": [...]}'),
        ({"events": {"id": "x"}}, '{"events": [...]}'),
        ({"event": [event("pull")]}, '{"events": [...]}'),
        ({"events": [event("pull"), "pull"]}, "events[1] is not an object"),
        ({"events": [event("pull"), without("id")]}, "events[1].id"),
        ({"events": [event("pull"), without("action")]}, "events[1].action"),
        ({"events": [event("pull"), without("timestamp")]}, "events[1].timestamp"),
        ({"events": [event("pull"), without("target")]}, "events[1].target.repository"),
        ({"events": [event("pull"), without("repository", "target")]}, "target.repository"),
        ({"events": [event("pull"), event("tag")]}, "events[1].action must be one of"),
        ({"events": [event("pull"), {**event("pull"), "timestamp": "yesterday"}]}, "timestamp"),
        (
            {"events": [event("pull"), {**event("pull"), "timestamp": "2025-03-01T12:00:00"}]},
            "with a zone",
        ),
        ({"events": [event("pull"), {**event("pull"), "id": ""}]}, "events[1].id"),
    ],
)
def test_malformed_envelope_is_400_and_records_nothing(body, message):
    raw = body if isinstance(body, bytes) else None
    response = post(body, raw=raw)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not RegistryEvent.objects.exists()


def test_duplicates_are_recorded_once(app, deliver):
    first, second = event("pull", tag="latest"), event("pull", when=at(1))
    deliver(first, first, second)
    deliver(second, first)
    assert RegistryEvent.objects.count() == 2
    app.refresh_from_db()
    assert app.pull_count == 2


def test_a_burst_of_a_thousand_events_in_one_envelope(app, deliver):
    make_manifest(app, DIGEST_A)
    deliver(*(event("pull", when=at(n / 1000), tag="latest") for n in range(1000)))
    assert RegistryEvent.objects.count() == 1000
    assert not RegistryEvent.objects.filter(processed__isnull=True).exists()
    app.refresh_from_db()
    assert app.pull_count == 1000


def test_a_burst_of_a_thousand_envelopes(app):
    for n in range(1000):
        response = post({"events": [event("pull", when=at(n / 1000))]})
        assert response.status_code == 200
        assert response.json() == {"recorded": 1}
    assert RegistryEvent.objects.count() == 1000
    assert apply_pending() == 1000
    app.refresh_from_db()
    assert app.pull_count == 1000


# Applying: tags


def test_manifest_push_creates_and_moves_tags(alice, bob, app, deliver):
    make_manifest(app, DIGEST_A)
    make_manifest(app, DIGEST_B)
    deliver(event("push", tag="latest", when=at(1)), event("push", tag="1.0", when=at(1)))
    assert tags(app) == {"latest": DIGEST_A, "1.0": DIGEST_A}
    tag = Tag.objects.get(repository=app, name="latest")
    assert tag.pushed_at == at(1)
    assert tag.pushed_by == alice
    deliver(event("push", tag="latest", digest=DIGEST_B, when=at(2), actor="bob"))
    assert tags(app) == {"latest": DIGEST_B, "1.0": DIGEST_A}
    tag.refresh_from_db()
    assert tag.pushed_at == at(2)
    assert tag.pushed_by.username == "bob"
    app.refresh_from_db()
    assert app.last_pushed == at(2)


def test_an_older_push_arriving_late_does_not_move_the_tag_back(app, deliver):
    make_manifest(app, DIGEST_A)
    make_manifest(app, DIGEST_B)
    deliver(event("push", tag="latest", digest=DIGEST_B, when=at(10)))
    # Sent earlier, by a registry in another time zone, delivered later.
    deliver(event("push", tag="latest", digest=DIGEST_A, when=at(5), offset_hours=2))
    assert tags(app) == {"latest": DIGEST_B}
    assert Tag.objects.get(repository=app).pushed_at == at(10)
    app.refresh_from_db()
    assert app.last_pushed == at(10)


def test_a_delete_removes_the_tags_pushed_before_it_but_not_one_pushed_again_after(app, deliver):
    make_manifest(app, DIGEST_A)
    make_manifest(app, DIGEST_B)
    deliver(
        event("push", tag="latest", when=at(1)),
        event("push", tag="stable", when=at(2)),
        event("push", tag="other", digest=DIGEST_B, when=at(2)),
    )
    # `latest` was pushed again after the delete was sent, and that push arrived first.
    deliver(event("push", tag="latest", when=at(4)))
    deliver(manifest_delete(when=at(3), digest=DIGEST_A))
    assert tags(app) == {"latest": DIGEST_A, "other": DIGEST_B}
    assert set(Manifest.objects.filter(repository=app).values_list("digest", flat=True)) == {
        DIGEST_A,
        DIGEST_B,
    }


def test_a_delete_of_an_untagged_manifest_removes_it(app, deliver):
    make_manifest(app, DIGEST_A)
    make_manifest(app, DIGEST_B)
    deliver(event("push", tag="latest", digest=DIGEST_B, when=at(1)))
    deliver(
        manifest_delete(when=at(2), digest=DIGEST_A), manifest_delete(when=at(2), digest=DIGEST_B)
    )
    assert tags(app) == {}
    assert not Manifest.objects.filter(repository=app).exists()


# Applying: pulls and blobs


def test_pulls_are_counted_and_set_last_pulled(app, deliver):
    make_manifest(app, DIGEST_A)
    deliver(event("push", tag="latest", when=at(1)), event("push", tag="1.0", when=at(1)))
    deliver(event("pull", tag="latest", when=at(5)), event("pull", tag="latest", when=at(7)))
    deliver(event("pull", tag="latest", when=at(6)))  # late, older: counts, moves nothing
    deliver(event("pull", when=at(8)))  # by digest: counts, no tag
    app.refresh_from_db()
    assert app.pull_count == 4
    latest = Tag.objects.get(repository=app, name="latest")
    assert latest.last_pulled == at(7)
    assert Tag.objects.get(repository=app, name="1.0").last_pulled is None


def test_repeated_delivery_of_a_pull_counts_once(app, deliver):
    pull = event("pull", tag="latest")
    deliver(pull)
    deliver(pull)
    app.refresh_from_db()
    assert app.pull_count == 1


def test_the_portals_own_manifest_fetches_are_not_pulls(app, deliver):
    make_manifest(app, DIGEST_A)
    deliver(event("push", tag="latest", when=at(1)))
    deliver(event("pull", when=at(2), actor=PORTAL_SUBJECT))
    deliver(event("pull", tag="latest", when=at(3), actor=PORTAL_SUBJECT))
    app.refresh_from_db()
    assert app.pull_count == 0
    assert Tag.objects.get(repository=app).last_pulled is None


def test_blob_events_change_nothing(app, deliver):
    make_manifest(app, DIGEST_A)
    deliver(event("push", tag="latest", when=at(1)))
    app.refresh_from_db()
    before = (app.pull_count, app.last_pushed, tags(app))
    deliver(
        event("push", digest=LAYER, media_type=LAYER_TYPE, when=at(2)),
        event("pull", digest=LAYER, media_type=LAYER_TYPE, when=at(3)),
        event("mount", digest=LAYER, media_type=LAYER_TYPE, when=at(4)),
        event("push", "alice/not-yet", digest=LAYER, media_type=LAYER_TYPE, when=at(4)),
        # A blob delete carries no media type, like a manifest delete.
        event("delete", digest=LAYER, media_type=None, when=at(5)),
    )
    app.refresh_from_db()
    assert (app.pull_count, app.last_pushed, tags(app)) == before
    assert Manifest.objects.filter(repository=app).count() == 1
    assert not Repository.objects.filter(name="not-yet").exists()
    assert not RegistryEvent.objects.filter(processed__isnull=True).exists()


# Applying: repositories


class RegistryDouble:
    """The registry API calls applying a push makes, answered from a dict."""

    def __init__(self, manifests: dict[str, dict], blobs: dict[str, dict]):
        self.manifests, self.blobs = manifests, blobs

    def get_manifest(self, repository: str, reference: str) -> FetchedManifest | None:
        body = self.manifests.get(reference)
        if body is None:
            return None
        return FetchedManifest(reference, body["mediaType"], json.dumps(body).encode())

    def get_blob_json(self, repository: str, digest: str) -> dict:
        return self.blobs[digest]


IMAGE = {
    "schemaVersion": 2,
    "mediaType": OCI_MANIFEST,
    "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": CONFIG,
        "size": 500,
    },
    "layers": [{"mediaType": LAYER_TYPE, "digest": LAYER, "size": 1000}],
}
IMAGE_CONFIG = {
    "architecture": "arm64",
    "os": "linux",
    "variant": "v8",
    "created": "2025-02-28T10:00:00Z",
    "history": [{"created_by": "COPY busybox /bin/busybox"}],
}


@pytest.mark.parametrize("default_private", [True, False])
def test_a_push_to_a_new_repository_creates_it_with_the_namespace_default(alice, default_private):
    Namespace.objects.filter(name="alice").update(default_private=default_private)
    response = post({"events": [event("push", "alice/new-app", tag="v1", when=at(1))]})
    assert response.status_code == 200
    registry = RegistryDouble({DIGEST_A: IMAGE}, {CONFIG: IMAGE_CONFIG})
    assert apply_pending(client=registry) == 1
    repository = Repository.objects.get(namespace__name="alice", name="new-app")
    assert repository.is_private is default_private
    assert repository.created_by == alice
    assert repository.last_pushed == at(1)
    tag = Tag.objects.get(repository=repository)
    assert (tag.name, tag.manifest.digest, tag.manifest.size) == ("v1", DIGEST_A, 1500)
    assert tag.manifest.platforms == [
        {"os": "linux", "architecture": "arm64", "variant": "v8", "digest": DIGEST_A, "size": 1500}
    ]
    assert tag.manifest.layers[0]["instruction"] == "COPY busybox /bin/busybox"


def test_a_push_to_an_unknown_namespace_creates_nothing(alice, deliver):
    deliver(event("push", "nobody-here/app", tag="v1"), event("push", "alice", tag="v1"))
    assert not Repository.objects.exists()
    assert not Namespace.objects.filter(name="nobody-here").exists()
    assert not RegistryEvent.objects.filter(processed__isnull=True).exists()


def test_a_push_the_portal_cannot_keep_does_not_hold_up_later_events(alice, app, deliver):
    make_manifest(app, DIGEST_A)
    deliver(
        event("push", "alice/" + "a" * 225, tag="v1", when=at(1)),
        event("push", tag="latest", when=at(2)),
    )
    assert list(Repository.objects.values_list("name", flat=True)) == ["app"]
    assert tags(app) == {"latest": DIGEST_A}
    assert not RegistryEvent.objects.filter(processed__isnull=True).exists()


def test_an_event_that_fails_is_kept_with_its_error_and_later_ones_still_apply(alice, app):
    make_manifest(app, DIGEST_A)
    broken = dict(IMAGE, config={})  # a manifest the portal cannot describe
    for body in (
        {"events": [event("push", "alice/broken", tag="v1", when=at(1))]},
        {"events": [event("push", tag="latest", when=at(2))]},
    ):
        assert post(body).status_code == 200
    registry = RegistryDouble({DIGEST_A: broken}, {})
    assert apply_pending(client=registry) == 2
    failed = RegistryEvent.objects.get(repository="alice/broken")
    assert "KeyError" in failed.error
    assert tags(app) == {"latest": DIGEST_A}
    assert not Tag.objects.filter(repository__name="broken").exists()
    assert not RegistryEvent.objects.filter(processed__isnull=True).exists()


def test_a_registry_that_is_away_leaves_events_pending(alice, app):
    class AwayRegistry:
        def get_manifest(self, repository: str, reference: str):
            raise RegistryError("connection refused")

    assert post({"events": [event("push", "alice/new", tag="v1", when=at(1))]}).status_code == 200
    with pytest.raises(RegistryError):
        apply_pending(client=AwayRegistry())
    assert RegistryEvent.objects.filter(processed__isnull=True).count() == 1
    assert not Repository.objects.filter(name="new").exists()
