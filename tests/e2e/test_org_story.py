"""The organization story end to end, in the browser and with podman: alice creates acme and
its team devs, invites bob by username and by email, bob accepts, alice gives devs write on
acme/app, bob pushes to it and sees it on his dashboard; once removed from the team he cannot.

Pushes go through the whole hub: podman asks the portal's token service, the registry checks
the token and tells the portal by an event. bob logs in to the registry once: what he may do
changes the moment his team or its permission does.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from orgs.models import Invitation, Organization, TeamMembership
from repos.models import Repository, Tag
from tests.e2e import test_registry as spine
from tests.e2e.conftest import Portal
from tests.e2e.test_registry import DENIED, wait_for_tag
from tests.e2e.test_signup import sign_in, submit
from tests.factories import PASSWORD, UserFactory
from tests.support.images import ContainerTools, ToolError
from tests.support.mailbox import Mailbox

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The registry tests' fixtures: images on a storage of their own, a login file per test, and
# the portal done with the registry's events before the database is emptied.
image_tools = spine.image_tools
base_image = spine.base_image
tools = spine.tools
_portal_settles = spine._portal_settles


@pytest.fixture
def bobs_page(browser: Browser) -> Iterator[Page]:
    """A second browser, for bob, while alice uses `page`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def push_denied(tools: ContainerTools, image: str, reference: str) -> None:
    with pytest.raises(ToolError) as denied:
        tools.push(image, reference)
    assert DENIED in denied.value.stderr, denied.value.stderr


def dashboard_repositories(page: Page, portal: Portal) -> list[str]:
    page.goto(portal.url + "/")
    return page.locator("table.repositories tbody code").all_inner_texts()


def invite(page: Page, who: str) -> None:
    page.get_by_label("Email address or username", exact=True).fill(who)
    submit(page, "Send invitation")
    expect(page.get_by_role("status")).to_contain_text(f"An invitation to devs was sent to {who}.")


def test_alice_builds_a_team_and_bob_pushes_only_while_he_is_in_it(
    portal, page: Page, bobs_page: Page, tools, base_image, mailbox: Mailbox
):
    registry = portal.registry_host
    reference = f"{registry}/acme/app"
    UserFactory(username="alice", full_name="Alice Liddell")
    bob = UserFactory(username="bob", email="bob@example.com")

    # alice creates the organization acme; its repositories start private.
    sign_in(page, portal, "alice")
    page.goto(portal.url + "/orgs/new/")
    page.get_by_label("Organization name", exact=True).fill("acme")
    page.get_by_label("Full name").fill("Acme Corporation")
    page.get_by_label("Contact email").fill("hello@acme.example")
    submit(page, "Create organization")
    assert page.url == f"{portal.url}/orgs/acme/"
    expect(page.locator("body")).to_contain_text("You are its owner")
    acme = Organization.objects.get(namespace__name="acme")
    assert list(acme.owners_team.members.values_list("username", flat=True)) == ["alice"]
    page.goto(portal.url + "/orgs/acme/settings/")
    page.get_by_label("Private", exact=True).check()
    submit(page, "Save")
    expect(page.locator("body")).to_contain_text("Repository settings were saved.")

    # ... and the team devs.
    page.goto(portal.url + "/orgs/acme/teams/")
    page.get_by_label("Team name", exact=True).fill("devs")
    page.get_by_label("Description").fill("The people who ship the app")
    submit(page, "Create team")
    assert page.url == f"{portal.url}/orgs/acme/teams/devs/"

    # She invites bob by username and by email: two mails to his address.
    invite(page, "bob")
    invite(page, "bob@example.com")
    pending = page.locator(".invitation-list")
    expect(pending).to_contain_text("bob")
    expect(pending).to_contain_text("bob@example.com")
    mails = mailbox.wait_for("bob@example.com", count=2)
    links = {
        "username" if "Sign in as bob" in Mailbox.body(m) else "email": Mailbox.link(m)
        for m in mails
    }
    assert set(links) == {"username", "email"}, [Mailbox.body(m) for m in mails]

    # alice pushes acme/app into being, private by the organization's default.
    tools.login(registry, "alice", PASSWORD)
    first = tools.push(base_image, f"{reference}:1")
    app = wait_for_tag("acme/app", "1", first).repository
    assert app.is_private and app.created_by.username == "alice"
    tools.logout(registry)

    # bob follows the emailed link, signs in and accepts; the other link knows he is in.
    bobs_page.goto(links["email"])
    bobs_page.get_by_role("link", name="Sign in to accept").click()
    bobs_page.get_by_label("Username or email", exact=True).fill("bob")
    bobs_page.get_by_label("Password", exact=True).fill(PASSWORD)
    submit(bobs_page, "Sign in")
    assert bobs_page.url == links["email"]
    submit(bobs_page, "Accept invitation")
    assert bobs_page.url == f"{portal.url}/orgs/acme/"
    expect(bobs_page.locator("body")).to_contain_text("you are now in the team devs")
    bobs_page.goto(links["username"])
    expect(bobs_page.locator("body")).to_contain_text("You are already a member of the team devs")
    assert list(acme.teams.get(name="devs").members.all()) == [bob]

    # A member of devs without a permission on acme/app: it does not exist for bob.
    assert "Login Succeeded" in tools.login(registry, "bob", PASSWORD)
    push_denied(tools, base_image, f"{reference}:2")
    with pytest.raises(ToolError) as hidden:
        tools.inspect(f"{reference}:1")
    assert DENIED in hidden.value.stderr
    assert "acme/app" not in dashboard_repositories(bobs_page, portal)
    response = bobs_page.goto(f"{portal.url}/r/acme/app/settings/permissions/")
    assert response.status == 404

    # alice gives devs write on acme/app from its Permissions tab, which then explains
    # that bob can push because of devs.
    page.goto(f"{portal.url}/r/acme/app/settings/permissions/")
    page.get_by_label("Team", exact=True).select_option(label="devs")
    page.get_by_label("Permission", exact=True).select_option("write")
    submit(page, "Add team")
    expect(page.locator("body")).to_contain_text("The team devs now has write on acme/app.")
    bob_row = page.locator("#access tr").filter(
        has=page.get_by_role("link", name="bob", exact=True)
    )
    expect(bob_row).to_contain_text("Team devs has write")

    # bob's next push goes through, on the same login; acme/app is on his dashboard.
    second = tools.push(base_image, f"{reference}:2")
    assert wait_for_tag("acme/app", "2", second).pushed_by == bob
    assert tools.inspect(f"{reference}:1")["Digest"] == first
    assert dashboard_repositories(bobs_page, portal)[0] == "acme/app"
    expect(bobs_page.locator("table.repositories")).to_contain_text("Private")

    # alice removes bob from devs: his next push is refused, acme/app is hidden again.
    page.goto(f"{portal.url}/orgs/acme/teams/devs/")
    member = page.locator("#members li").filter(has_text="bob")
    with page.expect_navigation():
        member.get_by_role("button", name="Remove").click()
    expect(page.locator("#members")).not_to_contain_text("bob")
    assert not TeamMembership.objects.filter(user=bob).exists()
    push_denied(tools, base_image, f"{reference}:3")
    with pytest.raises(ToolError):
        tools.inspect(f"{reference}:1")
    assert "acme/app" not in dashboard_repositories(bobs_page, portal)
    assert not Tag.objects.filter(repository=app, name="3").exists()
    assert Repository.objects.get(pk=app.pk).tags.count() == 2
    assert Invitation.objects.filter(accepted_at__isnull=False).count() == 1
