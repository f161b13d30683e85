"""GitHub linking, sign-in and sign-up in the browser, against the GitHub double over HTTP."""

from typing import TYPE_CHECKING

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from playwright.sync_api import Page, expect

from accounts.models import Namespace, User
from tests.factories import PASSWORD, UserFactory
from tests.support.github_double import GitHubDouble, GitHubEmail, GitHubUser, parse_scopes

if TYPE_CHECKING:
    from tests.e2e.conftest import Portal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REQUESTED_SCOPES = {"read:user", "user:email", "repo", "admin:repo_hook"}


@pytest.fixture
def github_app(github: GitHubDouble, portal: "Portal") -> GitHubDouble:
    """The double with the OAuth app's callback registered at this portal, as on GitHub."""
    github.app.callback_url = f"{portal.url}/accounts/github/login/callback/"
    return github


def sign_in(page: Page, portal: "Portal", username: str) -> None:
    page.goto(f"{portal.url}/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".menu-name")).to_have_text(username)


def sign_out(page: Page) -> None:
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect_signed_out(page)


def expect_signed_out(page: Page) -> None:
    expect(page.get_by_role("banner").get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.locator(".menu-name")).to_have_count(0)


def start_github_sign_in(page: Page, portal: "Portal") -> None:
    page.goto(f"{portal.url}/accounts/login/")
    page.get_by_role("link", name="Continue with GitHub").click()
    expect(page.get_by_role("heading", name="Sign in with GitHub")).to_be_visible()
    page.get_by_role("button", name="Continue to GitHub").click()


def sign_in_on_github(page: Page, github: GitHubDouble, account: GitHubUser) -> None:
    expect(page.get_by_role("heading", name="Sign in to GitHub")).to_be_visible()
    assert page.url.startswith(github.url)
    page.get_by_label("Username or email address").fill(account.login)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Authorize Dockyard")).to_be_visible()


def link_github(page: Page, portal: "Portal", github: GitHubDouble, account: GitHubUser) -> None:
    page.goto(f"{portal.url}/settings/linked-accounts/")
    page.get_by_role("button", name="Link GitHub account").click()
    sign_in_on_github(page, github, account)
    page.get_by_role("button", name="Authorize Dockyard").click()


def link_row(user: User, account: GitHubUser) -> SocialAccount:
    return SocialAccount.objects.create(
        user=user, provider="github", uid=str(account.id), extra_data={"login": account.login}
    )


def test_a_member_links_github_then_signs_in_with_it(page, portal, github_app):
    alice = UserFactory(username="alice")
    octo = github_app.add_user("Alice-GH", name="Alice Liddell")
    sign_in(page, portal, "alice")

    link_github(page, portal, github_app, octo)

    assert page.url == f"{portal.url}/settings/linked-accounts/"
    expect(page.get_by_role("status")).to_contain_text("GitHub account Alice-GH is now linked.")
    expect(page.locator(".linked-account")).to_contain_text("Linked to Alice-GH")
    authorize = github_app.requests_to("/login/oauth/authorize", "GET")[0]
    assert parse_scopes(authorize.query["scope"]) == REQUESTED_SCOPES
    assert authorize.query["redirect_uri"] == github_app.app.callback_url
    account = SocialAccount.objects.get(user=alice, provider="github")
    assert (account.uid, account.extra_data["login"]) == (str(octo.id), "Alice-GH")
    [issued] = github_app.tokens_of("Alice-GH")
    assert SocialToken.objects.get(account=account).token == issued.token
    assert issued.scopes == REQUESTED_SCOPES

    sign_out(page)
    start_github_sign_in(page, portal)

    # GitHub remembers the grant and the browser's GitHub session: straight back, signed in.
    expect(page.locator(".menu-name")).to_have_text("alice")
    assert len(github_app.requests_to("/login/oauth/authorize", "POST")) == 1
    assert User.objects.count() == 1


def test_a_member_unlinks_github(page, portal, github_app):
    alice = UserFactory(username="alice")
    link_row(alice, github_app.add_user("Alice-GH"))
    sign_in(page, portal, "alice")
    page.goto(f"{portal.url}/settings/linked-accounts/")

    page.get_by_role("button", name="Unlink").click()

    expect(page.get_by_role("status")).to_contain_text("The GitHub account was unlinked.")
    expect(page.get_by_role("button", name="Link GitHub account")).to_be_visible()
    expect(page.get_by_text("Linked to")).to_have_count(0)
    assert not SocialAccount.objects.filter(user=alice).exists()


def test_a_github_account_linked_to_someone_else_is_not_linked_again(page, portal, github_app):
    shared = github_app.add_user("shared-gh")
    link_row(UserFactory(username="bob"), shared)
    alice = UserFactory(username="alice")
    sign_in(page, portal, "alice")

    link_github(page, portal, github_app, shared)

    expect(page.get_by_role("status")).to_contain_text(
        "GitHub account shared-gh is already linked to another user"
    )
    expect(page.get_by_role("button", name="Link GitHub account")).to_be_visible()
    assert not SocialAccount.objects.filter(user=alice).exists()


def test_cancelling_on_github_while_linking_leaves_nothing_linked(page, portal, github_app):
    alice = UserFactory(username="alice")
    sign_in(page, portal, "alice")
    page.goto(f"{portal.url}/settings/linked-accounts/")
    page.get_by_role("button", name="Link GitHub account").click()
    sign_in_on_github(page, github_app, github_app.add_user("Alice-GH"))

    page.get_by_role("button", name="Cancel").click()

    assert page.url == f"{portal.url}/settings/linked-accounts/"
    expect(page.get_by_role("status")).to_contain_text("GitHub was not linked: you cancelled.")
    assert not SocialAccount.objects.filter(user=alice).exists()


def test_a_new_person_signs_up_with_github(page, portal, github_app, mailbox):
    octo = github_app.add_user(
        "OctoCat",
        name="Mona Lisa Octocat",
        emails=[
            GitHubEmail("mona@work.example", verified=True, visibility=None),
            GitHubEmail("octocat@example.com", verified=True, primary=True),
        ],
    )

    start_github_sign_in(page, portal)
    sign_in_on_github(page, github_app, octo)
    page.get_by_role("button", name="Authorize Dockyard").click()

    expect(page.locator(".menu-name")).to_have_text("octocat")
    user = User.objects.get(username="octocat")
    assert (user.email, user.full_name) == ("octocat@example.com", "Mona Lisa Octocat")
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user, primary=True).verified
    assert Namespace.objects.filter(name="octocat", kind=Namespace.Kind.USER).exists()
    assert SocialAccount.objects.get(user=user).uid == str(octo.id)
    assert not mailbox.messages

    # With no password, unlinking would lock them out.
    page.goto(f"{portal.url}/settings/linked-accounts/")
    page.get_by_role("button", name="Unlink").click()
    expect(page.get_by_role("alert")).to_contain_text("Set a password first")
    expect(page.locator(".linked-account")).to_contain_text("Linked to OctoCat")
    assert SocialAccount.objects.filter(user=user).exists()


def test_unverified_github_email_must_be_confirmed_by_mail(page, portal, github_app, mailbox):
    newbie = github_app.add_user(
        "newbie", emails=[GitHubEmail("newbie@example.com", verified=False, primary=True)]
    )

    start_github_sign_in(page, portal)
    sign_in_on_github(page, github_app, newbie)
    page.get_by_role("button", name="Authorize Dockyard").click()

    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect_signed_out(page)
    assert not EmailAddress.objects.get(email="newbie@example.com").verified

    [message] = mailbox.wait_for("newbie@example.com")
    page.goto(mailbox.link(message, r"https?://\S+/accounts/confirm-email/\S+"))
    page.get_by_role("button", name="Confirm").click()

    expect(page.locator(".menu-name")).to_have_text("newbie")
    assert EmailAddress.objects.get(email="newbie@example.com").verified
    assert SocialAccount.objects.get(user__username="newbie").uid == str(newbie.id)


def test_a_github_email_of_an_existing_account_does_not_make_a_second_one(
    page, portal, github_app, mailbox
):
    alice = UserFactory(username="alice")
    octo = github_app.add_user(
        "Alice-GH", emails=[GitHubEmail(alice.email, verified=True, primary=True)]
    )

    start_github_sign_in(page, portal)
    sign_in_on_github(page, github_app, octo)
    page.get_by_role("button", name="Authorize Dockyard").click()

    # The same answer as for a new address, so that no one learns which addresses have accounts;
    # the owner of the address is told by mail.
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    [message] = mailbox.wait_for(alice.email)
    assert "an account using that email address already exists" in mailbox.body(message)
    assert list(User.objects.all()) == [alice]
    assert not SocialAccount.objects.exists()


@pytest.mark.parametrize(
    ("github_login", "message"),
    [
        ("OctoCat", "'octocat' is already taken by a user or an organization."),
        ("octo-org", "'octo-org' is already taken by a user or an organization."),
        ("Admin", "'admin' is reserved. Please choose another name."),
        ("Octo.Cat", "'octo.cat' is not a valid name. Use 2 to 30 characters"),
    ],
    ids=["taken-by-user", "taken-by-org", "reserved", "invalid"],
)
def test_a_github_login_that_cannot_be_a_username_asks_for_another(
    page, portal, github_app, github_login, message
):
    UserFactory(username="octocat")
    Namespace.objects.create(name="octo-org", kind=Namespace.Kind.ORG)
    account = github_app.add_user(
        github_login, emails=[GitHubEmail("mona@example.com", verified=True, primary=True)]
    )

    start_github_sign_in(page, portal)
    sign_in_on_github(page, github_app, account)
    page.get_by_role("button", name="Authorize Dockyard").click()

    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    expect(page.get_by_text(f"signing up with the GitHub account {github_login}")).to_be_visible()
    expect(page.locator(".field-invalid")).to_contain_text(message)
    assert not User.objects.filter(email="mona@example.com").exists()

    page.get_by_label("Username").fill("mona")
    page.get_by_role("button", name="Create account").click()

    expect(page.locator(".menu-name")).to_have_text("mona")
    mona = User.objects.get(username="mona")
    assert SocialAccount.objects.get(user=mona).uid == str(account.id)
    assert EmailAddress.objects.get(user=mona, email="mona@example.com").verified
    assert not SocialAccount.objects.filter(user__username="octocat").exists()


def test_cancelling_on_github_signs_no_one_up(page, portal, github_app):
    octo = github_app.add_user("OctoCat")

    start_github_sign_in(page, portal)
    sign_in_on_github(page, github_app, octo)
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("heading", name="Sign-in cancelled")).to_be_visible()
    expect(page.get_by_text("you are not signed in and nothing was changed")).to_be_visible()
    expect_signed_out(page)
    assert not github_app.requests_to("/login/oauth/access_token")
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_a_code_github_refuses_shows_an_error_and_signs_no_one_up(page, portal, github_app):
    octo = github_app.add_user("OctoCat")
    github_app.code_lifetime = 0

    start_github_sign_in(page, portal)
    sign_in_on_github(page, github_app, octo)
    page.get_by_role("button", name="Authorize Dockyard").click()

    expect(page.get_by_role("heading", name="GitHub sign-in failed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("you are not signed in")
    [exchange] = github_app.requests_to("/login/oauth/access_token")
    assert exchange.form["client_secret"] == github_app.app.client_secret
    assert not github_app.tokens
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()
