"""Registry notifications: validating and recording them, then applying them to the
portal's Repository, Manifest and Tag rows (DESIGN §5).

Events may arrive twice and out of order: recording is keyed by event id, and a tag only
moves to a push newer than the one it shows.
"""

import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Namespace, User
from repos import activity, webhooks
from repos.models import Activity, Manifest, Repository, Tag
from repos.names import REPOSITORY_NAME_RE, TAG_RE

from .client import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    PORTAL_SUBJECT,
    FetchedManifest,
    RegistryClient,
    RegistryError,
)
from .models import RegistryEvent

log = logging.getLogger(__name__)
Action = Activity.Action
ACTIONS = {"push", "pull", "delete", "mount"}


class EnvelopeError(ValueError):
    pass


def parse_envelope(data: object) -> list[RegistryEvent]:
    """Unsaved RegistryEvent rows for a notification envelope; all valid, or EnvelopeError."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise EnvelopeError('expected {"events": [...]}')
    rows = []
    for position, event in enumerate(data["events"]):
        where = f"events[{position}]"
        if not isinstance(event, dict):
            raise EnvelopeError(f"{where} is not an object")
        event_id, action = event.get("id"), event.get("action")
        target = event.get("target")
        timestamp = parse_datetime(str(event.get("timestamp", "")))
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
            raise EnvelopeError(f"{where}.id must be a string of 1 to 100 characters")
        if action not in ACTIONS:
            raise EnvelopeError(f"{where}.action must be one of {', '.join(sorted(ACTIONS))}")
        if timestamp is None or timestamp.tzinfo is None:
            raise EnvelopeError(f"{where}.timestamp must be an RFC 3339 time with a zone")
        if not isinstance(target, dict) or not isinstance(target.get("repository"), str):
            raise EnvelopeError(f"{where}.target.repository is missing")
        rows.append(
            RegistryEvent(
                event_id=event_id,
                action=action,
                repository=target["repository"][:255],
                timestamp=timestamp,
                payload=event,
            )
        )
    return rows


def record(rows: list[RegistryEvent]) -> None:
    RegistryEvent.objects.bulk_create(rows, ignore_conflicts=True)


def apply_pending(limit: int = 1000, client: RegistryClient | None = None) -> int:
    """Apply recorded events not yet applied, oldest first. Returns how many were applied."""
    client = client or RegistryClient()
    pending = RegistryEvent.objects.filter(processed__isnull=True).order_by("timestamp", "pk")
    applied = 0
    for event_pk in list(pending.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            event = (
                RegistryEvent.objects.select_for_update(skip_locked=True)
                .filter(pk=event_pk, processed__isnull=True)
                .first()
            )
            if event is None:
                continue
            try:
                with transaction.atomic():
                    apply_event(event, client)
            except RegistryError:
                raise  # the registry is away: stop here, the task retries the rest later
            except Exception as error:
                # One event the portal cannot apply must not hold back every later one;
                # it stays recorded with its error, and registry_reconcile settles the state.
                log.exception("registry event %s could not be applied", event.event_id)
                event.error = f"{type(error).__name__}: {error}"[:1000]
            event.processed = timezone.now()
            event.save(update_fields=["processed", "error"])
            applied += 1
    return applied


def apply_event(event: RegistryEvent, client: RegistryClient) -> None:
    target = event.payload["target"]
    if event.action in ("push", "delete") and _actor_name(event) == PORTAL_SUBJECT:
        return  # the portal's own writes (tag deletion, rename, purge) already set its rows
    if event.action == "delete":
        # The registry sends a manifest delete with repository and digest only, no media type;
        # a blob delete looks the same, and its digest matches no manifest.
        _apply_delete(event, target)
        return
    if target.get("mediaType") not in MANIFEST_TYPES:
        return  # blob uploads, mounts and blob pulls change nothing the portal shows
    if event.action == "push":
        _apply_push(event, target, client)
    elif event.action == "pull":
        _apply_pull(event, target)


def _actor_name(event: RegistryEvent) -> str:
    return (event.payload.get("actor") or {}).get("name") or ""


def _actor(event: RegistryEvent) -> User | None:
    name = _actor_name(event)
    return User.objects.filter(username=name).first() if name else None


def _repository_for_push(event: RegistryEvent) -> Repository | None:
    """The active repository the push went to, or a new unsaved one; None when the portal
    cannot keep it (unknown namespace, a name too long) or it is being deleted: pushes to a
    name being deleted are refused, so such an event was sent before the deletion."""
    namespace_name, _, name = event.repository.partition("/")
    if not name or not REPOSITORY_NAME_RE.match(event.repository):
        return None
    if len(name) > Repository._meta.get_field("name").max_length:
        return None  # never granted; a row that cannot be stored would stop every later event
    # Locked until the event is applied: two workers applying pushes to one new repository
    # (two tags pushed at once) would otherwise both create it, and one would fail.
    namespace = Namespace.objects.select_for_update().filter(name=namespace_name).first()
    if namespace is None:
        return None
    same_name = Repository.objects.filter(namespace=namespace, name=name)
    repository = same_name.filter(state=Repository.State.ACTIVE).first()
    if repository is None and not same_name.exists():
        repository = Repository(
            namespace=namespace, name=name, is_private=namespace.default_private
        )
    return repository


def _apply_push(event: RegistryEvent, target: dict, client: RegistryClient) -> None:
    actor = _actor(event)
    repository = _repository_for_push(event)
    if repository is None:
        log.warning("push event for a repository the portal cannot keep: %s", event.repository)
        return
    digest = target.get("digest", "")
    manifest = None
    if repository.pk is not None:
        manifest = Manifest.objects.filter(repository=repository, digest=digest).first()
    if manifest is None:
        fetched = client.get_manifest(event.repository, digest)
        if fetched is None:
            return  # deleted again since; a later delete event or reconciliation settles it
        description = describe_manifest(client, event.repository, fetched)
        if repository.pk is None:
            repository.created_by = actor
            repository.save()
            activity.record(
                Action.REPO_CREATED,
                namespace=repository.namespace,
                repository=repository,
                actor=actor,
            )
        manifest = Manifest.objects.create(repository=repository, digest=digest, **description)
    tag_name = target.get("tag")
    if tag_name and TAG_RE.match(tag_name):
        tag = Tag.objects.filter(repository=repository, name=tag_name).first()
        if tag is None:
            Tag.objects.create(
                repository=repository,
                name=tag_name,
                manifest=manifest,
                pushed_at=event.timestamp,
                pushed_by=actor,
            )
        elif tag.pushed_at <= event.timestamp:
            tag.manifest, tag.pushed_at, tag.pushed_by = manifest, event.timestamp, actor
            tag.save(update_fields=["manifest", "pushed_at", "pushed_by"])
        if repository.last_pushed is None or repository.last_pushed < event.timestamp:
            repository.last_pushed = event.timestamp
            repository.save(update_fields=["last_pushed", "updated"])
        activity.record(
            Action.REPO_PUSHED,
            namespace=repository.namespace,
            repository=repository,
            actor=actor,
            tag=tag_name,
            digest=digest,
        )
        webhooks.queue_push(repository, tag_name, actor, event.timestamp)


def describe_manifest(client: RegistryClient, repository: str, fetched: FetchedManifest) -> dict:
    """Size, platforms, layers and creation time of a manifest, from the registry."""
    body = fetched.body
    if fetched.media_type in INDEX_TYPES:
        platforms = []
        for child in body.get("manifests", []):
            platform = child.get("platform") or {}
            if platform.get("os") == "unknown":
                continue  # attestation manifests, not a runnable platform
            child_manifest = client.get_manifest(repository, child["digest"])
            child_size = _image_size(child_manifest.body) if child_manifest else 0
            platforms.append(
                {
                    "os": platform.get("os", ""),
                    "architecture": platform.get("architecture", ""),
                    "variant": platform.get("variant", ""),
                    "digest": child["digest"],
                    "size": child_size,
                }
            )
        size = sum(p["size"] for p in platforms)
        return {"media_type": fetched.media_type, "size": size, "platforms": platforms}
    config = client.get_blob_json(repository, body["config"]["digest"])
    history = [entry for entry in config.get("history", []) if not entry.get("empty_layer")]
    layers = [
        {
            "digest": layer["digest"],
            "size": layer.get("size", 0),
            "media_type": layer.get("mediaType", ""),
            "instruction": history[i].get("created_by", "") if i < len(history) else "",
        }
        for i, layer in enumerate(body.get("layers", []))
    ]
    size = _image_size(body)
    return {
        "media_type": fetched.media_type,
        "size": size,
        "platforms": [
            {
                "os": config.get("os", ""),
                "architecture": config.get("architecture", ""),
                "variant": config.get("variant", ""),
                "digest": fetched.digest,
                "size": size,
            }
        ],
        "layers": layers,
        "config_created": parse_datetime(config["created"]) if config.get("created") else None,
    }


def _image_size(body: dict) -> int:
    """Compressed size as Docker Hub counts it: config and layers."""
    return body.get("config", {}).get("size", 0) + sum(
        layer.get("size", 0) for layer in body.get("layers", [])
    )


def _apply_pull(event: RegistryEvent, target: dict) -> None:
    if _actor_name(event) == PORTAL_SUBJECT:
        return  # the portal reading a manifest to describe it, not a user's pull
    repository = Repository.objects.by_full_name(event.repository)
    if repository is None:
        return
    Repository.objects.filter(pk=repository.pk).update(pull_count=F("pull_count") + 1)
    if tag_name := target.get("tag"):
        Tag.objects.filter(repository=repository, name=tag_name).filter(
            Q(last_pulled__isnull=True) | Q(last_pulled__lt=event.timestamp)
        ).update(last_pulled=event.timestamp)


def _apply_delete(event: RegistryEvent, target: dict) -> None:
    repository = Repository.objects.by_full_name(event.repository)
    if repository is None:
        return
    digest = target.get("digest", "")
    tags = Tag.objects.filter(repository=repository, manifest__digest=digest)
    if tag_name := target.get("tag"):
        tags = tags.filter(name=tag_name)
    # A tag pushed again after this delete was sent stays.
    tags = tags.filter(pushed_at__lte=event.timestamp)
    actor = _actor(event)
    for tag_name in tags.values_list("name", flat=True):
        activity.record(
            Action.TAG_DELETED,
            namespace=repository.namespace,
            repository=repository,
            actor=actor,
            tag=tag_name,
            digest=digest,
        )
    tags.delete()
    Manifest.objects.filter(repository=repository, digest=digest, tags__isnull=True).delete()
