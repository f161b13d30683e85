from celery import shared_task

from registry.client import RegistryError
from registry.tasks import collect_registry_garbage

from .deletion import purge
from .models import WebhookDelivery
from .webhooks import MAX_ATTEMPTS, attempt, retry_delay


# While the registry is unreachable: attempts with a backoff doubling from 1 s up to 10
# minutes; when they run out, the repository stays deleting and `registry_reconcile` finishes it.
@shared_task(
    autoretry_for=(RegistryError,), retry_backoff=True, retry_backoff_max=600, max_retries=16
)
def purge_repository(repository_id: int) -> bool:
    """Empty a repository being deleted from the registry, remove its rows, then reclaim its
    blobs by garbage collection."""
    purged = purge(repository_id)
    if purged:
        collect_registry_garbage.delay()
    return purged


# Each attempt is recorded on the delivery row, which also counts them; the next attempt is
# queued as a new message (run at once when tasks run eagerly, with no broker).
@shared_task
def deliver_webhook(delivery_id: int) -> None:
    """Send one webhook delivery; after a 5xx or no connection, queue another attempt after a
    delay that doubles, up to MAX_ATTEMPTS attempts in all."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.delivered_at or delivery.attempts >= MAX_ATTEMPTS:
        return
    if attempt(delivery) and delivery.attempts < MAX_ATTEMPTS:
        deliver_webhook.apply_async((delivery_id,), countdown=retry_delay(delivery.attempts))
