import pytest
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_public_profile_shows_the_profile_to_everyone(alice, charlie_client):
    alice.company = "Wonderland Ltd"
    alice.location = "Oxford"
    alice.website = "https://alice.example.com"
    alice.save()
    for client in (Client(), charlie_client):
        page = client.get("/u/alice/").content.decode()
        assert "Alice Liddell" in page
        assert "Wonderland Ltd" in page
        assert "Oxford" in page
        assert 'href="https://alice.example.com"' in page
        assert "Edit profile" not in page


def test_own_profile_offers_editing(alice_client):
    assert "Edit profile" in alice_client.get("/u/alice/").content.decode()


def test_unknown_and_inactive_users_are_not_found(alice, client):
    assert client.get("/u/nobody/").status_code == 404
    alice.is_active = False
    alice.save()
    assert client.get("/u/alice/").status_code == 404


def test_settings_need_signing_in(client):
    for path in ["/settings/profile/", "/settings/security/", "/settings/linked-accounts/"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_saving_the_profile(alice, alice_client):
    response = alice_client.post(
        "/settings/profile/",
        {
            "full_name": "Alice P. Liddell",
            "company": "Looking Glass",
            "location": "Oxford",
            "website": "https://liddell.example.org",
            "bio": "Curiouser and curiouser.",
            "save-profile": "",
        },
        follow=True,
    )
    assert "Your profile was saved." in response.content.decode()
    alice.refresh_from_db()
    assert alice.full_name == "Alice P. Liddell"
    assert alice.website == "https://liddell.example.org"
    assert "Curiouser and curiouser." in Client().get("/u/alice/").content.decode()


def test_bad_profile_input_is_refused_with_a_reason(alice, alice_client):
    response = alice_client.post(
        "/settings/profile/",
        {"full_name": "x" * 101, "website": "not a url", "bio": "b" * 1001, "save-profile": ""},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid URL." in page
    assert "at most 100 characters" in page
    assert "at most 1000 characters" in page
    alice.refresh_from_db()
    assert alice.full_name == "Alice Liddell"


def test_each_person_edits_only_their_own_profile(alice, bob, bob_client):
    bob_client.post("/settings/profile/", {"full_name": "Bob Builder", "save-profile": ""})
    assert User.objects.get(username="bob").full_name == "Bob Builder"
    assert User.objects.get(username="alice").full_name == "Alice Liddell"


def test_security_page_lists_email_addresses_and_their_state(alice, alice_client):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=alice, email="new@example.com", verified=False)
    page = alice_client.get("/settings/security/").content.decode()
    assert "alice@example.com" in page
    assert "new@example.com" in page
    assert "Unverified" in page
    assert "Two-factor authentication" in page


def test_header_shows_who_is_signed_in(alice_client, client):
    assert "Sign out" in alice_client.get("/").content.decode()
    anonymous = client.get("/").content.decode()
    assert "Sign up" in anonymous
    assert "Sign out" not in anonymous


def test_default_privacy_of_pushed_repositories(alice, alice_client):
    from accounts.models import Namespace

    page = alice_client.get("/settings/profile/").content.decode()
    assert "Default repository privacy" in page
    response = alice_client.post(
        "/settings/profile/", {"default_private": "true", "save-privacy": ""}, follow=True
    )
    assert "New repositories you push will be private." in response.content.decode()
    assert Namespace.objects.get(name="alice").default_private is True
    alice.refresh_from_db()
    assert alice.full_name == "Alice Liddell"
    bad = alice_client.post("/settings/profile/", {"default_private": "maybe", "save-privacy": ""})
    assert "Select a valid choice" in bad.content.decode()
    assert Namespace.objects.get(name="alice").default_private is True
