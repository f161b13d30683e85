from celery import shared_task

from .client import RegistryError
from .events import apply_pending


@shared_task(autoretry_for=(RegistryError,), retry_backoff=True, max_retries=8)
def apply_registry_events() -> int:
    return apply_pending()
