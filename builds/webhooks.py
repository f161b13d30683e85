"""GitHub's webhook deliveries: a signed `push` queues the builds its rules ask for.

Redeliveries are recognised by X-GitHub-Delivery (GitHub keeps the GUID when a delivery is sent
again), remembered in the cache (Redis in production) for a week.
"""

import hashlib
import hmac
import json
import logging
import re
from urllib.parse import parse_qs

from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from repos.models import Repository

from .models import BuildSource
from .triggers import PushedRef, builds_for_push

log = logging.getLogger(__name__)

ZERO_SHA = "0" * 40
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
DELIVERY_MEMORY = 7 * 24 * 3600  # seconds a delivery GUID is remembered


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """Whether X-Hub-Signature-256 (`sha256=<hex>`) is the HMAC-SHA256 of body with secret."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def _payload(request: HttpRequest, body: bytes) -> dict | None:
    """The event's JSON, sent as the body or (content type "form") as its `payload` field."""
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            body = parse_qs(body.decode())["payload"][0].encode()
        data = json.loads(body)
    except (ValueError, KeyError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@csrf_exempt
@require_POST
@transaction.non_atomic_requests  # a ping touches no table; a push opens its own transaction
def github_webhook(request: HttpRequest) -> HttpResponse:
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        # Sent as the hook is created, before the source is saved: nothing to look up.
        return JsonResponse({"ok": True})
    if event != "push":
        return HttpResponse(status=204)
    try:
        body = request.body
    except RequestDataTooBig:
        return _error(413, "payload too large")
    payload = _payload(request, body)
    if payload is None:
        return _error(400, "malformed JSON payload")
    try:
        github_id = int(payload["repository"]["id"])
    except (KeyError, TypeError, ValueError):
        return _error(400, "the payload names no repository")

    sources = BuildSource.objects.filter(
        github_id=github_id, repository__state=Repository.State.ACTIVE
    ).select_related("repository")
    if not sources:
        return _error(404, "unknown source")
    signature = request.headers.get("X-Hub-Signature-256", "")
    source = next(
        (s for s in sources if signature and signature_matches(s.webhook_secret, body, signature)),
        None,
    )
    if source is None:
        return _error(401, "bad or missing X-Hub-Signature-256")

    delivery = request.headers.get("X-GitHub-Delivery", "")
    if delivery and not cache.add(f"builds:github-delivery:{delivery}", True, DELIVERY_MEMORY):
        return JsonResponse({"builds": [], "duplicate": True})

    after = str(payload.get("after") or "")
    if payload.get("deleted") or after == ZERO_SHA:
        return JsonResponse({"builds": [], "ignored": "deleted ref"})
    head = payload.get("head_commit") or {}
    # For an annotated tag `after` is the tag object; head_commit is the commit it tags.
    commit = str(head.get("id") or after)
    if not COMMIT_RE.fullmatch(commit):
        return _error(400, "the payload's commit is not a 40-digit hexadecimal sha")
    pushed = PushedRef.from_git_ref(
        str(payload.get("ref") or ""), commit, head.get("message") or ""
    )
    if pushed is None:
        return JsonResponse({"builds": []})
    try:
        with transaction.atomic():
            queued = builds_for_push(source, pushed)
    except Exception:
        if delivery:
            cache.delete(f"builds:github-delivery:{delivery}")  # let GitHub's redelivery retry
        raise
    if queued:
        log.info(
            "push of %s %s to %s queued builds %s",
            pushed.ref_type,
            pushed.name,
            source.github_full_name,
            [build.pk for build in queued],
        )
    return JsonResponse({"builds": [build.pk for build in queued]}, status=202 if queued else 200)
