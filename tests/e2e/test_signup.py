"""Signing up in a real browser, and the failure paths a person meets on the way.

Chromium drives a real portal (gunicorn); mail goes through the real SMTP server on loopback.
allauth's rate limits are real: the hub's cache (its own Redis) starts empty for each test,
and emptying it stands in for "three minutes pass".
Tests assert what the person sees, then the database behind it.
"""

import time
from datetime import timedelta

import pytest
import redis
from allauth.account.models import EmailAddress
from django.core import signing
from playwright.sync_api import Page, expect

from accounts.models import Namespace, User
from tests.e2e.conftest import Portal
from tests.factories import PASSWORD, UserFactory
from tests.support.mailbox import Mailbox

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "quiet-harbour-lantern-42"
CONFIRM_LINK = r"https?://\S+/accounts/confirm-email/\S+/"
RESET_LINK = r"https?://\S+/accounts/password/reset/key/\S+/"
NAME_RULE = "Use 2 to 30 characters: lowercase letters a-z and digits 0-9"


def let_rate_limits_expire(hub_cache: redis.Redis) -> None:
    """What waiting out allauth's windows (three minutes between confirmation mails) does."""
    hub_cache.flushdb()


# --- people and their data -------------------------------------------------------------------


def make_user(username: str, verified: bool = True) -> User:
    return UserFactory(username=username, verified=verified)


def counts() -> tuple[int, int, int]:
    return User.objects.count(), EmailAddress.objects.count(), Namespace.objects.count()


def assert_nothing_half_created() -> None:
    """Every user has its email address and its namespace; no user namespace lacks its user."""
    users = set(User.objects.values_list("username", flat=True))
    assert set(EmailAddress.objects.values_list("user__username", flat=True)) == users
    user_namespaces = Namespace.objects.filter(kind=Namespace.Kind.USER)
    assert set(user_namespaces.values_list("name", flat=True)) == users


def confirmation_key(address: EmailAddress, age: timedelta) -> str:
    """The key allauth puts in a confirmation link (EmailConfirmationHMAC), signed `age` ago.

    allauth signs the address's primary key with django.core.signing, salt "account", and
    checks its age against ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS; the portal shares our
    SECRET_KEY.
    """

    class SignedThen(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time() - age.total_seconds()))

    return SignedThen(salt="account").sign_object(address.pk)


def mails_to(mailbox: Mailbox, address: str) -> list:
    return [message for message in list(mailbox.messages) if address in message["To"]]


# --- the browser -----------------------------------------------------------------------------


def submit(page: Page, button: str) -> None:
    """Press a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def field(page: Page, label: str):
    return page.locator(".field").filter(has=page.get_by_label(label, exact=True))


def sign_up(page: Page, portal: Portal, username: str, email: str, password: str = PASSWORD):
    page.goto(portal.url + "/accounts/signup/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    submit(page, "Create account")


def sign_in(page: Page, portal: Portal, login: str, password: str = PASSWORD) -> None:
    page.goto(portal.url + "/accounts/login/")
    page.get_by_label("Username or email", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    submit(page, "Sign in")


def sign_out(page: Page) -> None:
    page.locator("summary[aria-label='Account menu']").click()
    submit(page, "Sign out")


def expect_signed_in_as(page: Page, username: str) -> None:
    expect(page.locator(".site-header .menu-name")).to_have_text(username)


def expect_signed_out(page: Page) -> None:
    header = page.locator(".site-header")
    expect(header.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(header.locator(".menu-name")).to_have_count(0)


# --- signing up ------------------------------------------------------------------------------


def test_sign_up_confirm_by_mail_and_arrive_signed_in(portal, page: Page, mailbox: Mailbox):
    sign_up(page, portal, "newbie", "newbie@example.com")

    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.locator(".auth-card")).to_contain_text(
        "Confirmation email sent to newbie@example.com"
    )
    expect(page.get_by_label("Email address")).to_have_value("newbie@example.com")
    expect_signed_out(page)
    user = User.objects.get(username="newbie")
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == ("newbie@example.com", True, False)
    assert Namespace.objects.get(name="newbie").kind == Namespace.Kind.USER

    [message] = mailbox.wait_for("newbie@example.com")
    assert "Confirm" in message["Subject"]
    page.goto(mailbox.link(message, CONFIRM_LINK))
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    expect(page.locator(".auth-card")).to_contain_text("newbie@example.com")
    address.refresh_from_db()
    assert not address.verified, (
        "opening the link alone must not confirm (mail scanners open links)"
    )

    submit(page, "Confirm")
    expect_signed_in_as(page, "newbie")
    expect(page.get_by_text("Push your first image")).to_be_visible()
    address.refresh_from_db()
    assert address.verified
    assert_nothing_half_created()


def test_an_uppercase_username_is_lowercased(portal, page: Page, mailbox: Mailbox):
    sign_up(page, portal, "Mixed-Case", "mixed@example.com")

    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert User.objects.get(email="mixed@example.com").username == "mixed-case"
    assert Namespace.objects.filter(name="mixed-case").exists()
    assert_nothing_half_created()


@pytest.mark.parametrize(
    "username, error",
    [
        ("alice", "'alice' is already taken by a user or an organization."),
        ("ALICE", "'alice' is already taken by a user or an organization."),
        ("acme", "'acme' is already taken by a user or an organization."),
        ("library", "'library' is reserved. Please choose another name."),
        ("admin", "'admin' is reserved. Please choose another name."),
        ("-abc", f"'-abc' is not a valid name. {NAME_RULE}"),
        ("has space", f"'has space' is not a valid name. {NAME_RULE}"),
        ("a", f"'a' is not a valid name. {NAME_RULE}"),
    ],
    ids=["user", "user-uppercase", "organization", "library", "admin", "dash", "space", "short"],
)
def test_a_refused_username_says_why_and_creates_nothing(
    portal, page: Page, mailbox: Mailbox, username: str, error: str
):
    make_user("alice")
    Namespace.objects.create(name="acme", kind=Namespace.Kind.ORG)
    before = counts()

    sign_up(page, portal, username, "someone@example.com")

    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    username_field = field(page, "Username")
    expect(username_field.locator(".error")).to_contain_text(error)
    # Whatever the refusal, the rule for names is shown right there.
    expect(username_field).to_contain_text("2 to 30 characters: lowercase letters a-z, digits 0-9")
    expect(page.get_by_label("Email", exact=True)).to_have_value("someone@example.com")
    assert counts() == before
    assert not User.objects.filter(email="someone@example.com").exists()
    assert not EmailAddress.objects.filter(email="someone@example.com").exists()
    assert_nothing_half_created()
    assert mails_to(mailbox, "someone@example.com") == []


@pytest.mark.parametrize(
    "username, email, password, label, error",
    [
        ("bademail", "not-an-email", PASSWORD, "Email", "Enter a valid email address."),
        ("weak1", "weak1@example.com", "password", "Password", "This password is too common."),
        ("weak2", "weak2@example.com", "short1", "Password", "This password is too short."),
        ("weak3", "weak3@example.com", "3141592653", "Password", "entirely numeric."),
        ("dockerfan", "f@example.com", "dockerfan1", "Password", "too similar to the username."),
    ],
    ids=["bad-email", "common-password", "short-password", "numeric-password", "like-username"],
)
def test_a_bad_email_or_weak_password_is_refused(
    portal, page: Page, mailbox: Mailbox, username, email, password, label, error
):
    before = counts()

    sign_up(page, portal, username, email, password)

    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    expect(field(page, label).locator(".error").filter(has_text=error)).to_be_visible()
    assert counts() == before
    assert not User.objects.filter(username=username).exists()
    assert not Namespace.objects.filter(name=username).exists()
    assert_nothing_half_created()
    assert mails_to(mailbox, email) == []


def test_signing_up_with_a_used_address_tells_its_owner_not_the_stranger(
    portal, page: Page, mailbox: Mailbox
):
    make_user("alice")
    before = counts()

    sign_up(page, portal, "copycat", "alice@example.com")

    # The same page as a real signup: the form does not reveal who has an account.
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    [message] = mailbox.wait_for("alice@example.com")
    assert "Already Exists" in message["Subject"]
    assert counts() == before
    assert not User.objects.filter(username="copycat").exists()
    assert_nothing_half_created()


# --- confirmation links that do not work -----------------------------------------------------


def test_an_expired_link_explains_and_offers_a_new_one(portal, page: Page, mailbox: Mailbox):
    user = make_user("late", verified=False)
    address = EmailAddress.objects.get(user=user)
    expired = confirmation_key(address, age=timedelta(days=4))
    still_valid = confirmation_key(address, age=timedelta(days=2))
    assert signing.loads(expired, salt="account") == address.pk  # well signed, only too old

    page.goto(f"{portal.url}/accounts/confirm-email/{still_valid}/")
    expect(page.get_by_role("button", name="Confirm", exact=True)).to_be_visible()

    page.goto(f"{portal.url}/accounts/confirm-email/{expired}/")
    expect(page.get_by_role("heading", name="This link is invalid or has expired")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm", exact=True)).to_have_count(0)
    address.refresh_from_db()
    assert not address.verified

    page.get_by_label("Email address").fill("late@example.com")
    submit(page, "Send a new link")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_text("a new confirmation link is on its way")).to_be_visible()
    [message] = mailbox.wait_for("late@example.com")
    page.goto(mailbox.link(message, CONFIRM_LINK))
    submit(page, "Confirm")

    # Confirmed in a browser that did not sign up: sign in as usual.
    expect(page.get_by_text("You have confirmed late@example.com.")).to_be_visible()
    address.refresh_from_db()
    assert address.verified
    sign_in(page, portal, "late")
    expect_signed_in_as(page, "late")
    assert_nothing_half_created()


def test_a_tampered_or_truncated_link_is_refused(portal, page: Page, mailbox: Mailbox):
    sign_up(page, portal, "tamper", "tamper@example.com")
    [message] = mailbox.wait_for("tamper@example.com")
    link = mailbox.link(message, CONFIRM_LINK)
    key = link.rstrip("/").rsplit("/", 1)[1]
    tampered = key[:-1] + ("x" if key[-1] != "x" else "y")

    for bad in (tampered, key[: len(key) // 2]):
        page.goto(f"{portal.url}/accounts/confirm-email/{bad}/")
        expect(
            page.get_by_role("heading", name="This link is invalid or has expired")
        ).to_be_visible()
        expect(page.get_by_role("button", name="Send a new link")).to_be_visible()
    assert not EmailAddress.objects.get(email="tamper@example.com").verified

    page.goto(link)
    submit(page, "Confirm")
    expect_signed_in_as(page, "tamper")
    assert EmailAddress.objects.get(email="tamper@example.com").verified


def test_a_used_link_does_not_work_twice(portal, page: Page, mailbox: Mailbox):
    sign_up(page, portal, "twice", "twice@example.com")
    link = mailbox.link(mailbox.wait_for("twice@example.com")[0], CONFIRM_LINK)
    page.goto(link)
    submit(page, "Confirm")
    expect_signed_in_as(page, "twice")

    page.goto(link)
    expect(page.get_by_role("heading", name="This link is invalid or has expired")).to_be_visible()


# --- signing in ------------------------------------------------------------------------------


def test_signing_in_before_verifying_offers_a_new_mail(portal, page: Page, mailbox, hub_cache):
    make_user("eager", verified=False)

    sign_in(page, portal, "eager")

    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.locator(".auth-card")).to_contain_text(
        "you cannot sign in until your email address is verified"
    )
    expect_signed_out(page)
    expect(page.get_by_label("Email address")).to_have_value("eager@example.com")
    mailbox.wait_for("eager@example.com")  # the attempt itself sent a fresh link

    # At once again: refused, and said so, rather than promising a mail that never comes.
    submit(page, "Resend verification email")
    expect(page.get_by_text("asked for only a few minutes ago")).to_be_visible()
    assert len(mails_to(mailbox, "eager@example.com")) == 1

    let_rate_limits_expire(hub_cache)
    submit(page, "Resend verification email")
    expect(page.get_by_text("a new confirmation link is on its way")).to_be_visible()
    newest = mailbox.wait_for("eager@example.com", count=2)[-1]
    page.goto(mailbox.link(newest, CONFIRM_LINK))
    submit(page, "Confirm")
    expect_signed_in_as(page, "eager")
    assert EmailAddress.objects.get(email="eager@example.com").verified


def test_resending_for_an_unknown_address_looks_the_same(portal, page: Page, mailbox: Mailbox):
    make_user("known", verified=False)
    answers = []
    for address in ("known@example.com", "nobody@example.com"):
        page.goto(portal.url + "/accounts/confirm-email/not-a-key/")
        page.get_by_label("Email address").fill(address)
        submit(page, "Send a new link")
        answers.append(page.locator(".auth-card .messages").inner_text())
    assert answers[0] == answers[1]
    assert "a new confirmation link is on its way" in answers[0]
    assert len(mailbox.wait_for("known@example.com")) == 1
    assert mails_to(mailbox, "nobody@example.com") == []


def test_signing_in_by_email_and_by_username(portal, page: Page):
    make_user("carol")

    sign_in(page, portal, "carol@example.com")
    expect_signed_in_as(page, "carol")
    sign_out(page)
    expect_signed_out(page)

    sign_in(page, portal, "carol")
    expect_signed_in_as(page, "carol")


def test_a_wrong_password_is_refused_the_same_way_as_an_unknown_user(portal, page: Page):
    make_user("dave")
    error = "The username and/or password you specified are not correct."

    for login, password in (("dave", "not-his-password"), ("nobody-here", PASSWORD)):
        sign_in(page, portal, login, password)
        expect(page.get_by_role("heading", name="Sign in to Dockyard")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text(error)
        expect(page.get_by_label("Username or email", exact=True)).to_have_value(login)
        expect_signed_out(page)


# --- passwords and email addresses -----------------------------------------------------------


def test_password_reset_by_email(portal, page: Page, mailbox: Mailbox):
    make_user("frank")
    page.goto(portal.url + "/accounts/login/")
    with page.expect_navigation():
        page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email", exact=True).fill("frank@example.com")
    submit(page, "Send reset link")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    [message] = mailbox.wait_for("frank@example.com")
    link = mailbox.link(message, RESET_LINK)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New Password", exact=True).fill("password")
    page.get_by_label("New Password (again)", exact=True).fill("password")
    submit(page, "Change password")
    expect(page.get_by_text("This password is too common.")).to_be_visible()

    page.get_by_label("New Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New Password (again)", exact=True).fill(NEW_PASSWORD)
    submit(page, "Change password")
    expect(page.get_by_role("heading", name="Your password has been changed")).to_be_visible()

    sign_in(page, portal, "frank", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    sign_in(page, portal, "frank", NEW_PASSWORD)
    expect_signed_in_as(page, "frank")
    sign_out(page)

    page.goto(link)
    expect(page.get_by_role("heading", name="This link is invalid or has expired")).to_be_visible()
    expect(page.get_by_role("link", name="Get a new link")).to_be_visible()


def test_changing_email_needs_the_new_address_confirmed(portal, page: Page, mailbox: Mailbox):
    user = make_user("erin")
    sign_in(page, portal, "erin")
    page.goto(portal.url + "/accounts/email/")
    page.get_by_label("New email address").fill("erin.new@example.com")
    submit(page, "Change email")

    card = page.locator(".settings-body")
    expect(card).to_contain_text("Changing to")
    expect(card).to_contain_text("erin.new@example.com")
    expect(card.get_by_text("Unverified")).to_be_visible()
    new = EmailAddress.objects.get(email="erin.new@example.com")
    assert (new.user_id, new.verified, new.primary) == (user.pk, False, False)
    assert EmailAddress.objects.get(email="erin@example.com").primary
    user.refresh_from_db()
    assert user.email == "erin@example.com"

    [message] = mailbox.wait_for("erin.new@example.com")
    page.goto(mailbox.link(message, CONFIRM_LINK))
    submit(page, "Confirm")
    expect(page.get_by_text("You have confirmed erin.new@example.com.")).to_be_visible()
    new.refresh_from_db()
    assert (new.verified, new.primary) == (True, True)
    assert not EmailAddress.objects.filter(email="erin@example.com").exists()
    user.refresh_from_db()
    assert user.email == "erin.new@example.com"

    sign_out(page)
    sign_in(page, portal, "erin@example.com")
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    sign_in(page, portal, "erin.new@example.com")
    expect_signed_in_as(page, "erin")
    assert_nothing_half_created()
