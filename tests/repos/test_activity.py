"""Activity: what is recorded where things change, the repository and organization activity
pages, and Docker Hub's /v2/auditlogs/<account>. alice owns `acme`; bob is in its `crew`
team, which may read the private `acme/app`; `acme/secret` is private and not granted to bob;
charlie is outside."""

import base64
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from accounts.models import Namespace
from orgs.models import Invitation, Organization, Team
from registry.events import apply_pending
from repos.activity import describe, record
from repos.models import Activity, Repository
from tests.factories import PASSWORD
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
Action = Activity.Action


@pytest.fixture
def acme(acme) -> Organization:
    """The suite's acme, with a private repository bob's team is not granted."""
    Repository.objects.create(namespace=acme.namespace, name="secret", is_private=True)
    return acme


def repo(full_name: str) -> Repository:
    return Repository.objects.by_full_name(full_name)


def actions() -> list[tuple[str, str, str, dict]]:
    """(action, name, actor, data), oldest first."""
    return [
        (a.action, a.object_name, a.actor.username if a.actor else "", a.data)
        for a in Activity.objects.order_by("created", "pk")
    ]


def apply(*events: dict) -> None:
    for item in events:
        assert post({"events": [item]}).status_code == 200
    apply_pending(client=RegistryDouble({DIGEST_A: IMAGE}, {CONFIG: IMAGE_CONFIG}))


def basic(user: str) -> dict:
    token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


# Recording


def test_a_push_to_a_new_repository_records_its_creation_and_the_push(alice):
    apply(event("push", "alice/new", tag="v1", when=at(1)))
    assert actions() == [
        ("repo.create", "alice/new", "alice", {}),
        ("repo.tag.push", "alice/new", "alice", {"tag": "v1", "digest": DIGEST_A}),
    ]
    apply(event("push", "alice/new", tag="v2", when=at(2)))
    assert [a[0] for a in actions()] == ["repo.create", "repo.tag.push", "repo.tag.push"]
    assert all(a.repository == repo("alice/new") for a in Activity.objects.all())


def test_a_tag_deleted_through_the_registry_is_recorded(alice):
    apply(event("push", "alice/new", tag="v1", when=at(1)))
    apply(event("delete", "alice/new", when=at(2), media_type=None))
    assert actions()[-1] == (
        "repo.tag.delete",
        "alice/new",
        "alice",
        {"tag": "v1", "digest": DIGEST_A},
    )


def test_deleting_a_repository_is_recorded(alice, alice_client):
    apply(event("push", "alice/new", tag="v1", when=at(1)))
    response = alice_client.delete("/v1/repositories/alice/new/", **basic("alice"))
    assert response.status_code == 202, response.content
    deleted = Activity.objects.get(action=Action.REPO_DELETED)
    assert (deleted.object_name, deleted.actor) == ("alice/new", alice)


def test_team_permissions_on_the_permissions_page_are_recorded(acme, alice_client):
    page = "/r/acme/app/settings/permissions/"
    writers = Team.objects.create(organization=acme, name="writers")
    alice_client.post(page, {"team": writers.pk, "level": "write"})
    alice_client.post(f"{page}teams/{writers.pk}/", {"level": "admin"})
    alice_client.post(f"{page}teams/{writers.pk}/remove/")
    assert [a[1:] for a in actions()] == [
        ("acme/app", "alice", {"change": "added", "team": "writers", "permission": "write"}),
        ("acme/app", "alice", {"change": "changed", "team": "writers", "permission": "admin"}),
        ("acme/app", "alice", {"change": "removed", "team": "writers"}),
    ]
    assert {a[0] for a in actions()} == {"repo.permissions"}


def test_collaborators_are_recorded(alice, bob, alice_client):
    Repository.objects.create(namespace=Namespace.objects.get(name="alice"), name="mine")
    page = "/r/alice/mine/settings/permissions/"
    alice_client.post(page, {"username": "bob"})
    alice_client.post(f"{page}collaborators/bob/remove/")
    assert actions() == [
        ("repo.permissions", "alice/mine", "alice", {"change": "added", "collaborator": "bob"}),
        ("repo.permissions", "alice/mine", "alice", {"change": "removed", "collaborator": "bob"}),
    ]


def test_team_and_member_changes_on_the_organization_pages_are_recorded(
    acme, alice_client, charlie
):
    alice_client.post("/orgs/acme/teams/", {"name": "ops", "description": ""})
    alice_client.post("/orgs/acme/teams/ops/members/", {"username": "charlie"})
    alice_client.post("/orgs/acme/teams/ops/members/charlie/remove/")
    alice_client.post(
        "/orgs/acme/teams/ops/permissions/", {"repository": repo("acme/app").pk, "level": "read"}
    )
    alice_client.post("/orgs/acme/teams/ops/delete/")
    alice_client.post("/orgs/acme/members/bob/remove/")
    assert actions() == [
        ("team.create", "acme", "alice", {"team": "ops"}),
        ("team.member.add", "acme", "alice", {"team": "ops", "member": "charlie"}),
        ("team.member.remove", "acme", "alice", {"team": "ops", "member": "charlie"}),
        (
            "repo.permissions",
            "acme/app",
            "alice",
            {"change": "added", "team": "ops", "permission": "read"},
        ),
        ("team.delete", "acme", "alice", {"team": "ops"}),
        ("team.member.remove", "acme", "alice", {"team": "crew", "member": "bob"}),
    ]


def test_leaving_and_accepting_an_invitation_are_recorded(acme, bob_client, charlie):
    bob_client.post("/orgs/acme/leave/")
    invitation, secret = Invitation.issue(
        Team.objects.get(name="crew"), acme.owners_team.members.get(), invitee=charlie
    )
    charlie_client = Client()
    charlie_client.force_login(charlie)
    assert charlie_client.post(f"/orgs/invitations/{secret}/").status_code == 302
    assert actions() == [
        ("team.member.remove", "acme", "bob", {"team": "crew", "member": "bob"}),
        ("team.member.add", "acme", "charlie", {"team": "crew", "member": "charlie"}),
    ]


def test_changes_through_the_orgs_api_are_recorded(acme, alice, charlie):
    api = Client(**basic("alice"))
    json = "application/json"
    assert api.post("/v2/orgs/acme/groups", {"name": "ops"}, content_type=json).status_code == 201
    ops = Team.objects.get(name="ops")
    url = "/v2/orgs/acme/groups/ops/members"
    assert api.post(url, {"member": "charlie"}, content_type=json).status_code == 200
    assert api.delete(f"{url}/charlie").status_code == 204
    groups = "/v2/repositories/acme/app/groups"
    body = {"group_id": ops.pk, "permission": "write"}
    assert api.post(groups, body, content_type=json).status_code == 201
    assert api.delete(f"{groups}/{ops.pk}").status_code == 204
    assert api.delete("/v2/orgs/acme/groups/ops").status_code == 204
    assert api.delete("/v2/orgs/acme/members/bob").status_code == 204
    assert [(a[0], a[3]) for a in actions()] == [
        ("team.create", {"team": "ops"}),
        ("team.member.add", {"team": "ops", "member": "charlie"}),
        ("team.member.remove", {"team": "ops", "member": "charlie"}),
        ("repo.permissions", {"change": "added", "team": "ops", "permission": "write"}),
        ("repo.permissions", {"change": "removed", "team": "ops"}),
        ("team.delete", {"team": "ops"}),
        ("team.member.remove", {"team": "crew", "member": "bob"}),
    ]
    assert {a[2] for a in actions()} == {"alice"}


# Pages


def test_the_repository_activity_page_is_for_those_who_may_pull(
    acme, alice, alice_client, bob_client, charlie_client
):
    app = repo("acme/app")
    record(Action.REPO_PUSHED, namespace=app.namespace, repository=app, actor=alice, tag="v1")
    page = "/r/acme/app/activity/"
    for client in (alice_client, bob_client):
        response = client.get(page)
        assert response.status_code == 200
        text = " ".join(response.content.decode().split())
        assert "pushed the tag v1 to the repository acme/app" in text
    assert charlie_client.get(page).status_code == 404
    assert Client().get(page).status_code == 404
    assert charlie_client.get("/r/acme/nothing/activity/").status_code == 404
    public = Repository.objects.create(namespace=acme.namespace, name="public")
    record(Action.REPO_CREATED, namespace=acme.namespace, repository=public, actor=alice)
    response = Client().get("/r/acme/public/activity/")
    assert "created the repository acme/public" in response.content.decode()


def test_the_repository_activity_page_filters_by_action(acme, alice, alice_client):
    app = repo("acme/app")
    record(Action.REPO_PUSHED, namespace=app.namespace, repository=app, actor=alice, tag="v1")
    record(Action.VISIBILITY_CHANGED, namespace=app.namespace, repository=app, visibility="public")
    text = alice_client.get("/r/acme/app/activity/?action=repo.change_privacy").content.decode()
    assert "made the repository acme/app public" in text
    assert "pushed the tag" not in text


def test_the_organization_activity_page_is_for_members(
    acme, alice, alice_client, bob_client, charlie_client
):
    app, secret = repo("acme/app"), repo("acme/secret")
    record(Action.REPO_PUSHED, namespace=acme.namespace, repository=app, actor=alice, tag="v1")
    record(Action.REPO_PUSHED, namespace=acme.namespace, repository=secret, actor=alice, tag="s")
    record(Action.TEAM_CREATED, namespace=acme.namespace, actor=alice, team="ops")
    page = "/orgs/acme/activity/"
    owner = alice_client.get(page).content.decode()
    assert "acme/app" in owner and "acme/secret" in owner and "created the team ops" in owner
    # bob sees the team change and what he may pull, never a name he may not see.
    member = bob_client.get(page)
    assert member.status_code == 200
    text = member.content.decode()
    assert "acme/app" in text and "created the team ops" in text
    assert "acme/secret" not in text
    assert charlie_client.get(page).status_code == 404
    assert Client().get(page).status_code == 302  # to sign in


# /v2/auditlogs


def test_the_audit_log_in_docker_hubs_shape(acme, alice):
    app = repo("acme/app")
    record(Action.REPO_PUSHED, namespace=acme.namespace, repository=app, actor=alice, tag="v1")
    response = Client(**basic("alice")).get("/v2/auditlogs/acme")
    assert response.status_code == 200
    [log] = response.json()["logs"]
    assert set(log) == {
        "account",
        "action",
        "name",
        "actor",
        "data",
        "timestamp",
        "action_description",
    }
    assert (log["account"], log["action"], log["name"], log["actor"]) == (
        "acme",
        "repo.tag.push",
        "acme/app",
        "alice",
    )
    assert log["data"] == {"tag": "v1"}
    assert log["timestamp"].endswith("Z")
    assert log["action_description"] == "pushed the tag v1 to the repository acme/app"


def test_who_may_read_an_audit_log(acme, alice, bob, charlie):
    assert Client(**basic("bob")).get("/v2/auditlogs/acme").status_code == 403
    assert Client(**basic("charlie")).get("/v2/auditlogs/acme").status_code == 404
    assert Client().get("/v2/auditlogs/acme").status_code == 401
    assert Client(**basic("alice")).get("/v2/auditlogs/nobody").status_code == 404
    # A user's own log is theirs alone.
    assert Client(**basic("bob")).get("/v2/auditlogs/bob").status_code == 200
    assert Client(**basic("alice")).get("/v2/auditlogs/bob").status_code == 404
    assert Client(**basic("charlie")).get("/v2/auditlogs/acme/actions").status_code == 404


def test_the_audit_log_filters_and_pages(acme, alice, bob):
    app = repo("acme/app")
    for tag in ("1", "2", "3"):
        record(Action.REPO_PUSHED, namespace=acme.namespace, repository=app, actor=alice, tag=tag)
    record(Action.TEAM_CREATED, namespace=acme.namespace, actor=bob, team="ops")
    api = Client(**basic("alice"))

    def tags(query: str) -> list[str]:
        response = api.get(f"/v2/auditlogs/acme?{query}")
        assert response.status_code == 200, response.content
        return [log["data"].get("tag") or log["data"]["team"] for log in response.json()["logs"]]

    assert tags("") == ["ops", "3", "2", "1"]
    assert tags("action=repo.tag.push") == ["3", "2", "1"]
    assert tags("actor=bob") == ["ops"]
    assert tags("name=acme/app&page_size=2") == ["3", "2"]
    assert tags("name=acme/app&page_size=2&page=2") == ["1"]
    later = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert tags(f"from={later}") == []
    assert tags(f"to={later}") == ["ops", "3", "2", "1"]
    assert api.get("/v2/auditlogs/acme?action=nope").status_code == 400
    assert api.get("/v2/auditlogs/acme?from=yesterday").status_code == 400
    assert api.get("/v2/auditlogs/acme?page_size=1000").status_code == 400


def test_the_audit_log_actions(acme, alice):
    api = Client(**basic("alice"))
    groups = api.get("/v2/auditlogs/acme/actions").json()["actions"]
    assert set(groups) == {"repo", "org"}
    assert {a["name"] for a in groups["repo"]["actions"]} >= {"repo.tag.push", "repo.remove"}
    assert {a["name"] for a in groups["org"]["actions"]} >= {"team.create", "team.member.add"}
    assert set(groups["repo"]["actions"][0]) == {"name", "label", "description"}
    assert set(api.get("/v2/auditlogs/alice/actions").json()["actions"]) == {"repo"}


@pytest.mark.parametrize(
    "action, name, data, description",
    [
        ("repo.create", "acme/app", {}, "created the repository acme/app"),
        (
            "repo.tag.push",
            "acme/app",
            {"tag": "v1", "digest": "sha256:1"},
            "pushed the tag v1 with the digest sha256:1 to the repository acme/app",
        ),
        (
            "repo.tag.delete",
            "acme/app",
            {"tag": "v1"},
            "deleted the tag v1 from the repository acme/app",
        ),
        (
            "repo.change_privacy",
            "acme/app",
            {"visibility": "private"},
            "made the repository acme/app private",
        ),
        (
            "repo.permissions",
            "acme/app",
            {"change": "changed", "team": "ops", "permission": "admin"},
            "gave the team ops admin on the repository acme/app",
        ),
        (
            "repo.permissions",
            "acme/app",
            {"change": "removed", "team": "ops"},
            "took the permission of the team ops on the repository acme/app away",
        ),
        (
            "repo.permissions",
            "alice/mine",
            {"change": "added", "collaborator": "bob"},
            "added bob as a collaborator on the repository alice/mine",
        ),
        (
            "repo.permissions",
            "alice/mine",
            {"change": "removed", "collaborator": "bob"},
            "removed the collaborator bob from the repository alice/mine",
        ),
        (
            "repo.rename",
            "acme/new",
            {"from": "alice/old", "to": "acme/new"},
            "renamed the repository alice/old to acme/new",
        ),
        ("repo.remove", "acme/app", {}, "deleted the repository acme/app"),
        ("team.member.add", "acme", {"team": "ops", "member": "bob"}, "added bob to the team ops"),
        (
            "team.member.remove",
            "acme",
            {"team": "ops", "member": "bob"},
            "removed bob from the team ops",
        ),
        ("team.create", "acme", {"team": "ops"}, "created the team ops"),
        ("team.delete", "acme", {"team": "ops"}, "deleted the team ops"),
    ],
)
def test_every_action_is_described(action, name, data, description):
    assert describe(Activity(action=action, object_name=name, data=data)) == description


def test_an_anonymous_actor_is_recorded_as_nobody(acme):
    entry = record(Action.TEAM_CREATED, namespace=acme.namespace, actor=AnonymousUser(), team="x")
    assert entry.actor is None
