"""The Hub API for organizations: members, invites, groups (teams) and their members, and the
groups' permissions on a repository. alice owns `acme`; bob is a member through the `readers`
team, which may read the private `acme/app`; dave is in `writers`; charlie is the outsider."""

import re

import pytest
from django.conf import settings
from django.core import mail

from accounts.models import AccessToken, Namespace, TokenScope
from orgs.models import Invitation, Organization, Team, TeamMembership, TeamPermission
from repos.access import Permission, Principal, repository_permissions
from repos.models import Repository
from tests.factories import UserFactory
from tests.support.api_clients import anonymous, basic, bearer, token_client
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave(db):
    return UserFactory(username="dave", full_name="Dave Writer")


@pytest.fixture
def acme(alice, bob, dave) -> Organization:
    organization = Organization.create("acme", alice, full_name="Acme Inc")
    readers = Team.objects.create(organization=organization, name="readers", description="Look")
    writers = Team.objects.create(organization=organization, name="writers")
    TeamMembership.objects.create(team=readers, user=bob)
    TeamMembership.objects.create(team=writers, user=dave)
    app = Repository.objects.create(namespace=organization.namespace, name="app", is_private=True)
    TeamPermission.objects.create(team=readers, repository=app, level="read")
    return organization


@pytest.fixture
def app(acme) -> Repository:
    return Repository.objects.get(namespace__name="acme", name="app")


def team(name: str) -> Team:
    return Team.objects.get(organization__namespace__name="acme", name=name)


def state() -> dict:
    """Everything the endpoints can change."""
    return {
        "teams": sorted(Team.objects.values_list("name", "description")),
        "memberships": sorted(TeamMembership.objects.values_list("team__name", "user__username")),
        "invitations": sorted(Invitation.objects.values_list("pk", "revoked_at")),
        "permissions": sorted(
            TeamPermission.objects.values_list("team__name", "repository__name", "level")
        ),
    }


# The whole authorization matrix: every endpoint, every principal. "token" is alice with a
# repo:read access token. Paths name teams and invitations; {ids} are filled in.
ENDPOINTS = [
    # method, path, body, alice, bob, charlie, anonymous, token
    ("get", "/v2/orgs/acme/members", None, 200, 200, 404, 401, 200),
    ("delete", "/v2/orgs/acme/members/dave", None, 204, 403, 404, 401, 403),
    ("get", "/v2/orgs/acme/invites", None, 200, 403, 404, 401, 403),
    ("post", "/v2/orgs/acme/invites", {"invitee": "erin@example.com", "team": "readers"},
     201, 403, 404, 401, 403),
    ("delete", "/v2/orgs/acme/invites/{invite}", None, 204, 403, 404, 401, 403),
    ("get", "/v2/orgs/acme/groups", None, 200, 200, 404, 401, 200),
    ("post", "/v2/orgs/acme/groups", {"name": "ops"}, 201, 403, 404, 401, 403),
    ("get", "/v2/orgs/acme/groups/readers", None, 200, 200, 404, 401, 200),
    ("patch", "/v2/orgs/acme/groups/readers", {"description": "New"}, 200, 403, 404, 401, 403),
    ("delete", "/v2/orgs/acme/groups/writers", None, 204, 403, 404, 401, 403),
    ("get", "/v2/orgs/acme/groups/readers/members", None, 200, 200, 404, 401, 200),
    ("post", "/v2/orgs/acme/groups/readers/members", {"member": "charlie"},
     200, 403, 404, 401, 403),
    ("delete", "/v2/orgs/acme/groups/writers/members/dave", None, 204, 403, 404, 401, 403),
    ("get", "/v2/repositories/acme/app/groups", None, 200, 403, 404, 404, 403),
    ("post", "/v2/repositories/acme/app/groups", {"group_id": "{writers}", "permission": "write"},
     201, 403, 404, 404, 403),
    ("delete", "/v2/repositories/acme/app/groups/{readers}", None, 204, 403, 404, 404, 403),
]  # fmt: skip
PRINCIPALS = ["alice", "bob", "charlie", "anonymous", "token"]


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [(method, path, body, dict(zip(PRINCIPALS, codes, strict=True)))
     for method, path, body, *codes in ENDPOINTS],
    ids=[f"{method} {path}" for method, path, *_ in ENDPOINTS],
)  # fmt: skip
def test_authorization_matrix(acme, alice, charlie, method, path, body, expected, principal):
    invitation, _ = Invitation.issue(team("readers"), alice, email="old@example.com")
    ids = {"invite": invitation.pk, "writers": team("writers").pk, "readers": team("readers").pk}
    path = path.format(**ids)
    body = {key: int(value.format(**ids)) if "{" in str(value) else value
            for key, value in (body or {}).items()}  # fmt: skip
    if principal == "anonymous":
        client = anonymous()
    elif principal == "token":
        client = token_client(alice, TokenScope.READ)
    else:
        client = bearer(principal)
    before = state()
    response = getattr(client, method)(path, body or None)
    assert response.status_code == expected[principal], response.content
    if response.status_code >= 400:
        body = response.json()
        assert body["detail"] and body["message"] == body["detail"]
        assert state() == before, "a refused request changed something"
    elif method != "get":
        assert state() != before


def test_members_list_in_docker_hubs_shape(acme, alice):
    response = bearer("bob").get("/v2/orgs/acme/members")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["next"] is None and body["previous"] is None
    first = body["results"][0]
    assert first == {
        "id": alice.pk,
        "username": "alice",
        "full_name": "Alice Liddell",
        "company": "",
        "location": "",
        "date_joined": first["date_joined"],
        "role": "owner",
        "groups": ["owners"],
    }
    assert [(m["username"], m["role"], m["groups"]) for m in body["results"]] == [
        ("alice", "owner", ["owners"]),
        ("bob", "member", ["readers"]),
        ("dave", "member", ["writers"]),
    ]
    TeamMembership.objects.create(team=team("writers"), user=alice)
    paged = bearer("alice").get("/v2/orgs/acme/members?page_size=1&page=1").json()
    assert paged["count"] == 3 and paged["next"].endswith("page=2&page_size=1")
    assert paged["results"][0]["groups"] == ["owners", "writers"]


def test_nobody_outside_learns_anything(acme, charlie):
    for path in ["/v2/orgs/acme/members", "/v2/orgs/nothing/members", "/v2/orgs/bob/groups"]:
        response = bearer("charlie").get(path)
        assert response.status_code == 404
        assert "that you are in" in response.json()["detail"]
    unknown = anonymous().get("/v2/orgs/acme/groups")
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "Sign in to see organizations."


def test_staff_may_read_and_manage_any_organization(acme):
    UserFactory(username="root-admin", is_staff=True)
    staff = bearer("root-admin")
    assert staff.get("/v2/orgs/acme/members").status_code == 200
    assert staff.post("/v2/orgs/acme/groups", {"name": "ops"}).status_code == 201


def test_remove_a_member_from_every_team(acme, alice, bob):
    TeamMembership.objects.create(team=team("writers"), user=bob)
    assert bearer("alice").delete("/v2/orgs/acme/members/bob").status_code == 204
    assert not TeamMembership.objects.filter(user=bob).exists()
    again = bearer("alice").delete("/v2/orgs/acme/members/bob")
    assert again.status_code == 404
    assert again.json()["detail"] == "bob is not a member of acme."


def test_the_last_owner_cannot_be_removed(acme, alice, bob):
    response = bearer("alice").delete("/v2/orgs/acme/members/alice")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "alice is the last member of the owners team of acme; add another owner first."
    )
    TeamMembership.objects.create(team=team("owners"), user=bob)
    assert bearer("bob").delete("/v2/orgs/acme/members/alice").status_code == 204
    assert list(team("owners").members.values_list("username", flat=True)) == ["bob"]


def test_a_member_may_leave_but_not_with_a_read_token(acme, bob):
    refused = token_client(bob, TokenScope.READ).delete("/v2/orgs/acme/members/bob")
    assert refused.status_code == 403
    assert "repo:read access token cannot change organizations" in refused.json()["detail"]
    assert basic("bob").delete("/v2/orgs/acme/members/bob").status_code == 204
    assert not acme.teams.filter(members=bob).exists()
    assert bearer("bob").get("/v2/orgs/acme/members").status_code == 404


def test_invite_by_username_sends_the_email_and_lists_it(acme, alice, charlie):
    client = bearer("alice")
    response = client.post("/v2/orgs/acme/invites", {"invitee": "charlie", "team": "readers"})
    assert response.status_code == 201, response.json()
    invite = response.json()
    assert invite == {
        "id": invite["id"],
        "inviter_username": "alice",
        "invitee": "charlie",
        "org": "acme",
        "team": "readers",
        "created_at": invite["created_at"],
        "expires_at": invite["expires_at"],
    }
    [message] = mail.outbox
    assert message.to == ["charlie@example.com"]
    assert message.subject == "alice invited you to join acme on Dockyard"
    assert 'the team "readers" of the organization Acme Inc (acme)' in message.body
    link = re.search(re.escape(settings.HUB_URL) + r"/orgs/invitations/(\S+)/", message.body)
    assert Invitation.find(link.group(1)).pk == invite["id"]
    assert "Sign in as charlie" in message.body
    assert client.get("/v2/orgs/acme/invites").json() == {"data": [invite]}
    assert client.delete(f"/v2/orgs/acme/invites/{invite['id']}").status_code == 204
    assert client.get("/v2/orgs/acme/invites").json() == {"data": []}
    # Kept, so that its link can say it was revoked.
    assert Invitation.objects.get().revoked_at is not None
    gone = client.delete(f"/v2/orgs/acme/invites/{invite['id']}")
    assert gone.status_code == 404
    assert gone.json()["detail"] == f"acme has no pending invitation {invite['id']}."


def test_invite_by_email(acme):
    response = bearer("alice").post(
        "/v2/orgs/acme/invites", {"invitee": "erin@example.org", "team": "writers"}
    )
    assert response.status_code == 201
    assert response.json()["invitee"] == "erin@example.org"
    [message] = mail.outbox
    assert message.to == ["erin@example.org"]
    assert "verified email address is erin@example.org" in message.body
    invitation = Invitation.objects.get()
    assert invitation.invitee is None and invitation.team.name == "writers"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"team": "readers"}, "invitee: This field is required."),
        ({"invitee": "charlie"}, "team: This field is required."),
        ({"invitee": "charlie", "team": "nope"}, "team: acme has no team named 'nope'."),
        ({"invitee": "nobody", "team": "readers"}, "invitee: There is no user named 'nobody'."),
        (
            {"invitee": "not@an@address", "team": "readers"},
            "invitee: 'not@an@address' is neither a username nor an email address.",
        ),
        ({"invitee": "bob", "team": "readers"}, "bob is already in the team readers."),
        (
            {"invitee": "bob@example.com", "team": "readers"},
            "bob@example.com is already in the team readers.",
        ),
        (
            {"invitee": "dave", "team": "readers"},
            "dave already has a pending invitation to the team readers; revoke it to send a "
            "new one.",
        ),
        (
            {"invitee": "mute", "team": "readers"},
            "mute has no email address: add them to the team instead.",
        ),
    ],
)
def test_bad_invitations(acme, alice, dave, body, detail):
    Invitation.issue(team("readers"), alice, invitee=dave)
    UserFactory(username="mute", email="")
    response = bearer("alice").post("/v2/orgs/acme/invites", body)
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert Invitation.objects.count() == 1 and not mail.outbox


def test_nothing_is_kept_when_the_email_cannot_be_sent(acme, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    response = bearer("alice").post(
        "/v2/orgs/acme/invites", {"invitee": "erin@example.org", "team": "writers"}
    )
    assert response.status_code == 503
    assert response.json()["detail"] == (
        "The invitation email could not be sent; nothing was kept. Try again later."
    )
    assert not Invitation.objects.exists()


def test_create_change_and_delete_a_group(acme):
    client = bearer("alice")
    created = client.post("/v2/orgs/acme/groups", {"name": "ops", "description": "Run it"})
    assert created.status_code == 201
    ops = team("ops")
    assert created.json() == {"id": ops.pk, "name": "ops", "description": "Run it",
                              "member_count": 0}  # fmt: skip
    listed = client.get("/v2/orgs/acme/groups").json()
    assert listed["count"] == 4
    assert [(g["name"], g["member_count"]) for g in listed["results"]] == [
        ("ops", 0), ("owners", 1), ("readers", 1), ("writers", 1)
    ]  # fmt: skip
    renamed = client.patch("/v2/orgs/acme/groups/ops", {"name": "sre"})
    assert renamed.status_code == 200
    assert renamed.json() == {"id": ops.pk, "name": "sre", "description": "Run it",
                              "member_count": 0}  # fmt: skip
    assert client.get("/v2/orgs/acme/groups/sre").json()["id"] == ops.pk
    assert client.get("/v2/orgs/acme/groups/ops").status_code == 404
    assert client.delete("/v2/orgs/acme/groups/sre").status_code == 204
    missing = client.get("/v2/orgs/acme/groups/sre")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "acme has no team named 'sre'."


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        ("post", "/v2/orgs/acme/groups", {}, "name: This field is required."),
        ("post", "/v2/orgs/acme/groups", {"name": "Bad Name!"}, "name: Not a valid team name."),
        ("post", "/v2/orgs/acme/groups", {"name": "readers"},
         "acme already has a team named 'readers'."),
        ("patch", "/v2/orgs/acme/groups/writers", {"name": "readers"},
         "acme already has a team named 'readers'."),
        ("patch", "/v2/orgs/acme/groups/owners", {"name": "bosses"},
         "The owners team cannot be renamed."),
        ("delete", "/v2/orgs/acme/groups/owners", None, "The owners team cannot be deleted."),
        ("post", "/v2/orgs/acme/groups/readers/members", {}, "member: This field is required."),
        ("post", "/v2/orgs/acme/groups/readers/members", {"member": "nobody"},
         "member: There is no user named 'nobody'."),
        ("post", "/v2/orgs/acme/groups/readers/members", {"member": "bob"},
         "bob is already in the team readers."),
        ("delete", "/v2/orgs/acme/groups/owners/members/alice", None,
         "alice is the last member of the owners team of acme; add another owner first."),
    ],
)  # fmt: skip
def test_bad_group_requests(acme, method, path, body, detail):
    before = state()
    response = getattr(bearer("alice"), method)(path, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert state() == before


def test_the_owners_team_keeps_its_description_editable(acme):
    response = bearer("alice").patch("/v2/orgs/acme/groups/owners", {"description": "The bosses"})
    assert response.status_code == 200
    assert team("owners").description == "The bosses"


def test_group_members(acme, charlie):
    client = bearer("alice")
    added = client.post("/v2/orgs/acme/groups/readers/members", {"member": "Charlie"})
    assert added.status_code == 200
    assert added.json()["username"] == "charlie"
    members = bearer("bob").get("/v2/orgs/acme/groups/readers/members").json()
    assert members["count"] == 2
    assert set(members["results"][0]) == {
        "id", "username", "full_name", "company", "location", "date_joined"
    }  # fmt: skip
    assert [m["username"] for m in members["results"]] == ["bob", "charlie"]
    # charlie is a member now: he may read the organization.
    assert bearer("charlie").get("/v2/orgs/acme/groups").status_code == 200
    assert client.delete("/v2/orgs/acme/groups/readers/members/charlie").status_code == 204
    missing = client.delete("/v2/orgs/acme/groups/readers/members/charlie")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "charlie is not in the team readers."
    assert bearer("charlie").get("/v2/orgs/acme/groups").status_code == 404


def test_repository_groups_give_and_take_permissions(acme, app, dave):
    client = bearer("alice")
    writers = team("writers")
    dave_can = lambda: repository_permissions(Principal(user=dave), app)  # noqa: E731
    assert dave_can() == frozenset()
    given = client.post(
        "/v2/repositories/acme/app/groups",
        {"group_id": writers.pk, "permission": "write"},
    )
    assert given.status_code == 201
    assert given.json() == {"group_name": "writers", "group_id": writers.pk, "permission": "write"}
    assert Permission.PUSH in dave_can()
    changed = client.post(
        "/v2/repositories/acme/app/groups", {"group_id": writers.pk, "permission": "read"}
    )
    assert changed.status_code == 200
    assert changed.json()["permission"] == "read"
    assert client.get("/v2/repositories/acme/app/groups").json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {"group_name": "readers", "group_id": team("readers").pk, "permission": "read"},
            {"group_name": "writers", "group_id": writers.pk, "permission": "read"},
        ],
    }
    assert client.delete(f"/v2/repositories/acme/app/groups/{writers.pk}").status_code == 204
    assert dave_can() == frozenset()
    again = client.delete(f"/v2/repositories/acme/app/groups/{writers.pk}")
    assert again.status_code == 404
    assert again.json()["detail"] == f"Group {writers.pk} has no permission on acme/app."


def test_a_team_with_admin_manages_the_repositorys_groups(acme, app, bob):
    TeamPermission.objects.filter(team=team("readers")).update(level="admin")
    response = bearer("bob").post(
        "/v2/repositories/acme/app/groups", {"group_id": team("writers").pk, "permission": "read"}
    )
    assert response.status_code == 201
    # ...but not the organization.
    assert bearer("bob").post("/v2/orgs/acme/groups", {"name": "ops"}).status_code == 403


def test_bad_repository_group_requests(acme, app, alice):
    other = Organization.create("globex", alice)
    Repository.objects.create(namespace=Namespace.objects.get(name="alice"), name="mine")
    client = bearer("alice")
    cases = [
        ("acme/app", {"permission": "read"}, "group_id: This field is required."),
        ("acme/app", {"group_id": team("writers").pk, "permission": "owner"},
         'permission: "owner" is not a valid choice.'),
        ("acme/app", {"group_id": other.owners_team.pk, "permission": "read"},
         f"group_id: acme has no group with id {other.owners_team.pk}."),
        ("acme/app", {"group_id": team("owners").pk, "permission": "read"},
         "The owners team already has full control of every repository of acme."),
        ("alice/mine", {"group_id": team("writers").pk, "permission": "read"},
         "alice/mine belongs to a user: only repositories of organizations give permissions "
         "to groups."),
    ]  # fmt: skip
    for repository, body, detail in cases:
        response = client.post(f"/v2/repositories/{repository}/groups", body)
        assert response.status_code == 400, body
        assert response.json()["detail"] == detail
    assert TeamPermission.objects.count() == 1


def test_basic_auth_and_access_tokens(acme, alice):
    assert basic("alice").post("/v2/orgs/acme/groups", {"name": "ops"}).status_code == 201
    _, read_secret = AccessToken.issue(alice, "ci", TokenScope.READ)
    read_only = basic("alice", read_secret)
    assert read_only.get("/v2/orgs/acme/groups").status_code == 200
    refused = read_only.post("/v2/orgs/acme/groups", {"name": "ops2"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "A repo:read access token cannot change organizations; use your password or a "
        "repo:admin token."
    )
    admin = token_client(alice, TokenScope.ADMIN)
    assert admin.post("/v2/orgs/acme/groups", {"name": "ops2"}).status_code == 201
    wrong = basic("alice", "wrong password").get("/v2/orgs/acme/groups")
    assert wrong.status_code == 401
