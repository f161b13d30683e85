import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Namespace
from orgs.models import Organization, Team, TeamMembership, TeamPermission
from repos.access import Permission, Principal, repository_permissions
from repos.models import Manifest, Repository, Tag
from tests.conftest import signed_in

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


def test_the_dashboard_lists_what_you_may_pull_in_your_organizations(alice, bob, charlie):
    """Bob's own repositories and those of his organizations he may pull (their public ones,
    and the private ones a team of his has a level on), most recently pushed first; nothing
    of organizations he is not in, nothing private he may not pull."""
    acme = Organization.create("acme", alice)
    globex = Organization.create("globex", charlie)
    Organization.create("initech", charlie)
    devs = Team.objects.create(organization=acme, name="devs")
    TeamMembership.objects.create(team=devs, user=bob)
    now = timezone.now()
    granted = repository("acme", "app", is_private=True, last_pushed=now - timedelta(hours=2))
    TeamPermission.objects.create(team=devs, repository=granted, level="read")
    repository("acme", "docs", last_pushed=now - timedelta(hours=1))
    repository("acme", "never-pushed")
    repository("acme", "vault", is_private=True, last_pushed=now)
    repository("acme", "gone", state=Repository.State.DELETING, last_pushed=now)
    repository("bob", "tool", last_pushed=now - timedelta(minutes=30))
    repository("initech", "public-app", last_pushed=now)
    # A team of another organization cannot lend acme's repositories to bob.
    spies = Team.objects.create(organization=globex, name="spies")
    TeamMembership.objects.create(team=spies, user=bob)
    TeamPermission.objects.create(
        team=spies, repository=repository("acme", "plans", is_private=True), level="read"
    )

    page = signed_in(bob).get("/").content.decode()
    listed = re.findall(r"<code>([a-z0-9/_-]+)</code>", page.split("Push an image")[0])
    assert listed == ["bob/tool", "acme/docs", "acme/app", "acme/never-pushed"]

    # The same answer repos.access gives, repository by repository.
    bobs_namespaces = ["bob", "acme", "globex", "initech"]
    may_pull = [
        r.full_name
        for r in Repository.objects.filter(namespace__name__in=bobs_namespaces)
        if Permission.PULL in repository_permissions(Principal(user=bob), r)
    ]
    assert sorted(may_pull) == sorted(listed + ["initech/public-app"])


def test_an_owner_sees_every_repository_of_the_organization(alice, alice_client):
    Organization.create("acme", alice)
    repository("acme", "vault", is_private=True)
    repository("alice", "app")
    page = alice_client.get("/").content.decode()
    assert "acme/vault" in page and "alice/app" in page
