from celery import shared_task

from registry.client import RegistryError

from .deletion import purge


# While the registry is unreachable: attempts with a backoff doubling from 1 s up to 10
# minutes; when they run out, the repository stays deleting and `registry_reconcile` finishes it.
@shared_task(
    autoretry_for=(RegistryError,), retry_backoff=True, retry_backoff_max=600, max_retries=16
)
def purge_repository(repository_id: int) -> bool:
    """Empty a repository being deleted from the registry, then remove its rows."""
    return purge(repository_id)
