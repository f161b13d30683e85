"""Outgoing webhooks: Docker Hub's push payload, signed, delivered by the worker.

A push of a tag creates one WebhookDelivery per active webhook of the repository, in the
transaction that records the push, and queues its delivery once that commits. The task
(repos.tasks.deliver_webhook) POSTs the JSON body with an `X-Dockyard-Signature:
sha256=<hex HMAC-SHA256 of the body with the webhook's secret>` header, and retries after
a 5xx answer or a connection error with a growing delay, up to MAX_ATTEMPTS attempts.
"""

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User

from .models import Repository, Webhook, WebhookDelivery

SIGNATURE_HEADER = "X-Dockyard-Signature"
MAX_ATTEMPTS = 5
TIMEOUT = 10  # seconds, connecting and reading each
FIRST_RETRY_DELAY = 10  # seconds; then 20, 40, 80


def new_secret() -> str:
    return secrets.token_hex(32)


def callback_url(webhook: Webhook) -> str:
    """The webhook's page with its delivery log."""
    repository = webhook.repository
    path = reverse("repos:webhook", args=[repository.namespace.name, repository.name, webhook.pk])
    return settings.HUB_URL + path


def push_payload(
    webhook: Webhook, repository: Repository, tag: str, pusher: User | None, pushed_at: datetime
) -> dict:
    """Docker Hub's webhook payload for a push of `tag`."""
    namespace = repository.namespace.name
    return {
        "callback_url": callback_url(webhook),
        "push_data": {
            "pushed_at": int(pushed_at.timestamp()),
            "pusher": pusher.username if pusher else "",
            "tag": tag,
        },
        "repository": {
            "comment_count": 0,
            "date_created": int(repository.created.timestamp()),
            "description": repository.description,
            "dockerfile": "",
            "full_description": repository.full_description,
            "is_official": namespace == "library",
            "is_private": repository.is_private,
            "is_trusted": False,
            "name": repository.name,
            "namespace": namespace,
            "owner": namespace,
            "repo_name": repository.full_name,
            "repo_url": f"{settings.HUB_URL}/r/{repository.full_name}/",
            "star_count": repository.stars.count(),
            "status": "Active",
        },
    }


def queue_push(
    repository: Repository, tag: str, pusher: User | None, pushed_at: datetime
) -> list[WebhookDelivery]:
    """Create a delivery for each active webhook of the repository; they are sent once the
    current transaction commits."""
    from .tasks import deliver_webhook  # the task module imports this one

    deliveries = [
        WebhookDelivery.objects.create(
            webhook=webhook, payload=push_payload(webhook, repository, tag, pusher, pushed_at)
        )
        for webhook in repository.webhooks.filter(is_active=True).select_related(
            "repository__namespace"
        )
    ]
    for delivery in deliveries:
        # robust: with no broker the delivery runs here, and a receiver's failure must not
        # undo the push that was recorded.
        transaction.on_commit(lambda pk=delivery.pk: deliver_webhook.delay(pk), robust=True)
    return deliveries


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":")).encode()


def attempt(delivery: WebhookDelivery) -> bool:
    """POST the delivery once and record the attempt: its response code or error, its
    duration, and when it was delivered. True if it failed in a way that may pass and is worth
    trying again: a 5xx or 429 answer, no connection, a timeout."""
    webhook = delivery.webhook
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{settings.HUB_NAME}-Webhooks/1",
        SIGNATURE_HEADER: sign(webhook.secret, body),
        "X-Dockyard-Event": "push",
        "X-Dockyard-Delivery": str(delivery.pk),
    }
    delivery.attempts += 1
    started = time.monotonic()
    try:
        response = requests.post(
            webhook.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as error:
        delivery.response_status = None
        delivery.error = f"{type(error).__name__}: {error}"[:500]
        retry = True
    else:
        status = response.status_code
        delivery.response_status = status
        if 200 <= status < 300:
            delivery.error = ""
            delivery.delivered_at = timezone.now()
            retry = False
        else:
            delivery.error = f"The receiver answered {status} {response.reason or ''}".strip()
            retry = status >= 500 or status == 429
    delivery.duration_ms = round((time.monotonic() - started) * 1000)
    delivery.save(
        update_fields=["attempts", "response_status", "error", "delivered_at", "duration_ms"]
    )
    return retry


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the given number of failed attempts: 10, 20, 40, 80."""
    return FIRST_RETRY_DELAY * 2 ** (attempts - 1)


def status_of(delivery: WebhookDelivery) -> str:
    """delivered, failed (no attempt left, or an answer that retrying cannot change),
    retrying, or pending (not attempted yet)."""
    if delivery.delivered_at:
        return "delivered"
    if delivery.attempts == 0:
        return "pending"
    status = delivery.response_status
    final = status is not None and status < 500 and status != 429
    if final or delivery.attempts >= MAX_ATTEMPTS:
        return "failed"
    return "retrying"
