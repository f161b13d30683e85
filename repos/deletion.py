"""Deleting a repository (DESIGN §7): it vanishes at once, the registry is emptied by a task.

The 2.8 registry cannot delete a repository, only manifests by digest; deleting a manifest
removes every tag on it. Blobs stay until registry garbage collection.
"""

from collections.abc import Iterable

from django.db import transaction

from registry.client import INDEX_TYPES, RegistryClient

from .models import Repository


def delete_repository(repository: Repository) -> None:
    """Mark the repository deleting, which hides it from pages, lookups and token grants, and
    queue the task that deletes its manifests from the registry and then its rows."""
    from .tasks import purge_repository  # the task module imports this one

    Repository.objects.filter(pk=repository.pk).update(state=Repository.State.DELETING)
    repository.state = Repository.State.DELETING
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
