"""The v1 user API driven with the real curl binary against a running portal, as users do."""

import json
import re
import subprocess

import pytest
import requests
from allauth.account.models import EmailAddress

from tests.support.mailbox import Mailbox

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "tangerine-submarine-42"
NEW_PASSWORD = "marmalade-lighthouse-17"


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """Run curl; return the status, the headers (lowercase names) and the body."""
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--include", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    # Text mode has turned the CRLF line ends into "\n".
    head, _, body = result.stdout.partition("\n\n")
    status_line, *header_lines = head.split("\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def sign_up(url: str, username: str, email: str) -> tuple[int, str]:
    body = json.dumps({"email": email, "password": PASSWORD, "username": username})
    status, _, answer = curl(
        "-X", "POST", "-H", "Content-Type: application/json", "-d", body, f"{url}/v1/users"
    )
    return status, answer


def confirm_email(link: str) -> None:
    """Open the confirmation link and press its button, as in a browser."""
    browser = requests.Session()
    page = browser.get(link, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text
    confirmed = browser.post(link, data={"csrfmiddlewaretoken": token.group(1)}, timeout=10)
    assert confirmed.status_code == 200


def test_sign_up_confirm_and_log_in_with_curl(portal, mailbox: Mailbox):
    status, body = sign_up(portal.url, "dave", "dave@example.com")
    assert (status, json.loads(body)) == (201, "User created")
    [message] = mailbox.wait_for("dave@example.com")
    link = mailbox.link(message, r"https?://\S+/accounts/confirm-email/\S+/")

    status, headers, body = curl("-u", f"dave:{PASSWORD}", f"{portal.url}/v1/users")
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="Dockyard"'
    assert "verify your email" in json.loads(body)["detail"]

    confirm_email(link)
    status, headers, body = curl("-u", f"dave:{PASSWORD}", f"{portal.url}/v1/users")
    assert (status, json.loads(body)) == (200, "OK")
    assert headers["content-type"] == "application/json"

    status, _, body = curl("-u", "dave:not-my-password", f"{portal.url}/v1/users/")
    assert status == 401
    assert json.loads(body)["detail"] == "Incorrect username or password."


def test_sign_up_refusal_explains_itself_with_curl(portal, mailbox: Mailbox):
    status, body = sign_up(portal.url, "Bad Name!", "bad@example.com")
    assert status == 400
    assert "lowercase letters a-z and digits 0-9" in json.loads(body)["detail"]
    assert not EmailAddress.objects.filter(email="bad@example.com").exists()
    assert mailbox.messages == []


def test_change_password_with_curl(portal, mailbox: Mailbox):
    assert sign_up(portal.url, "erin", "erin@example.com")[0] == 201
    EmailAddress.objects.filter(email="erin@example.com").update(verified=True)

    status, _, body = curl(
        "-X",
        "PUT",
        "-u",
        f"erin:{PASSWORD}",
        "-H",
        "Content-Type: application/json",
        "-d",
        json.dumps({"password": NEW_PASSWORD}),
        f"{portal.url}/v1/users/erin/",
    )
    assert status == 200
    assert json.loads(body)["username"] == "erin"

    assert curl("-u", f"erin:{NEW_PASSWORD}", f"{portal.url}/v1/users")[0] == 200
    assert curl("-u", f"erin:{PASSWORD}", f"{portal.url}/v1/users")[0] == 401
