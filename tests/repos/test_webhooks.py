"""Outgoing webhooks: a push of a tag POSTs Docker Hub's payload, signed with the webhook's
secret, to a real HTTP receiver on loopback; 5xx answers and refused connections are tried
again; every delivery is logged. The settings pages are for admins: alice owns `acme`, bob is
in its `readers` team (read on the private `acme/app`), charlie is outside."""

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from orgs.models import Organization, Team, TeamMembership, TeamPermission
from registry.events import apply_pending
from repos.models import Repository, Star, Webhook, WebhookDelivery
from repos.tasks import deliver_webhook
from repos.webhooks import MAX_ATTEMPTS, retry_delay
from tests.registry.test_events import (
    CONFIG,
    DIGEST_A,
    IMAGE,
    IMAGE_CONFIG,
    RegistryDouble,
    at,
    event,
    post,
)

pytestmark = pytest.mark.django_db

HOOKS = "/r/acme/app/settings/webhooks/"


class Receiver:
    """An HTTP server on loopback that records each request and answers with the next status
    of `statuses` (200 once they run out)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def acme(alice, bob) -> Organization:
    organization = Organization.create("acme", alice)
    readers = Team.objects.create(organization=organization, name="readers")
    TeamMembership.objects.create(team=readers, user=bob)
    app = Repository.objects.create(
        namespace=organization.namespace,
        name="app",
        is_private=True,
        description="The app",
        full_description="# App",
    )
    TeamPermission.objects.create(team=readers, repository=app, level="read")
    return organization


@pytest.fixture
def app(acme) -> Repository:
    return Repository.objects.get(namespace__name="acme", name="app")


def add_webhook(repository: Repository, url: str, name: str = "ci") -> Webhook:
    return Webhook.objects.create(repository=repository, name=name, url=url, secret="s3cret")


@pytest.fixture
def push(django_capture_on_commit_callbacks):
    """alice pushes acme/app:<tag> through the registry's notification, applied as the worker
    would, with what it queues once the push is recorded run at once."""

    def push(tag: str | None = "v1", *, seconds: float = 1, repository: str = "acme/app"):
        response = post({"events": [event("push", repository, tag=tag, when=at(seconds))]})
        assert response.status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            assert apply_pending(client=RegistryDouble({DIGEST_A: IMAGE}, {CONFIG: IMAGE_CONFIG}))

    return push


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Delivery


def test_a_push_is_delivered_signed_with_the_secret(app, receiver, push):
    hook = add_webhook(app, receiver.url)
    push("v1")
    [(headers, body)] = receiver.requests
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Dockyard-Signature"], expected)
    assert headers["Content-Type"] == "application/json"
    forged = "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()
    assert headers["X-Dockyard-Signature"] != forged
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.attempts, delivery.response_status, delivery.error) == (1, 200, "")
    assert delivery.delivered_at is not None and delivery.duration_ms is not None
    assert json.loads(body) == delivery.payload


def test_the_payload_is_docker_hubs(app, alice, bob, receiver, push):
    hook = add_webhook(app, receiver.url)
    Star.objects.create(repository=app, user=bob)
    push("v1", seconds=5)
    [payload] = receiver.bodies()
    assert set(payload) == {"callback_url", "push_data", "repository"}
    assert payload["push_data"] == {
        "pushed_at": int(at(5).timestamp()),
        "pusher": "alice",
        "tag": "v1",
    }
    assert payload["repository"] == {
        "comment_count": 0,
        "date_created": int(app.created.timestamp()),
        "description": "The app",
        "dockerfile": "",
        "full_description": "# App",
        "is_official": False,
        "is_private": True,
        "is_trusted": False,
        "name": "app",
        "namespace": "acme",
        "owner": "acme",
        "repo_name": "acme/app",
        "repo_url": f"{settings.HUB_URL}/r/acme/app/",
        "star_count": 1,
        "status": "Active",
    }
    assert payload["callback_url"] == f"{settings.HUB_URL}{HOOKS}{hook.pk}/"


def test_every_webhook_of_the_repository_and_only_its_own_is_called(app, alice, receiver, push):
    add_webhook(app, receiver.url, "one")
    add_webhook(app, receiver.url + "?two", "two")
    other = Repository.objects.create(namespace=app.namespace, name="other")
    add_webhook(other, receiver.url + "?other", "other")
    push("v1")
    assert len(receiver.requests) == 2
    assert {payload["repository"]["repo_name"] for payload in receiver.bodies()} == {"acme/app"}


def test_a_push_without_a_tag_calls_nothing(app, receiver, push):
    """The child manifests of a multi-platform push come by digest; only the tag counts."""
    add_webhook(app, receiver.url)
    push(None)
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_a_5xx_is_tried_again_then_delivered(app, receiver, push, alice_client):
    hook = add_webhook(app, receiver.url)
    receiver.statuses = [500, 503]
    push("v1")
    assert len(receiver.requests) == 3
    # The same signed body each time.
    assert len({body for _, body in receiver.requests}) == 1
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.attempts, delivery.response_status, delivery.error) == (3, 200, "")
    page = alice_client.get(f"{HOOKS}{hook.pk}/").content.decode()
    assert 'data-status="delivered"' in page
    assert "<code>200</code>" in page


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(
    app, receiver, push, alice_client
):
    hook = add_webhook(app, receiver.url)
    receiver.statuses = [502] * 10
    push("v1")
    assert len(receiver.requests) == MAX_ATTEMPTS
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.attempts, delivery.response_status) == (MAX_ATTEMPTS, 502)
    assert delivery.delivered_at is None
    assert "502" in delivery.error
    page = alice_client.get(f"{HOOKS}{hook.pk}/").content.decode()
    assert 'data-status="failed"' in page
    assert "<code>502</code>" in page
    # The delay between attempts doubles.
    assert [retry_delay(n) for n in range(1, MAX_ATTEMPTS)] == [10, 20, 40, 80]


def test_a_4xx_is_not_tried_again(app, receiver, push):
    hook = add_webhook(app, receiver.url)
    receiver.statuses = [404]
    push("v1")
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.attempts, delivery.response_status) == (1, 404)


def test_a_refused_connection_is_tried_again_and_logged(app, push, alice_client):
    hook = add_webhook(app, f"http://127.0.0.1:{free_port()}/hook")
    push("v1")
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.attempts == MAX_ATTEMPTS
    assert delivery.response_status is None
    assert "ConnectionError" in delivery.error
    page = alice_client.get(f"{HOOKS}{hook.pk}/").content.decode()
    assert 'data-status="failed"' in page
    assert "ConnectionError" in page


# Settings pages


def test_who_may_open_the_webhooks_pages(app, alice_client, bob_client, charlie_client):
    hook = add_webhook(app, "https://ci.example.com/hook")
    for url in (HOOKS, f"{HOOKS}{hook.pk}/"):
        assert alice_client.get(url).status_code == 200
        assert bob_client.get(url).status_code == 403
        assert charlie_client.get(url).status_code == 404
    assert alice_client.get(f"{HOOKS}999/").status_code == 404


def test_a_team_with_admin_may_manage_webhooks(app, bob_client):
    TeamPermission.objects.filter(repository=app).update(level="admin")
    assert bob_client.get(HOOKS).status_code == 200


def test_adding_a_webhook_shows_its_secret_once(app, alice_client):
    response = alice_client.post(HOOKS, {"name": "ci", "url": "https://ci.example.com/hook"})
    assert response.status_code == 302
    hook = Webhook.objects.get(repository=app)
    assert (hook.name, hook.url, len(hook.secret)) == ("ci", "https://ci.example.com/hook", 64)
    first = alice_client.get(HOOKS).content.decode()
    assert hook.secret in first
    assert "https://ci.example.com/hook" in first
    assert hook.secret not in alice_client.get(HOOKS).content.decode()


@pytest.mark.parametrize(
    "url", ["ftp://files.example.com/hook", "javascript:alert(1)", "ci.example.com", "http://"]
)
def test_only_http_and_https_addresses_are_accepted(app, alice_client, url):
    response = alice_client.post(HOOKS, {"name": "ci", "url": url})
    assert response.status_code == 200
    assert "Enter an http:// or https:// address" in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_name_is_required(app, alice_client):
    response = alice_client.post(HOOKS, {"name": "", "url": "https://ci.example.com/hook"})
    assert response.status_code == 200
    assert not Webhook.objects.exists()


def test_the_read_member_and_the_outsider_cannot_add_or_delete(app, bob_client, charlie_client):
    hook = add_webhook(app, "https://ci.example.com/hook")
    data = {"name": "x", "url": "https://evil.example.com/"}
    assert bob_client.post(HOOKS, data).status_code == 403
    assert charlie_client.post(HOOKS, data).status_code == 404
    assert bob_client.post(f"{HOOKS}{hook.pk}/delete/").status_code == 403
    assert charlie_client.post(f"{HOOKS}{hook.pk}/delete/").status_code == 404
    assert list(Webhook.objects.values_list("url", flat=True)) == ["https://ci.example.com/hook"]


def test_deleting_a_webhook_stops_its_deliveries(app, alice_client, receiver, push):
    hook = add_webhook(app, receiver.url)
    other = Repository.objects.create(namespace=app.namespace, name="other")
    elsewhere = add_webhook(other, receiver.url)
    # A webhook of another repository cannot be deleted through this one's page.
    assert alice_client.post(f"{HOOKS}{elsewhere.pk}/delete/").status_code == 404
    assert alice_client.post(f"{HOOKS}{hook.pk}/delete/").status_code == 302
    assert not Webhook.objects.filter(pk=hook.pk).exists()
    push("v1")
    assert receiver.requests == []


def test_the_list_counts_deliveries(app, alice_client, receiver, push):
    add_webhook(app, receiver.url)
    receiver.statuses = [404]
    push("v1")
    push("v2", seconds=2)
    page = " ".join(alice_client.get(HOOKS).content.decode().split())
    assert "1 of 2 delivered" in page


def test_the_log_shows_deliveries_waiting_and_retrying(app, alice_client):
    hook = add_webhook(app, "https://ci.example.com/hook")
    payload = {"push_data": {"tag": "v9", "pusher": "alice"}}
    WebhookDelivery.objects.create(webhook=hook, payload=payload)
    WebhookDelivery.objects.create(webhook=hook, payload=payload, attempts=2, response_status=500)
    page = alice_client.get(f"{HOOKS}{hook.pk}/").content.decode()
    assert 'data-status="pending"' in page
    assert 'data-status="retrying"' in page
    assert "<code>v9</code>" in page


def test_a_delivered_delivery_is_not_sent_again(app, receiver, push):
    hook = add_webhook(app, receiver.url)
    push("v1")
    deliver_webhook.delay(WebhookDelivery.objects.get(webhook=hook).pk)
    assert len(receiver.requests) == 1


def test_the_same_address_is_not_added_twice(app, alice_client):
    add_webhook(app, "https://ci.example.com/hook")
    response = alice_client.post(HOOKS, {"name": "again", "url": "https://ci.example.com/hook"})
    assert "already calls that address" in response.content.decode()
    assert Webhook.objects.count() == 1
