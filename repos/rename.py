"""Renaming a repository or moving it to another namespace (Docker Hub's oldest open request).

The images move inside the registry by cross-repository blob mounts and manifest puts of the
same bytes, nothing is uploaded again; then the rows take the new name, the old page URL
redirects, and the old name is emptied in the registry as a repository being deleted is, so
that it stops resolving and a repository created there later starts empty.
"""

from django.db import transaction

from accounts.models import Namespace, User
from registry.client import INDEX_TYPES, FetchedManifest, RegistryClient

from . import activity
from .models import Activity, Repository, RepositoryRedirect
from .tasks import purge_repository


class RenameError(ValueError):
    """The new name cannot be taken; the message says why."""


def rename_repository(
    repository: Repository,
    namespace: Namespace,
    name: str,
    actor: User | None,
    client: RegistryClient | None = None,
) -> Repository:
    """Move the repository and its images to namespace/name. RenameError if that name is
    taken; RegistryError if the registry failed, with the rows unchanged."""
    old_namespace, old_name, old = repository.namespace, repository.name, repository.full_name
    new = f"{namespace.name}/{name}"
    if new == old:
        raise RenameError(f"The repository is already called {new}.")
    if Repository.objects.filter(namespace=namespace, name=name).exists():
        raise RenameError(f"{new} already exists or is still being deleted.")
    copy_images(client or RegistryClient(), old, new)
    with transaction.atomic():
        repository.namespace, repository.name = namespace, name
        repository.save(update_fields=["namespace", "name", "updated"])
        RepositoryRedirect.objects.filter(full_name=new).delete()
        RepositoryRedirect.objects.update_or_create(
            full_name=old, defaults={"repository": repository}
        )
        # The old name is emptied in the registry by the deletion task; until it is done,
        # no one can push there.
        leftover = Repository.objects.create(
            namespace=old_namespace,
            name=old_name,
            is_private=True,
            state=Repository.State.DELETING,
        )
        activity.record(
            Activity.Action.REPO_RENAMED,
            namespace=namespace,
            repository=repository,
            actor=actor,
            **{"from": old, "to": new},
        )
        transaction.on_commit(lambda: purge_repository.delay(leftover.pk), robust=True)
    return repository


def copy_images(client: RegistryClient, source: str, target: str) -> None:
    """Every tag of `source` under the same name in `target`, with the manifests it needs,
    by blob mounts: images before the indexes that list them."""
    copied: set[str] = set()
    for tag in client.list_tags(source):
        fetched = client.get_manifest(source, tag)
        if fetched is None:
            continue  # deleted since the list was read
        _copy_manifest(client, source, target, fetched, copied)
        client.put_manifest(target, tag, fetched.raw, fetched.media_type)


def _copy_manifest(
    client: RegistryClient, source: str, target: str, fetched: FetchedManifest, copied: set[str]
) -> None:
    if fetched.digest in copied:
        return
    body = fetched.body
    if fetched.media_type in INDEX_TYPES:
        for child in body.get("manifests", []):
            child_manifest = client.get_manifest(source, child["digest"])
            if child_manifest is not None:
                _copy_manifest(client, source, target, child_manifest, copied)
    else:
        for blob in [body["config"], *body.get("layers", [])]:
            client.mount_blob(target, blob["digest"], source)
    client.put_manifest(target, fetched.digest, fetched.raw, fetched.media_type)
    copied.add(fetched.digest)
