"""Deleting a repository or a tag (DESIGN §7): a repository vanishes at once and a task
empties the registry; a tag goes at once.

The 2.8 registry cannot delete a repository or a tag, only manifests by digest; deleting a
manifest removes every tag on it. Blobs stay until registry garbage collection.
"""

from collections.abc import Iterable

from django.db import transaction

from accounts.models import User
from registry.client import INDEX_TYPES, RegistryClient, RegistryError

from . import activity
from .models import Activity, Manifest, Repository, Tag

# Putting a manifest back after deleting its digest: a registry that answered the delete a
# moment ago is given a few chances before the tags that stay are reported lost.
PUT_BACK_ATTEMPTS = 3


def delete_repository(repository: Repository, actor: User | None = None) -> None:
    """Mark the repository deleting, which hides it from pages, lookups and token grants, and
    queue the task that deletes its manifests from the registry and then its rows."""
    from .tasks import purge_repository  # the task module imports this one

    Repository.objects.filter(pk=repository.pk).update(state=Repository.State.DELETING)
    repository.state = Repository.State.DELETING
    activity.record(
        Activity.Action.REPO_DELETED,
        namespace=repository.namespace,
        repository=repository,
        actor=actor,
    )
    # robust: with no broker the task runs here, and a registry that is down must not turn an
    # accepted deletion into an error; the repository stays deleting for the next attempt.
    transaction.on_commit(lambda: purge_repository.delay(repository.pk), robust=True)


def purge(repository_id: int, client: RegistryClient | None = None) -> bool:
    """Delete every manifest of a repository being deleted from the registry, then its rows.

    Safe to run again after a failure at any step. False if there was no such repository
    being deleted.
    """
    repository = (
        Repository.objects.select_related("namespace")
        .filter(pk=repository_id, state=Repository.State.DELETING)
        .first()
    )
    if repository is None:
        return False
    client = client or RegistryClient()
    known = repository.manifests.values_list("digest", flat=True)
    for digest in manifest_digests(client, repository.full_name, known):
        client.delete_manifest(repository.full_name, digest)
    repository.delete()
    return True


def manifest_digests(client: RegistryClient, name: str, known: Iterable[str]) -> list[str]:
    """Every manifest digest the registry holds for a repository that its tags, the given
    digests or the indexes among them lead to; indexes first."""
    indexes: dict[str, None] = {}
    images: dict[str, None] = {}
    pending = [*client.list_tags(name), *known]
    seen: set[str] = set()
    while pending:
        reference = pending.pop()
        if reference in seen:
            continue
        seen.add(reference)
        head = client.head_manifest(name, reference)
        if head is None:
            continue
        digest, media_type = head
        if media_type not in INDEX_TYPES:
            images[digest] = None
        elif digest not in indexes:
            indexes[digest] = None
            index = client.get_manifest(name, digest)
            if index is not None:
                pending.extend(child["digest"] for child in index.body.get("manifests", []))
    return [*indexes, *images]


def delete_tag(
    repository: Repository,
    tag_name: str,
    actor: User | None,
    client: RegistryClient | None = None,
) -> bool:
    """Delete one tag in the registry and the portal; other tags on the same manifest stay.

    The registry can only delete the manifest, which takes every tag on it: the same bytes are
    put back under the tags that stay, and under the digest when an index of the repository
    refers to it. False if neither the registry nor the portal had the tag. RegistryError if
    the registry could not be reached; nothing is changed in the portal then.
    """
    client = client or RegistryClient()
    name = repository.full_name
    fetched = client.get_manifest(name, tag_name)
    if fetched is not None:
        known = dict(
            Tag.objects.filter(repository=repository).values_list("name", "manifest__digest")
        )
        staying = [
            other
            for other in client.list_tags(name)
            if other != tag_name
            and known.get(other, fetched.digest) == fetched.digest
            and (client.head_manifest(name, other) or ("",))[0] == fetched.digest
        ]
        references = [fetched.digest] if _is_index_child(repository, fetched.digest) else []
        client.delete_manifest(name, fetched.digest)
        for reference in [*staying, *references]:
            _put_back(client, name, reference, fetched.raw, fetched.media_type)
    with transaction.atomic():
        deleted, _ = Tag.objects.filter(repository=repository, name=tag_name).delete()
        if fetched is not None:
            Manifest.objects.filter(
                repository=repository, digest=fetched.digest, tags__isnull=True
            ).delete()
        if fetched is None and not deleted:
            return False
        activity.record(
            Activity.Action.TAG_DELETED,
            namespace=repository.namespace,
            repository=repository,
            actor=actor,
            tag=tag_name,
            digest=fetched.digest if fetched else "",
        )
    return True


def _is_index_child(repository: Repository, digest: str) -> bool:
    """Does an index of the repository list this manifest as one of its platforms?"""
    indexes = Manifest.objects.filter(repository=repository, media_type__in=INDEX_TYPES)
    return any(
        platform.get("digest") == digest
        for platforms in indexes.values_list("platforms", flat=True)
        for platform in platforms
    )


def _put_back(
    client: RegistryClient, name: str, reference: str, raw: bytes, media_type: str
) -> None:
    for attempt in range(PUT_BACK_ATTEMPTS):
        try:
            client.put_manifest(name, reference, raw, media_type)
            return
        except RegistryError:
            if attempt == PUT_BACK_ATTEMPTS - 1:
                raise
