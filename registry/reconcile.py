"""Rebuilding the portal's Repository, Manifest and Tag rows from the registry's own API, for
when notifications were lost (DESIGN §5): the registry keeps undelivered events in memory only.

The registry is the truth for what is tagged: tags it lacks are removed, tags it has are added
or moved. A tag set here counts as pushed when the reconciliation started, so that an older
event applied later cannot undo it. Running it again changes nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Namespace
from repos.deletion import purge
from repos.models import Manifest, Repository, Tag
from repos.names import REPOSITORY_NAME_RE, TAG_RE

from .client import RegistryClient
from .events import describe_manifest


@dataclass
class Report:
    registry_repositories: int = 0
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # deletions left unfinished, now done
    skipped: list[str] = field(default_factory=list)  # in the registry, no namespace here
    tags_added: int = 0
    tags_moved: int = 0
    tags_removed: int = 0
    manifests_added: int = 0
    manifests_removed: int = 0

    def lines(self) -> list[str]:
        lines = [f"The registry holds {self.registry_repositories} repositories."]
        if self.deleted:
            lines.append(f"Finished deleting {len(self.deleted)}: {', '.join(self.deleted)}")
        if self.created:
            lines.append(f"Created {len(self.created)}: {', '.join(self.created)}")
        if self.skipped:
            lines.append(
                f"Skipped {len(self.skipped)} with no such user or organization here: "
                + ", ".join(self.skipped)
            )
        lines.append(
            f"Tags: {self.tags_added} added, {self.tags_moved} moved, "
            f"{self.tags_removed} removed. Manifests: {self.manifests_added} added, "
            f"{self.manifests_removed} removed."
        )
        return lines


def reconcile(client: RegistryClient | None = None) -> Report:
    """Finish deletions left unfinished, then bring every repository in the registry's catalog
    or the portal in line with the registry."""
    client = client or RegistryClient()
    started = timezone.now()
    report = Report()
    deleting = Repository.objects.filter(state=Repository.State.DELETING)
    for repository in deleting.select_related("namespace"):
        name = str(repository)
        if purge(repository.pk, client):
            report.deleted.append(name)
    in_registry = set(client.catalog())
    report.registry_repositories = len(in_registry)
    in_portal = {
        f"{namespace}/{name}"
        for namespace, name in Repository.objects.active().values_list("namespace__name", "name")
    }
    for name in sorted(in_registry | in_portal):
        _reconcile_repository(client, name, started, report)
    return report


def _reconcile_repository(
    client: RegistryClient, name: str, started: datetime, report: Report
) -> None:
    tags = {}
    for tag in client.list_tags(name):
        head = client.head_manifest(name, tag) if TAG_RE.match(tag) else None
        if head is not None:
            tags[tag] = head[0]
    repository = Repository.objects.by_full_name(name)
    namespace = None
    if repository is None:
        if not tags:
            return  # an emptied repository stays in the registry's catalog
        namespace = _namespace_for(name)
        if namespace is None:
            report.skipped.append(name)
            return
        if Repository.objects.filter(namespace=namespace, name=_short(name)).exists():
            return  # being deleted (its images are not a new repository's), or just pushed
    manifests = {m.digest: m for m in repository.manifests.all()} if repository else {}
    current = {t.name: t for t in repository.tags.all()} if repository else {}
    new = {}
    for digest in set(tags.values()) - set(manifests):
        fetched = client.get_manifest(name, digest)
        if fetched is not None:
            new[digest] = describe_manifest(client, name, fetched)
    gone = [
        manifest.pk
        for digest, manifest in manifests.items()
        if digest not in tags.values() and client.head_manifest(name, digest) is None
    ]
    stale = [tag.pk for tag_name, tag in current.items() if tag_name not in tags]
    # Nothing but writes in the transaction: on SQLite, one that reads before it writes
    # fails at once when another connection is writing.
    with transaction.atomic():
        report.tags_removed += Tag.objects.filter(pk__in=stale).delete()[0]
        if repository is None:
            repository = Repository.objects.create(
                namespace=namespace, name=_short(name), is_private=namespace.default_private
            )
            report.created.append(name)
        for digest, description in new.items():
            manifests[digest] = Manifest.objects.create(
                repository=repository, digest=digest, **description
            )
            report.manifests_added += 1
        _set_tags(repository, tags, manifests, current, started, report)
        # Tags left on a manifest the registry lost: their new one vanished before it was read.
        report.tags_removed += Tag.objects.filter(manifest__in=gone).delete()[0]
        report.manifests_removed += Manifest.objects.filter(pk__in=gone).delete()[0]


def _short(name: str) -> str:
    return name.partition("/")[2]


def _namespace_for(name: str) -> Namespace | None:
    namespace, _, rest = name.partition("/")
    if not rest or not REPOSITORY_NAME_RE.match(name):
        return None
    return Namespace.objects.filter(name=namespace).first()


def _set_tags(
    repository: Repository,
    tags: dict[str, str],
    manifests: dict[str, Manifest],
    current: dict[str, Tag],
    started: datetime,
    report: Report,
) -> None:
    """Add or move the portal's tags to where the registry's point."""
    changed = False
    for tag_name, digest in tags.items():
        manifest = manifests.get(digest)
        tag = current.get(tag_name)
        if manifest is None or (tag is not None and tag.manifest_id == manifest.pk):
            continue  # deleted from the registry since, or already right
        if tag is None:
            Tag.objects.create(
                repository=repository, name=tag_name, manifest=manifest, pushed_at=started
            )
            report.tags_added += 1
        else:
            tag.manifest, tag.pushed_at, tag.pushed_by = manifest, started, None
            tag.save(update_fields=["manifest", "pushed_at", "pushed_by"])
            report.tags_moved += 1
        changed = True
    if changed and (repository.last_pushed is None or repository.last_pushed < started):
        repository.last_pushed = started
        repository.save(update_fields=["last_pushed", "updated"])
