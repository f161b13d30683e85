"""Connecting a repository to GitHub and disconnecting it, as each person sees it: alice owns
`acme` and links her GitHub account Alice-GH (on the GitHub double, over real HTTP); bob is in
acme's `crew` team, which may read (or write) `acme/app`; charlie is outside everything.

The double pings each new webhook; the ping reaches the portal in this process. `app` and
`github_server` come from conftest.py."""

import html
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from builds.models import Build, BuildRule, BuildSource
from orgs.models import TeamPermission
from tests.builds.test_webhook import portal
from tests.factories import BuildFactory
from tests.support.github_double import GitHubDouble, link_account

pytestmark = pytest.mark.django_db

SOURCE = "/r/acme/app/builds/source/"
DISCONNECT = "/r/acme/app/builds/source/disconnect/"
HUB_URL = "https://hub.example.com"


@pytest.fixture
def github(github_server: GitHubDouble, settings) -> GitHubDouble:
    github_server.reset()
    github_server.transport = portal
    settings.GITHUB_URL = github_server.url
    settings.HUB_URL = HUB_URL
    # As hub/settings.py configures allauth when GITHUB_URL and GITHUB_CLIENT_ID are set.
    settings.GITHUB_LINKING_ENABLED = True
    app = {"client_id": github_server.app.client_id, "secret": github_server.app.client_secret}
    github = settings.SOCIALACCOUNT_PROVIDERS["github"]
    settings.SOCIALACCOUNT_PROVIDERS = {
        "github": {**github, "GITHUB_URL": github_server.url, "APP": app}
    }
    return github_server


@pytest.fixture
def linked(github, alice):
    """alice's GitHub account, with a public repository, a private one and one she may only
    push to."""
    token = link_account(github, alice, "Alice-GH")
    github.add_repository("Alice-GH", "app", default_branch="trunk", description="The app")
    github.add_repository("Alice-GH", "secret", private=True)
    github.add_repository("mona", "shared").add_collaborator("Alice-GH", "push")
    return token


def text(response) -> str:
    """The page's words, without tags."""
    words = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r"\s+", " ", words)


def connect(client: Client, full_name: str = "Alice-GH/app"):
    return client.post(SOURCE, {"github_repository": full_name})


@pytest.mark.parametrize("level", ["read", "write"])
def test_members_who_are_not_admins_may_not_connect(github, app, bob_client, level):
    TeamPermission.objects.filter(repository=app).update(level=level)

    assert bob_client.get(SOURCE).status_code == 403
    assert connect(bob_client).status_code == 403
    assert bob_client.post(DISCONNECT).status_code == 403
    assert not BuildSource.objects.exists()


def test_outsiders_do_not_learn_the_repository_exists(github, app, charlie_client):
    assert charlie_client.get(SOURCE).status_code == 404
    assert connect(charlie_client).status_code == 404
    assert charlie_client.post(DISCONNECT).status_code == 404


def test_anonymous_visitors_are_asked_to_sign_in(github, app):
    response = Client().get(SOURCE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_without_a_linked_account_the_admin_is_asked_to_link_one(github, app, alice_client):
    response = alice_client.get(SOURCE)

    assert response.status_code == 200
    page = text(response)
    assert "Link your GitHub account first." in page
    assert "Link GitHub account" in page
    # Linking comes back here.
    link = "/accounts/github/login/?process=connect&amp;next=%2Fr%2Facme%2Fapp%2Fbuilds%2Fsource%2F"
    assert f'action="{link}"' in response.content.decode()
    assert not github.requests_to("/api/v3/user/repos")


def test_the_admin_picks_from_the_linked_account_s_repositories(github, app, linked, alice_client):
    response = alice_client.get(SOURCE)

    assert response.status_code == 200
    page = text(response)
    assert "Alice-GH/app The app trunk Connect" in page
    assert "Alice-GH/secret Private main Connect" in page
    assert "mona/shared main Needs admin rights on GitHub" in page
    [listing] = github.requests_to("/api/v3/user/repos")
    assert listing.headers["authorization"] == f"Bearer {linked.token}"


def test_a_listing_github_refuses_says_why(github, app, linked, alice_client):
    github.tokens.clear()

    response = alice_client.get(SOURCE)

    assert "GitHub no longer accepts the linked account's token" in text(response)


def test_connecting_installs_a_signed_push_hook_and_docker_hub_s_default_rule(
    github, app, linked, alice, alice_client
):
    response = connect(alice_client)

    assert response.status_code == 302
    assert response["Location"] == "/r/acme/app/builds/"
    source = BuildSource.objects.get(repository=app)
    repo = github.repository("Alice-GH/app")
    [hook] = repo.hooks
    assert (source.github_id, source.github_full_name) == (repo.id, "Alice-GH/app")
    assert (source.clone_url, source.html_url) == (repo.clone_url, repo.html_url)
    assert (source.default_branch, source.github_private) == ("trunk", False)
    assert (source.hook_id, source.connected_by) == (hook.id, alice)
    assert re.fullmatch(r"[0-9a-f]{64}", source.webhook_secret)
    assert (hook.url, hook.content_type, hook.events) == (
        f"{HUB_URL}/webhooks/github",
        "json",
        ["push"],
    )
    assert hook.secret == source.webhook_secret
    [rule] = source.rules.all()
    assert (rule.source_type, rule.source_ref, rule.docker_tag) == ("branch", "trunk", "latest")
    assert (rule.dockerfile, rule.context, rule.autobuild) == ("Dockerfile", "/", True)
    # GitHub pinged the new hook, and the portal answered.
    [ping] = hook.deliveries
    assert (ping.event, ping.status) == ("ping", 200)
    [message] = get_messages(response.wsgi_request)
    assert "acme/app now builds from Alice-GH/app" in str(message)


def test_a_private_repository_is_connected_as_private(github, app, linked, alice_client):
    connect(alice_client, "Alice-GH/secret")

    assert BuildSource.objects.get().github_private is True


def test_the_connected_source_is_shown_with_a_way_out(github, app, linked, alice_client):
    connect(alice_client)

    response = alice_client.get(SOURCE)

    page = text(response)
    assert "Alice-GH/app" in page
    assert "Default branch trunk" in page
    assert "Connected by alice" in page
    assert "Disconnect Alice-GH/app" in page
    # Connecting another one means disconnecting this one first.
    assert connect(alice_client, "Alice-GH/secret").status_code == 200
    assert BuildSource.objects.get().github_full_name == "Alice-GH/app"


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (
            lambda github: link_account(
                github, github.alice, "Alice-GH", scopes={"read:user", "public_repo"}
            ),
            "did not grant Dockyard the permission this needs",
        ),
        (
            lambda github: (
                link_account(github, github.alice, "Alice-GH"),
                github.repository("Alice-GH/app").add_hook(f"{HUB_URL}/webhooks/github"),
            ),
            "GitHub refused: Hook already exists on this repository.",
        ),
        (
            lambda github: link_account(github, github.alice, "Alice-GH"),
            "The GitHub repository Alice-GH/gone does not exist",
        ),
        (lambda github: None, "No GitHub account is linked"),
    ],
    ids=["hook-scope-missing", "hook-exists", "no-such-repository", "not-linked"],
)
def test_when_github_refuses_the_hook_nothing_is_saved(
    github, app, alice, alice_client, prepare, message
):
    github.add_repository("Alice-GH", "app")
    github.alice = alice
    prepare(github)
    hooks_before = len(github.repository("Alice-GH/app").hooks)

    response = connect(alice_client, "Alice-GH/gone" if "gone" in message else "Alice-GH/app")

    assert response.status_code == 400
    assert message in text(response)
    assert not BuildSource.objects.exists()
    assert not BuildRule.objects.exists()
    assert len(github.repository("Alice-GH/app").hooks) == hooks_before


def test_disconnecting_removes_the_hook_and_the_rules_and_keeps_the_history(
    github, app, linked, alice_client
):
    connect(alice_client)
    source = BuildSource.objects.get()
    build = BuildFactory(repository=app, rule=source.rules.get())

    response = alice_client.post(DISCONNECT)

    assert response.status_code == 302
    assert response["Location"] == "/r/acme/app/builds/"
    assert github.repository("Alice-GH/app").hooks == []
    assert not BuildSource.objects.exists()
    assert not BuildRule.objects.exists()
    build.refresh_from_db()
    assert build.rule is None
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert "acme/app no longer builds from Alice-GH/app. Its build history stays." in said
    assert alice_client.get(SOURCE).status_code == 200  # ready to connect again


def test_disconnecting_says_when_github_kept_the_hook(github, app, linked, alice_client):
    connect(alice_client)
    github.tokens.clear()

    response = alice_client.post(DISCONNECT)

    assert not BuildSource.objects.exists()
    assert len(github.repository("Alice-GH/app").hooks) == 1
    warning = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert warning == [
        "The webhook could not be removed from GitHub: GitHub no longer accepts the linked "
        "account's token. Unlink GitHub and link it again in Settings › Linked accounts. "
        "Remove it under Settings › Webhooks of Alice-GH/app on GitHub; its deliveries are "
        "refused meanwhile."
    ]


def test_another_admin_disconnects_with_the_connecting_admin_s_token(
    github, app, linked, alice_client, bob, bob_client
):
    connect(alice_client)
    TeamPermission.objects.filter(repository=app).update(level="admin")

    response = bob_client.post(DISCONNECT)

    assert response.status_code == 302
    assert github.repository("Alice-GH/app").hooks == []
    assert not Build.objects.exists()
    assert not BuildSource.objects.exists()


def test_a_deleted_repository_s_webhook_is_removed_from_github(
    github, app, linked, alice_client, django_capture_on_commit_callbacks
):
    connect(alice_client)
    assert len(github.repository("Alice-GH/app").hooks) == 1

    # How a repository's deletion ends once the registry is empty (repos.deletion.purge).
    with django_capture_on_commit_callbacks(execute=True):
        app.delete()

    assert not BuildSource.objects.exists()
    assert github.repository("Alice-GH/app").hooks == []


def test_disconnecting_removes_the_hook_once(github, app, linked, alice_client):
    connect(alice_client)
    alice_client.post(DISCONNECT)
    deletes = [call for call in github.requests if call.method == "DELETE"]
    assert len(deletes) == 1


@pytest.mark.parametrize(
    "full_name", ["", "Alice-GH", "Alice-GH/app/hooks", "../user", "Alice-GH/.."]
)
def test_a_github_repository_name_github_would_not_give_is_refused(
    github, app, linked, alice_client, full_name
):
    response = connect(alice_client, full_name)

    assert response.status_code == 400
    assert "Choose one of your GitHub repositories below (owner/name)." in text(response)
    assert not BuildSource.objects.exists()
    assert not [call for call in github.requests if call.path.startswith("/api/v3/repos/")]
