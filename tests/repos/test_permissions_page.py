"""A repository's Permissions page: teams (organization repositories) or collaborators (user
repositories), and the explainer of who can reach it and why. alice owns `acme` and her own
repositories; bob is in acme's `readers` team, which may read `acme/app`; charlie is outside."""

import pytest
from django.test import Client

from accounts.models import Namespace
from orgs.models import Collaborator, Organization, Team, TeamMembership, TeamPermission
from repos.models import Repository
from tests.conftest import signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

APP = "/r/acme/app/settings/permissions/"
MINE = "/r/alice/mine/settings/permissions/"


@pytest.fixture
def acme(alice, bob) -> Organization:
    organization = Organization.create("acme", alice)
    readers = Team.objects.create(organization=organization, name="readers")
    Team.objects.create(organization=organization, name="writers", description="Ship it")
    TeamMembership.objects.create(team=readers, user=bob)
    app = Repository.objects.create(namespace=organization.namespace, name="app", is_private=True)
    TeamPermission.objects.create(team=readers, repository=app, level="read")
    return organization


@pytest.fixture
def mine(alice) -> Repository:
    return Repository.objects.create(namespace=Namespace.objects.get(name="alice"), name="mine")


def team(name: str) -> Team:
    return Team.objects.get(organization__namespace__name="acme", name=name)


def levels() -> dict[str, str]:
    return dict(TeamPermission.objects.values_list("team__name", "level"))


def text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def staff(db):
    return UserFactory(username="root-admin", is_staff=True)


def test_who_may_open_the_page(acme, mine, alice_client, bob_client, charlie_client, staff):
    assert alice_client.get(APP).status_code == 200
    assert alice_client.get(MINE).status_code == 200
    # bob can see acme/app (read) but not manage it; mine is public: he sees it too.
    assert bob_client.get(APP).status_code == 403
    assert bob_client.get(MINE).status_code == 403
    # charlie cannot see the private acme/app at all, nor anything that does not exist.
    assert charlie_client.get(APP).status_code == 404
    assert charlie_client.get("/r/acme/nothing/settings/permissions/").status_code == 404
    assert charlie_client.get(MINE).status_code == 403
    assert signed_in(staff).get(APP).status_code == 200
    anonymous = Client().get(APP)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_a_team_with_admin_manages_the_permissions(acme, bob_client):
    TeamPermission.objects.update(level="admin")
    assert bob_client.get(APP).status_code == 200
    assert bob_client.post(APP, {"team": team("writers").pk, "level": "write"}).status_code == 302
    assert levels() == {"readers": "admin", "writers": "write"}


def test_org_repository_lists_teams_and_offers_the_others(acme, alice_client):
    page = alice_client.get(APP)
    body = text(page)
    assert "Team permissions" in body and "Collaborators" not in body
    assert "<strong>readers</strong>" in body and "1 member" in body
    assert '<option value="read" selected>Read</option>' in body
    offered = [str(t) for t in page.context["form"].fields["team"].queryset]
    # Neither the owners team (it has everything) nor a team with a level already.
    assert offered == ["acme/writers"]


def test_add_change_and_remove_a_team(acme, alice_client):
    added = alice_client.post(APP, {"team": team("writers").pk, "level": "write"}, follow=True)
    assert added.redirect_chain == [(APP, 302)]
    assert "The team writers now has write on acme/app." in text(added)
    assert levels() == {"readers": "read", "writers": "write"}
    assert "Every team of acme already has a permission here." in text(added)
    url = f"{APP}teams/{team('writers').pk}/"
    changed = alice_client.post(url, {"level": "admin"}, follow=True)
    assert "The team writers now has admin." in text(changed)
    assert levels() == {"readers": "read", "writers": "admin"}
    bad = alice_client.post(url, {"level": "owner"}, follow=True)
    assert "Choose read, write or admin." in text(bad)
    assert levels()["writers"] == "admin"
    removed = alice_client.post(f"{url}remove/", follow=True)
    assert "The team writers no longer has a permission on acme/app." in text(removed)
    assert levels() == {"readers": "read"}
    assert alice_client.post(f"{url}remove/").status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {"team": "owners", "level": "read"},
        {"team": "readers", "level": "write"},
        {"team": "elsewhere", "level": "read"},
    ],
)
def test_only_the_offered_teams_can_be_added(acme, alice, alice_client, data):
    other = Organization.create("globex", alice)
    ids = {"owners": team("owners").pk, "readers": team("readers").pk,
           "elsewhere": other.owners_team.pk}  # fmt: skip
    response = alice_client.post(APP, {**data, "team": ids[data["team"]]})
    assert response.status_code == 200
    assert "Choose one of the organization&#x27;s teams." in text(response)
    assert levels() == {"readers": "read"}


def test_without_admin_nothing_changes(acme, mine, bob, bob_client, charlie_client):
    url = f"{APP}teams/{team('readers').pk}/"
    assert bob_client.post(url, {"level": "admin"}).status_code == 403
    assert bob_client.post(f"{url}remove/").status_code == 403
    assert bob_client.post(APP, {"team": team("writers").pk, "level": "admin"}).status_code == 403
    assert charlie_client.post(url, {"level": "admin"}).status_code == 404
    assert charlie_client.post(f"{url}remove/").status_code == 404
    assert levels() == {"readers": "read"}
    Collaborator.objects.create(repository=mine, user=bob)
    assert charlie_client.post(f"{MINE}collaborators/bob/remove/").status_code == 403
    assert bob_client.post(MINE, {"username": "charlie"}).status_code == 403
    assert list(mine.collaborators.values_list("user__username", flat=True)) == ["bob"]
    # Changes are POST only.
    assert bob_client.get(f"{url}remove/").status_code == 405


def test_collaborators_on_a_user_repository(mine, bob, alice_client):
    page = text(alice_client.get(MINE))
    assert "Collaborators" in page and "Team permissions" not in page
    assert "No collaborators yet." in page
    added = alice_client.post(MINE, {"username": " Bob "}, follow=True)
    assert added.redirect_chain == [(MINE, 302)]
    body = text(added)
    assert "bob can now pull and push alice/mine." in body
    assert f'action="{MINE}collaborators/bob/remove/"' in body
    assert list(mine.collaborators.values_list("user__username", flat=True)) == ["bob"]
    removed = alice_client.post(f"{MINE}collaborators/bob/remove/", follow=True)
    assert "bob is no longer a collaborator on alice/mine." in text(removed)
    assert not mine.collaborators.exists()
    assert alice_client.post(f"{MINE}collaborators/bob/remove/").status_code == 404


@pytest.mark.parametrize(
    ("username", "error"),
    [
        ("", "This field is required."),
        ("nobody", "There is no user named &#x27;nobody&#x27;."),
        ("alice", "alice owns this repository already."),
        ("bob", "bob is a collaborator already."),
    ],
)
def test_bad_collaborators(mine, bob, alice_client, username, error):
    Collaborator.objects.create(repository=mine, user=bob)
    response = alice_client.post(MINE, {"username": username})
    assert response.status_code == 200
    assert error in text(response)
    assert mine.collaborators.count() == 1


def explainer(response) -> list[tuple[str, str, list[str]]]:
    return [(row.user.username, row.role.value, list(row.reasons))
            for row in response.context["reach"]]  # fmt: skip


def test_the_explainer_says_who_can_reach_an_org_repository_and_why(acme, alice, staff):
    dave = UserFactory(username="dave")
    TeamMembership.objects.create(team=team("writers"), user=dave)
    TeamMembership.objects.create(team=team("writers"), user=alice)
    app = Repository.objects.get(name="app")
    TeamPermission.objects.create(team=team("writers"), repository=app, level="write")
    response = signed_in(alice).get(APP)
    assert explainer(response) == [
        ("alice", "owner", ["member of the owners team", "team writers has write"]),
        ("root-admin", "owner", ["staff"]),
        ("dave", "write", ["team writers has write"]),
        ("bob", "read", ["team readers has read"]),
    ]
    body = text(response)
    assert "Everyone can pull" not in body
    assert "This repository is <strong>private</strong>" in body
    assert "<li>Team readers has read</li>" in body
    assert "pull, push, delete, admin" in body
    assert "charlie" not in body


def test_the_explainer_on_a_public_user_repository(mine, bob, alice_client):
    Collaborator.objects.create(repository=mine, user=bob)
    response = alice_client.get(MINE)
    assert explainer(response) == [
        ("alice", "owner", ["owner of the namespace"]),
        ("bob", "collaborator", ["collaborator"]),
    ]
    body = text(response)
    assert "Everyone can pull." in body
    assert '<span class="badge badge-success">Collaborator</span><div class="help">pull, push' in (
        body
    )
