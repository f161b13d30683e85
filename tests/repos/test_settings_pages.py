"""A repository's General settings page: descriptions, visibility, deleting a tag, renaming
and transferring, deleting the repository. alice owns `acme` and her own repositories; bob is
in acme's `crew` team, which may read `acme/app` (admin in some tests); charlie is outside.

Deleting tags and renaming with a real registry are tested end to end in
tests/e2e/test_repository_deletion.py; here the registry is out of reach when it is needed.
"""

import pytest
from django.test import Client

from accounts.models import Namespace
from orgs.models import TeamPermission
from repos.models import Activity, Repository
from tests.conftest import signed_in
from tests.registry.test_token import get_token, granted

pytestmark = pytest.mark.django_db

APP = "/r/acme/app/settings/"
MINE = "/r/alice/mine/settings/"


@pytest.fixture
def mine(alice) -> Repository:
    return Repository.objects.create(
        namespace=Namespace.objects.get(name="alice"), name="mine", description="Old words"
    )


@pytest.fixture
def registry_down(settings) -> None:
    """A registry address where nothing listens."""
    settings.REGISTRY_URL = "http://127.0.0.1:9"


def text(response) -> str:
    return " ".join(response.content.decode().split())


def app() -> Repository:
    return Repository.objects.get(namespace__name="acme", name="app")


def make_admin() -> None:
    TeamPermission.objects.update(level="admin")


@pytest.mark.parametrize(
    "path",
    ["", "visibility/", "delete-tag/", "rename/", "delete/"],
)
def test_only_admins_reach_any_of_it(acme, mine, alice_client, bob_client, charlie_client, path):
    method = "get" if path in ("", "delete/") else "post"
    if method == "get":
        assert alice_client.get(APP + path).status_code == 200
        assert alice_client.get(MINE + path).status_code == 200
    # bob reads acme/app and sees the public alice/mine: 403. charlie cannot see acme/app: 404.
    assert getattr(bob_client, method)(APP + path).status_code == 403
    assert getattr(bob_client, method)(MINE + path).status_code == 403
    assert getattr(charlie_client, method)(APP + path).status_code == 404
    assert getattr(charlie_client, method)(MINE + path).status_code == 403
    assert getattr(charlie_client, method)(f"/r/acme/nothing/settings/{path}").status_code == 404
    anonymous = getattr(Client(), method)(APP + path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert app().state == Repository.State.ACTIVE and app().is_private


def test_a_team_with_admin_gets_the_settings(acme, bob_client):
    make_admin()
    page = bob_client.get(APP)
    assert page.status_code == 200
    body = text(page)
    for section in ("Descriptions", "Visibility", "Delete a tag", "Rename or transfer"):
        assert section in body
    assert "Type acme/app to confirm" in body


def test_descriptions_are_saved_and_checked(mine, alice_client):
    answer = alice_client.post(MINE, {"description": "Tiny tools", "full_description": "# Hi"})
    assert answer.status_code == 302 and answer["Location"] == MINE
    mine.refresh_from_db()
    assert (mine.description, mine.full_description) == ("Tiny tools", "# Hi")
    assert "Descriptions saved." in text(alice_client.get(MINE))

    too_long = alice_client.post(MINE, {"description": "x" * 101, "full_description": ""})
    assert too_long.status_code == 400
    assert "at most 100 characters" in text(too_long)
    mine.refresh_from_db()
    assert mine.description == "Tiny tools"


def test_visibility_changes_token_grants_at_once(acme, mine, alice, alice_client, charlie):
    scope = "repository:alice/mine:pull"
    assert granted(get_token(scope)) == {"alice/mine": {"pull"}}
    answer = alice_client.post(MINE + "visibility/", {"visibility": "private"})
    assert answer.status_code == 302
    # Anonymous and charlie lose pull with the very next token; the page is 404 to charlie.
    assert granted(get_token(scope)) == {}
    assert signed_in(charlie).get(MINE).status_code == 404
    assert "is now private" in text(alice_client.get(MINE))
    activity = Activity.objects.get(action=Activity.Action.VISIBILITY_CHANGED)
    assert (activity.actor, activity.data) == (alice, {"visibility": "private"})

    alice_client.post(MINE + "visibility/", {"visibility": "public"})
    assert granted(get_token(scope)) == {"alice/mine": {"pull"}}

    # A made-up value changes nothing.
    assert alice_client.post(APP + "visibility/", {"visibility": "secret"}).status_code == 302
    assert app().is_private
    assert "Choose public or private." in text(alice_client.get(APP))


def test_deleting_a_tag_checks_the_name_and_reports_a_registry_away(
    mine, alice_client, registry_down
):
    bad = alice_client.post(MINE + "delete-tag/", {"tag": "-nope"})
    assert bad.status_code == 400
    assert "is not a valid tag" in text(bad)
    away = alice_client.post(MINE + "delete-tag/", {"tag": "latest"})
    assert away.status_code == 503
    assert "registry could not be reached" in text(away)
    assert not Activity.objects.filter(action=Activity.Action.TAG_DELETED).exists()


def test_deleting_needs_the_exact_name(mine, alice_client):
    wrong = alice_client.post(MINE + "delete/", {"confirm": "alice/min"})
    assert wrong.status_code == 400
    assert "Type alice/mine exactly" in text(wrong)
    empty = alice_client.post(MINE + "delete/", {"confirm": ""})
    assert empty.status_code == 400
    mine.refresh_from_db()
    assert mine.state == Repository.State.ACTIVE


def test_deleting_hides_the_repository_at_once(mine, alice, alice_client):
    scope = "repository:alice/mine:pull"
    answer = alice_client.post(MINE + "delete/", {"confirm": "alice/mine"})
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert "alice/mine was deleted" in text(alice_client.get("/"))
    mine.refresh_from_db()
    assert mine.state == Repository.State.DELETING
    assert alice_client.get(MINE).status_code == 404
    assert alice_client.get("/r/alice/mine/").status_code == 404
    assert granted(get_token(scope)) == {}
    assert Activity.objects.filter(action=Activity.Action.REPO_DELETED, actor=alice).exists()


def test_an_admin_team_member_may_delete_an_org_repository(acme, bob_client):
    make_admin()
    answer = bob_client.post(APP + "delete/", {"confirm": "acme/app"})
    assert answer.status_code == 302
    assert app().state == Repository.State.DELETING


def test_rename_offers_only_namespaces_where_one_may_create(acme, mine, alice_client, bob_client):
    page = text(alice_client.get(MINE))
    assert '<option value="acme">acme</option>' in page
    assert '<option value="alice" selected>alice</option>' in page

    # bob administers acme/app but may not create in acme, nor anywhere but his own namespace.
    make_admin()
    page = text(bob_client.get(APP))
    assert '<option value="bob">bob</option>' in page
    assert '<option value="charlie">' not in page
    refused = bob_client.post(APP + "rename/", {"namespace": "alice", "name": "app"})
    assert refused.status_code == 400
    assert "Choose a namespace where you may create repositories." in text(refused)


def test_rename_refuses_bad_and_taken_names(acme, mine, alice_client):
    same = alice_client.post(MINE + "rename/", {"namespace": "alice", "name": "mine"})
    assert same.status_code == 400 and "already called alice/mine" in text(same)
    bad = alice_client.post(MINE + "rename/", {"namespace": "alice", "name": "Mine!"})
    assert bad.status_code == 400 and "is not a valid repository name" in text(bad)
    taken = alice_client.post(MINE + "rename/", {"namespace": "acme", "name": "app"})
    assert taken.status_code == 400 and "acme/app already exists" in text(taken)
    assert Repository.objects.get(pk=mine.pk).full_name == "alice/mine"


def test_rename_with_the_registry_away_changes_nothing(mine, alice_client, registry_down):
    away = alice_client.post(MINE + "rename/", {"namespace": "alice", "name": "yours"})
    assert away.status_code == 503
    assert "nothing was moved" in text(away)
    assert Repository.objects.get(pk=mine.pk).full_name == "alice/mine"
    assert not Repository.objects.filter(name="yours").exists()
