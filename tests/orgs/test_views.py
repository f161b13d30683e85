"""The organization pages for alice (owner of acme), bob (in acme's `devs` team, which has read
on one private repository) and charlie (outsider): what each sees, what each may change, the
invitation links, the last-owner rule and the shared namespace space."""

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from accounts.models import Namespace
from orgs.models import (
    OWNERS_TEAM,
    Invitation,
    Organization,
    Team,
    TeamMembership,
    TeamPermission,
)
from repos.access import Permission, Principal, repository_permissions
from repos.models import Repository
from tests.conftest import signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(alice):
    return Organization.create("acme", alice, full_name="Acme Corporation")


@pytest.fixture
def app(org):
    return Repository.objects.create(namespace=org.namespace, name="app", description="The app")


@pytest.fixture
def secret(org):
    return Repository.objects.create(namespace=org.namespace, name="secret", is_private=True)


@pytest.fixture
def hidden(org):
    """Private, and no team of bob's has it."""
    return Repository.objects.create(namespace=org.namespace, name="hidden", is_private=True)


@pytest.fixture
def devs(org, bob, secret):
    team = Team.objects.create(organization=org, name="devs", description="Developers")
    TeamMembership.objects.create(team=team, user=bob)
    TeamPermission.objects.create(team=team, repository=secret, level="read")
    return team


def text(response) -> str:
    return response.content.decode()


def followed(response) -> str:
    """The messages shown after a redirect."""
    return " ".join(str(message) for message in response.context["messages"])


def members_of(team: Team) -> set[str]:
    return set(team.members.values_list("username", flat=True))


# The list of your organizations, and creating one


def test_the_list_shows_your_organizations_and_your_role(org, devs, alice_client, bob_client):
    page = text(alice_client.get("/orgs/"))
    assert "Acme Corporation" in page and "Owner" in page
    assert "Create organization" in page
    page = text(bob_client.get("/orgs/"))
    assert "Acme Corporation" in page and "Member" in page


def test_an_outsider_sees_no_organization_and_is_shown_how_to_start(org, charlie_client):
    page = text(charlie_client.get("/orgs/"))
    assert "Acme" not in page
    assert "not in any organization yet" in page


def test_organization_pages_other_than_the_public_one_need_signing_in(org, devs):
    for path in ["/orgs/", "/orgs/new/", "/orgs/acme/teams/", "/orgs/acme/settings/"]:
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_header_links_to_organizations(alice_client):
    assert 'href="/orgs/">Organizations</a>' in text(alice_client.get("/"))


def test_creating_makes_the_creator_an_owner(alice, alice_client):
    response = alice_client.post(
        "/orgs/new/", {"name": " Acme ", "full_name": "Acme Corp", "email": "hi@acme.test"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/orgs/acme/"
    organization = Organization.objects.get(namespace__name="acme")
    assert organization.full_name == "Acme Corp"
    assert organization.email == "hi@acme.test"
    assert members_of(organization.owners_team) == {"alice"}
    assert Namespace.objects.get(name="acme").kind == Namespace.Kind.ORG
    assert "You are its owner" in followed(alice_client.get(response["Location"]))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bob", "&#x27;bob&#x27; is already taken by a user or an organization."),
        ("acme", "&#x27;acme&#x27; is already taken by a user or an organization."),
        ("Not Valid!", "is not a valid name. Use 2 to 30 characters"),
        ("x", "Use 2 to 30 characters"),
        ("admin", "&#x27;admin&#x27; is reserved"),
        ("", "This field is required."),
    ],
)
def test_an_organization_cannot_take_a_username_or_a_bad_name(
    org, bob, alice_client, name, message
):
    response = alice_client.post("/orgs/new/", {"name": name})
    assert response.status_code == 200
    assert message in text(response)
    assert Organization.objects.count() == 1


def test_a_new_user_cannot_take_an_organization_name(org):
    response = Client().post(
        "/accounts/signup/",
        {"username": "acme", "email": "acme@example.com", "password1": "a-long-passphrase-1"},
    )
    assert response.status_code == 200
    assert "already taken by a user or an organization" in text(response)
    assert not Namespace.objects.filter(name="acme", kind=Namespace.Kind.USER).exists()


# The organization page


def test_outsiders_see_the_public_face(org, app, secret, hidden, devs, charlie_client):
    for client in [Client(), charlie_client]:
        response = client.get("/orgs/acme/")
        assert response.status_code == 200
        page = text(response)
        assert "Acme Corporation" in page and "acme/app" in page
        for private in [
            "acme/secret",
            "acme/hidden",
            "devs",
            "Members",
            "bob",
            "/orgs/acme/settings/",
        ]:
            assert private not in page


def test_a_private_only_organization_shows_outsiders_no_names(org, secret, hidden, devs):
    page = text(Client().get("/orgs/acme/"))
    assert "has no public repositories" in page
    assert "acme/secret" not in page and "acme/hidden" not in page


def test_members_see_what_they_may_pull_and_the_teams_and_members(
    org, app, secret, hidden, devs, bob_client
):
    page = text(bob_client.get("/orgs/acme/"))
    assert "acme/app" in page and "acme/secret" in page
    assert "acme/hidden" not in page
    assert "devs" in page and "owners" in page
    assert "alice" in page and "bob" in page
    assert "Leave acme" in page
    assert "/orgs/acme/settings/" not in page  # no settings tab
    assert "/members/alice/remove/" not in page


def test_owners_see_every_repository_and_manage_members(org, app, hidden, devs, alice_client):
    page = text(alice_client.get("/orgs/acme/"))
    assert "acme/hidden" in page
    assert "/orgs/acme/settings/" in page
    assert "/orgs/acme/members/bob/remove/" in page


def test_an_unknown_organization_is_not_found(alice_client):
    assert alice_client.get("/orgs/nope/").status_code == 404
    assert alice_client.get("/orgs/alice/").status_code == 404  # a user, not an organization


# Settings


def test_settings_are_for_owners_only(org, devs, alice_client, bob_client, charlie_client):
    assert alice_client.get("/orgs/acme/settings/").status_code == 200
    assert bob_client.get("/orgs/acme/settings/").status_code == 403
    assert charlie_client.get("/orgs/acme/settings/").status_code == 404
    data = {"full_name": "Taken over", "save-profile": ""}
    assert bob_client.post("/orgs/acme/settings/", data).status_code == 403
    assert charlie_client.post("/orgs/acme/settings/", data).status_code == 404
    assert Organization.objects.get().full_name == "Acme Corporation"


def test_owners_change_the_profile(org, alice_client):
    response = alice_client.post(
        "/orgs/acme/settings/",
        {
            "full_name": "Acme Inc.",
            "email": "ops@acme.test",
            "company": "Acme",
            "location": "Paris",
            "website": "acme.test",
            "save-profile": "",
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.full_name, org.location, org.website) == ("Acme Inc.", "Paris", "https://acme.test")
    assert "The organization's profile was saved." in followed(alice_client.get("/orgs/acme/"))


def test_a_bad_profile_says_what_is_wrong(org, alice_client):
    response = alice_client.post(
        "/orgs/acme/settings/", {"email": "not-an-address", "save-profile": ""}
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in text(response)


def test_owners_set_default_privacy_and_who_creates_repositories(org, alice_client):
    response = alice_client.post(
        "/orgs/acme/settings/",
        {
            "default_private": "true",
            "members_can_create_repositories": "on",
            "save-repositories": "",
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    org.namespace.refresh_from_db()
    assert org.namespace.default_private is True
    assert org.members_can_create_repositories is True
    alice_client.post("/orgs/acme/settings/", {"default_private": "false", "save-repositories": ""})
    org.refresh_from_db()
    org.namespace.refresh_from_db()
    assert org.namespace.default_private is False
    assert org.members_can_create_repositories is False


def test_deleting_needs_the_name_typed(org, alice_client):
    response = alice_client.post("/orgs/acme/settings/", {"confirm": "acm", "delete": ""})
    assert response.status_code == 200
    assert "Type &#x27;acme&#x27; exactly to confirm." in text(response)
    assert Organization.objects.exists()


def test_deleting_an_organization_without_repositories_frees_its_name(org, bob, alice_client):
    TeamMembership.objects.create(team=Team.objects.create(organization=org, name="qa"), user=bob)
    response = alice_client.post("/orgs/acme/settings/", {"confirm": "acme", "delete": ""})
    assert response["Location"] == "/orgs/"
    assert not Organization.objects.exists()
    assert not Team.objects.exists()
    assert not Namespace.objects.filter(name="acme").exists()
    assert alice_client.post("/orgs/new/", {"name": "acme"}).status_code == 302


def test_deleting_an_organization_deletes_its_repositories_then_frees_the_name(
    org, app, secret, devs, bob, alice_client, bob_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_client.post("/orgs/acme/settings/", {"confirm": "acme", "delete": ""})
    assert "The organization acme was deleted with its 2 repositories." in followed(
        alice_client.get(response["Location"])
    )
    assert len(callbacks) == 2  # one registry clean-up per repository
    assert set(Repository.objects.values_list("state", flat=True)) == {"deleting"}
    assert repository_permissions(Principal(user=bob), secret) == frozenset()
    assert bob_client.get("/orgs/acme/").status_code == 404
    # The name waits for the clean-up: it goes by name and would take a newcomer's images.
    assert "already taken" in text(alice_client.post("/orgs/new/", {"name": "acme"}))

    # What the clean-up task does last, once the registry is empty.
    app.delete()
    assert Namespace.objects.filter(name="acme").exists()
    secret.delete()
    assert not Namespace.objects.filter(name="acme").exists()
    assert alice_client.post("/orgs/new/", {"name": "acme"}).status_code == 302


def test_a_repository_cleaned_up_in_a_live_organization_keeps_the_name(org, app):
    app.delete()
    assert Namespace.objects.filter(name="acme").exists()


# Teams


def test_members_see_the_teams_outsiders_do_not(
    org, devs, alice_client, bob_client, charlie_client
):
    for client in [alice_client, bob_client]:
        page = text(client.get("/orgs/acme/teams/"))
        assert "devs" in page and "Developers" in page and "owners" in page
    assert "Create a team" in text(alice_client.get("/orgs/acme/teams/"))
    assert "Create a team" not in text(bob_client.get("/orgs/acme/teams/"))
    assert charlie_client.get("/orgs/acme/teams/").status_code == 404


def test_owners_create_teams(org, alice_client):
    response = alice_client.post("/orgs/acme/teams/", {"name": "QA", "description": "Testers"})
    assert response["Location"] == "/orgs/acme/teams/qa/"
    assert Team.objects.get(name="qa").description == "Testers"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("devs", "acme already has a team named &#x27;devs&#x27;."),
        (OWNERS_TEAM, "acme already has a team named &#x27;owners&#x27;."),
        ("no spaces", "is not a valid team name. Use 2 to 30 characters"),
        ("-x", "is not a valid team name."),
        ("", "This field is required."),
    ],
)
def test_team_names_follow_the_namespace_rules(org, devs, alice_client, name, message):
    response = alice_client.post("/orgs/acme/teams/", {"name": name})
    assert response.status_code == 200
    assert message in text(response)
    assert org.teams.count() == 2


def test_only_owners_create_teams(org, devs, bob_client, charlie_client):
    assert bob_client.post("/orgs/acme/teams/", {"name": "mine"}).status_code == 403
    assert charlie_client.post("/orgs/acme/teams/", {"name": "mine"}).status_code == 404
    assert not Team.objects.filter(name="mine").exists()


def test_the_team_page(org, secret, devs, alice_client, bob_client, charlie_client):
    page = text(alice_client.get("/orgs/acme/teams/devs/"))
    assert "Developers" in page and "bob" in page and "acme/secret" in page
    assert "Add a member" in page and "Send invitation" in page and "Grant access" in page
    page = text(bob_client.get("/orgs/acme/teams/devs/"))
    assert "bob" in page and "acme/secret" in page and "Read" in page
    assert "Add a member" not in page and "Grant access" not in page and "Edit team" not in page
    assert charlie_client.get("/orgs/acme/teams/devs/").status_code == 404
    assert alice_client.get("/orgs/acme/teams/nope/").status_code == 404


def test_members_see_no_private_name_another_team_was_given(org, devs, app, hidden, bob_client):
    qa = Team.objects.create(organization=org, name="qa")
    TeamPermission.objects.create(team=qa, repository=hidden, level="read")
    TeamPermission.objects.create(team=qa, repository=app, level="write")
    page = text(bob_client.get("/orgs/acme/teams/qa/"))
    assert "acme/app" in page
    assert "acme/hidden" not in page


def test_owners_rename_and_describe_a_team(org, devs, alice_client, bob_client, charlie_client):
    assert bob_client.get("/orgs/acme/teams/devs/edit/").status_code == 403
    assert charlie_client.get("/orgs/acme/teams/devs/edit/").status_code == 404
    assert bob_client.post("/orgs/acme/teams/devs/edit/", {"name": "x1"}).status_code == 403
    assert alice_client.get("/orgs/acme/teams/devs/edit/").status_code == 200
    response = alice_client.post(
        "/orgs/acme/teams/devs/edit/", {"name": "builders", "description": "Build things"}
    )
    assert response["Location"] == "/orgs/acme/teams/builders/"
    devs.refresh_from_db()
    assert (devs.name, devs.description) == ("builders", "Build things")
    assert members_of(devs) == {"bob"}
    response = alice_client.post("/orgs/acme/teams/builders/edit/", {"name": OWNERS_TEAM})
    assert "acme already has a team named" in text(response)


def test_the_owners_team_keeps_its_name_and_cannot_be_deleted(org, alice_client):
    alice_client.post("/orgs/acme/teams/owners/edit/", {"name": "bosses", "description": "Us"})
    owners = org.owners_team
    assert owners.description == "Us"
    response = alice_client.post("/orgs/acme/teams/owners/delete/", follow=True)
    assert "The owners team cannot be deleted." in followed(response)
    assert org.teams.filter(name=OWNERS_TEAM).exists()


def test_owners_delete_teams(org, devs, secret, bob, alice_client, bob_client, charlie_client):
    assert bob_client.post("/orgs/acme/teams/devs/delete/").status_code == 403
    assert charlie_client.post("/orgs/acme/teams/devs/delete/").status_code == 404
    assert bob_client.get("/orgs/acme/teams/devs/delete/").status_code == 405
    response = alice_client.post("/orgs/acme/teams/devs/delete/")
    assert response["Location"] == "/orgs/acme/teams/"
    assert not Team.objects.filter(name="devs").exists()
    assert Permission.PULL not in repository_permissions(Principal(user=bob), secret)


# Members


def test_owners_add_members_by_username(org, devs, charlie, alice_client):
    response = alice_client.post("/orgs/acme/teams/devs/members/", {"username": "Charlie"})
    assert response["Location"] == "/orgs/acme/teams/devs/"
    assert members_of(devs) == {"bob", "charlie"}
    assert "charlie was added to devs." in followed(alice_client.get("/orgs/acme/teams/devs/"))


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "There is no user named &#x27;nobody&#x27;."),
        ("gone", "There is no user named &#x27;gone&#x27;."),
        ("bob", "bob is already in devs."),
        ("", "This field is required."),
    ],
)
def test_adding_a_member_says_what_is_wrong(org, devs, alice_client, username, message):
    UserFactory(username="gone", is_active=False)
    response = alice_client.post("/orgs/acme/teams/devs/members/", {"username": username})
    assert response.status_code == 200
    assert message in text(response)
    assert members_of(devs) == {"bob"}


def test_only_owners_add_members(org, devs, charlie, bob_client, charlie_client):
    assert (
        bob_client.post("/orgs/acme/teams/devs/members/", {"username": "charlie"}).status_code
        == 403
    )
    assert (
        charlie_client.post("/orgs/acme/teams/devs/members/", {"username": "charlie"}).status_code
        == 404
    )
    assert members_of(devs) == {"bob"}


def test_owners_remove_members_from_a_team(org, devs, alice_client):
    response = alice_client.post("/orgs/acme/teams/devs/members/bob/remove/")
    assert response["Location"] == "/orgs/acme/teams/devs/"
    assert members_of(devs) == set()


def test_a_member_may_leave_a_team_but_not_remove_others(
    org, devs, alice, bob_client, charlie_client
):
    TeamMembership.objects.create(team=devs, user=alice)
    assert bob_client.post("/orgs/acme/teams/devs/members/alice/remove/").status_code == 403
    assert bob_client.post("/orgs/acme/teams/owners/members/alice/remove/").status_code == 403
    assert charlie_client.post("/orgs/acme/teams/devs/members/bob/remove/").status_code == 404
    assert members_of(devs) == {"alice", "bob"}
    response = bob_client.post("/orgs/acme/teams/devs/members/bob/remove/")
    assert response["Location"] == "/orgs/acme/"
    assert members_of(devs) == {"alice"}


def test_owners_remove_someone_from_the_whole_organization(org, devs, bob, alice_client):
    qa = Team.objects.create(organization=org, name="qa")
    TeamMembership.objects.create(team=qa, user=bob)
    response = alice_client.post("/orgs/acme/members/bob/remove/")
    assert response["Location"] == "/orgs/acme/"
    assert not TeamMembership.objects.filter(user=bob).exists()
    assert alice_client.post("/orgs/acme/members/bob/remove/").status_code == 404


def test_members_cannot_remove_anyone_from_the_organization(org, devs, bob_client, charlie_client):
    assert bob_client.post("/orgs/acme/members/alice/remove/").status_code == 403
    assert charlie_client.post("/orgs/acme/members/bob/remove/").status_code == 404
    assert members_of(org.owners_team) == {"alice"}


def test_a_member_leaves_the_organization(org, devs, bob, alice_client, bob_client, charlie_client):
    qa = Team.objects.create(organization=org, name="qa")
    TeamMembership.objects.create(team=qa, user=bob)
    assert charlie_client.post("/orgs/acme/leave/").status_code == 404
    assert bob_client.get("/orgs/acme/leave/").status_code == 405
    response = bob_client.post("/orgs/acme/leave/")
    assert response["Location"] == "/orgs/"
    assert "You left acme." in followed(bob_client.get("/orgs/"))
    assert not TeamMembership.objects.filter(user=bob).exists()
    assert bob_client.get("/orgs/acme/teams/").status_code == 404


# The owners team never loses its last member


def test_the_last_owner_cannot_leave_or_be_removed(org, devs, alice, alice_client):
    for path in [
        "/orgs/acme/leave/",
        "/orgs/acme/teams/owners/members/alice/remove/",
        "/orgs/acme/members/alice/remove/",
    ]:
        response = alice_client.post(path, follow=True)
        assert "An organization needs at least one owner" in followed(response)
        assert members_of(org.owners_team) == {"alice"}


def test_an_inactive_owner_does_not_count_as_the_last_one(org, alice_client):
    TeamMembership.objects.create(team=org.owners_team, user=UserFactory(is_active=False))
    response = alice_client.post("/orgs/acme/leave/", follow=True)
    assert "An organization needs at least one owner" in followed(response)


def test_an_owner_may_go_once_there_is_another(org, devs, bob, alice, alice_client, bob_client):
    TeamMembership.objects.create(team=org.owners_team, user=bob)
    assert bob_client.get("/orgs/acme/settings/").status_code == 200
    response = alice_client.post("/orgs/acme/leave/")
    assert response["Location"] == "/orgs/"
    assert members_of(org.owners_team) == {"bob"}
    response = bob_client.post("/orgs/acme/teams/owners/members/bob/remove/", follow=True)
    assert "An organization needs at least one owner" in followed(response)


# Invitations


def invitation_link(message) -> str:
    return re.search(r"https?://\S+(/orgs/invitations/[\w-]+/)", message.body).group(1)


def invite(client: Client, who: str, mailoutbox) -> str:
    response = client.post("/orgs/acme/teams/devs/invitations/", {"who": who})
    assert response.status_code == 302, text(response)
    return invitation_link(mailoutbox[-1])


def test_inviting_by_username_mails_a_link_the_invitee_accepts(
    org, devs, charlie, alice_client, charlie_client, mailoutbox
):
    link = invite(alice_client, "charlie", mailoutbox)
    assert mailoutbox[-1].to == ["charlie@example.com"]
    assert "acme" in mailoutbox[-1].subject
    page = text(alice_client.get("/orgs/acme/teams/devs/"))
    assert "Pending invitations" in page and "charlie" in page
    assert "An invitation to devs was sent to charlie." in page

    page = text(charlie_client.get(link))
    assert "Join Acme Corporation" in page and "Accept invitation" in page
    assert members_of(devs) == {"bob"}  # opening the link is not accepting it
    response = charlie_client.post(link)
    assert response["Location"] == "/orgs/acme/"
    assert members_of(devs) == {"bob", "charlie"}
    assert "you are now in the team devs" in followed(charlie_client.get("/orgs/acme/"))
    assert "Pending invitations" not in text(alice_client.get("/orgs/acme/teams/devs/"))


def test_inviting_by_email_needs_that_address_verified(org, devs, alice_client, mailoutbox):
    link = invite(alice_client, "dora@elsewhere.test", mailoutbox)
    assert mailoutbox[-1].to == ["dora@elsewhere.test"]
    dora = UserFactory(username="dora", email="dora@elsewhere.test", verified=False)
    client = signed_in(dora)
    response = client.post(link)
    assert response.status_code == 403
    assert "Verify dora@elsewhere.test first" in text(response)
    assert members_of(devs) == {"bob"}

    EmailAddress.objects.filter(user=dora).update(verified=True)
    assert client.post(link)["Location"] == "/orgs/acme/"
    assert members_of(devs) == {"bob", "dora"}


def test_an_email_invitation_opened_by_an_account_without_that_address(
    org, devs, alice_client, charlie_client, mailoutbox
):
    link = invite(alice_client, "dora@elsewhere.test", mailoutbox)
    response = charlie_client.post(link)
    assert response.status_code == 403
    assert "sent to an email address that is not on the account charlie" in text(response)
    assert members_of(devs) == {"bob"}


def test_an_invitation_for_another_account(org, devs, charlie, alice_client, mailoutbox):
    link = invite(alice_client, "charlie", mailoutbox)
    dora = signed_in(UserFactory(username="dora"))
    response = dora.post(link)
    assert response.status_code == 403
    assert "This invitation is for another account, not dora." in text(response)
    assert members_of(devs) == {"bob"}


def test_an_expired_invitation(org, devs, charlie, alice_client, charlie_client, mailoutbox):
    link = invite(alice_client, "charlie", mailoutbox)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    for client in [charlie_client, Client()]:
        response = client.post(link)
        assert response.status_code == 410
        assert "This invitation expired." in text(response)
    assert members_of(devs) == {"bob"}
    assert "Pending invitations" not in text(alice_client.get("/orgs/acme/teams/devs/"))


def test_a_revoked_invitation(
    org, devs, charlie, alice_client, bob_client, charlie_client, mailoutbox
):
    link = invite(alice_client, "charlie", mailoutbox)
    invitation = Invitation.objects.get()
    revoke = f"/orgs/acme/teams/devs/invitations/{invitation.pk}/revoke/"
    assert bob_client.post(revoke).status_code == 403
    assert charlie_client.post(revoke).status_code == 404
    response = alice_client.post(revoke, follow=True)
    assert "The invitation for charlie was revoked." in followed(response)
    assert "Pending invitations" not in text(response)
    assert alice_client.post(revoke).status_code == 404  # no longer pending

    response = charlie_client.post(link)
    assert response.status_code == 410
    assert "This invitation was revoked." in text(response)
    assert members_of(devs) == {"bob"}


def test_an_invitation_works_once(org, devs, charlie, alice_client, charlie_client, mailoutbox):
    link = invite(alice_client, "charlie", mailoutbox)
    charlie_client.post(link)
    alice_client.post("/orgs/acme/teams/devs/members/charlie/remove/")
    response = charlie_client.post(link)
    assert response.status_code == 410
    assert "already accepted" in text(response)
    assert members_of(devs) == {"bob"}


def test_an_invitation_for_someone_already_in_the_team(
    org, devs, charlie, alice_client, charlie_client, mailoutbox
):
    link = invite(alice_client, "charlie", mailoutbox)
    TeamMembership.objects.create(team=devs, user=charlie)
    response = charlie_client.post(link)
    assert response.status_code == 200
    assert "You are already a member of the team devs." in text(response)
    assert TeamMembership.objects.filter(team=devs, user=charlie).count() == 1


def test_an_unknown_link_is_not_found(charlie_client):
    response = charlie_client.get("/orgs/invitations/" + "x" * 43 + "/")
    assert response.status_code == 404
    assert "This invitation link is not valid." in text(response)


def test_signing_in_is_needed_to_accept(org, devs, charlie, alice_client, mailoutbox):
    link = invite(alice_client, "charlie", mailoutbox)
    anonymous = Client()
    page = text(anonymous.get(link))
    assert "Sign in to accept" in page and f'href="/accounts/login/?next={link}"' in page
    assert anonymous.post(link).status_code == 200
    assert members_of(devs) == {"bob"}


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("bob", "bob is already in devs."),
        ("bob@example.com", "bob@example.com is already in devs."),
        ("nobody", "There is no user named &#x27;nobody&#x27;."),
        ("dora@", "&#x27;dora@&#x27; is not a valid email address."),
        ("charlie", "They already have a pending invitation"),
        ("Dora@Elsewhere.test", "They already have a pending invitation"),
    ],
)
def test_inviting_says_what_is_wrong(org, devs, charlie, alice_client, mailoutbox, who, message):
    invite(alice_client, "charlie", mailoutbox)
    invite(alice_client, "dora@elsewhere.test", mailoutbox)
    response = alice_client.post("/orgs/acme/teams/devs/invitations/", {"who": who})
    assert response.status_code == 200
    assert message in text(response)
    assert len(mailoutbox) == 2


def test_an_invitation_that_cannot_be_mailed_is_not_kept(
    org, devs, charlie, alice_client, settings, mailoutbox
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: refused
    response = alice_client.post("/orgs/acme/teams/devs/invitations/", {"who": "charlie"})
    assert response.status_code == 200
    assert "The invitation email could not be sent." in text(response)
    assert not Invitation.objects.exists()


def test_only_owners_invite(org, devs, charlie, bob_client, charlie_client, mailoutbox):
    for client, status in [(bob_client, 403), (charlie_client, 404)]:
        response = client.post("/orgs/acme/teams/devs/invitations/", {"who": "charlie"})
        assert response.status_code == status
    assert mailoutbox == []
    assert not Invitation.objects.exists()


# Team permissions on repositories


def test_owners_grant_change_and_remove_a_team_permission(org, app, devs, bob, alice_client):
    bob_principal = Principal(user=bob)
    assert Permission.PUSH not in repository_permissions(bob_principal, app)
    response = alice_client.post(
        "/orgs/acme/teams/devs/permissions/", {"repository": app.pk, "level": "write"}
    )
    assert response["Location"] == "/orgs/acme/teams/devs/"
    assert "devs now has write on acme/app." in followed(alice_client.get("/orgs/acme/"))
    assert Permission.PUSH in repository_permissions(bob_principal, app)

    alice_client.post(
        "/orgs/acme/teams/devs/permissions/", {"repository": app.pk, "level": "admin"}
    )
    permission = TeamPermission.objects.get(team=devs, repository=app)
    assert permission.level == "admin"
    assert Permission.ADMIN in repository_permissions(bob_principal, app)

    alice_client.post(f"/orgs/acme/teams/devs/permissions/{permission.pk}/remove/")
    assert not TeamPermission.objects.filter(team=devs, repository=app).exists()
    assert Permission.PUSH not in repository_permissions(bob_principal, app)


def test_a_permission_only_on_the_organizations_own_repositories(org, devs, alice, alice_client):
    elsewhere = Repository.objects.create(namespace=Namespace.objects.get(name="alice"), name="x")
    gone = Repository.objects.create(namespace=org.namespace, name="gone", state="deleting")
    for repository in [elsewhere, gone]:
        response = alice_client.post(
            "/orgs/acme/teams/devs/permissions/", {"repository": repository.pk, "level": "read"}
        )
        assert response.status_code == 200
        assert "Choose one of the organization&#x27;s repositories." in text(response)
    response = alice_client.post(
        "/orgs/acme/teams/devs/permissions/", {"repository": "", "level": "root"}
    )
    assert "Select a valid choice. root is not one of the available choices." in text(response)
    assert devs.permissions.count() == 1


def test_the_owners_team_needs_no_permissions(org, app, alice_client):
    response = alice_client.post(
        "/orgs/acme/teams/owners/permissions/", {"repository": app.pk, "level": "read"}, follow=True
    )
    assert "already has admin on every repository" in followed(response)
    assert not TeamPermission.objects.exists()


def test_only_owners_change_team_permissions(org, app, secret, devs, bob_client, charlie_client):
    permission = devs.permissions.get()
    for client, status in [(bob_client, 403), (charlie_client, 404)]:
        grant = {"repository": app.pk, "level": "admin"}
        assert client.post("/orgs/acme/teams/devs/permissions/", grant).status_code == status
        remove = f"/orgs/acme/teams/devs/permissions/{permission.pk}/remove/"
        assert client.post(remove).status_code == status
    assert list(devs.permissions.values_list("repository__name", "level")) == [("secret", "read")]
