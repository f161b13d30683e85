import pytest
from django.utils import timezone

from accounts.models import Namespace
from repos.models import Manifest, Repository, Tag

pytestmark = pytest.mark.django_db


def repository(owner: str, name: str, **fields) -> Repository:
    return Repository.objects.create(
        namespace=Namespace.objects.get(name=owner), name=name, **fields
    )


def test_a_new_user_is_shown_how_to_push(alice_client):
    page = alice_client.get("/").content.decode()
    assert "Push your first image" in page
    assert "podman login --tls-verify=false 127.0.0.1:5000" in page
    assert "127.0.0.1:5000/alice/my-image:latest" in page


def test_the_dashboard_lists_your_repositories_only(alice, bob, alice_client):
    app = repository("alice", "app", is_private=True, pull_count=1234, description="The app")
    repository("alice", "tools")
    repository("alice", "gone", state=Repository.State.DELETING)
    repository("bob", "secret", is_private=True)
    manifest = Manifest.objects.create(repository=app, digest="sha256:" + "a" * 64, size=1)
    for name in ("1.0", "latest"):
        Tag.objects.create(repository=app, name=name, manifest=manifest, pushed_at=timezone.now())
    page = alice_client.get("/").content.decode()
    assert "Your repositories" in page
    assert "alice/app" in page and "The app" in page and "1,234" in page and "Private" in page
    assert "alice/tools" in page
    assert "alice/gone" not in page
    assert "bob/secret" not in page
    assert "Push your first image" not in page
