from celery import shared_task

from .client import RegistryError
from .events import apply_pending
from .gc import collect_garbage


@shared_task(autoretry_for=(RegistryError,), retry_backoff=True, max_retries=8)
def apply_registry_events() -> int:
    return apply_pending()


@shared_task
def collect_registry_garbage() -> int | None:
    """Collect the registry's garbage in read-only mode; the bytes freed, None if it failed
    (the run and its output are recorded either way)."""
    return collect_garbage().bytes_freed
