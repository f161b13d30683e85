"""builds.github against the GitHub double over real HTTP (and git's smart HTTP with real git),
as automated builds use them: listing repositories, installing and removing the push webhook,
resolving a branch or tag, and every refusal turned into words for the user."""

import base64
import re
import subprocess
from pathlib import Path

import pytest

from builds.github import GitHubClient, GitHubError, GitHubRepository, api_url, github_token_for
from tests.support.github_double import ZERO_SHA, link_account

pytestmark = pytest.mark.django_db

HOOK_URL = "https://hub.example.com/webhooks/github"


@pytest.fixture
def client(github, alice) -> GitHubClient:
    """alice's linked account Alice-GH, with the scopes Dockyard asks for."""
    link_account(github, alice, "Alice-GH")
    return GitHubClient.for_user(alice)


def test_the_api_is_github_com_s_own_host_or_under_api_v3(settings):
    settings.GITHUB_URL = "https://github.com"
    assert api_url() == "https://api.github.com"
    settings.GITHUB_URL = "https://git.example.com/"
    assert api_url() == "https://git.example.com/api/v3"


def test_the_token_is_the_linked_account_s(github, alice, bob):
    token = link_account(github, alice, "Alice-GH")

    assert github_token_for(alice) == token.token
    assert github_token_for(bob) is None
    with pytest.raises(GitHubError, match="No GitHub account is linked"):
        GitHubClient.for_user(bob)


def test_repositories_follow_every_page_and_only_what_the_account_sees(github, client):
    for number in range(102):
        github.add_repository("Alice-GH", f"app-{number:03d}")
    github.add_repository("Alice-GH", "secret", private=True, description="Private things")
    github.add_repository("someone", "theirs")
    shared = github.add_repository("someone", "shared")
    shared.add_collaborator("Alice-GH", "push")

    found = client.repositories()

    names = [repo.full_name for repo in found]
    assert len(names) == 104
    assert names[:2] == ["Alice-GH/app-000", "Alice-GH/app-001"]
    assert "someone/theirs" not in names
    pages = github.requests_to("/api/v3/user/repos")
    assert [call.query.get("page", "1") for call in pages] == ["1", "2"]
    secret = next(repo for repo in found if repo.full_name == "Alice-GH/secret")
    assert secret == GitHubRepository(
        id=github.repository("Alice-GH/secret").id,
        full_name="Alice-GH/secret",
        clone_url=f"{github.url}/Alice-GH/secret.git",
        html_url=f"{github.url}/Alice-GH/secret",
        private=True,
        default_branch="main",
        description="Private things",
    )
    assert secret.admin
    assert not next(repo for repo in found if repo.full_name == "someone/shared").admin


def test_without_the_repo_scope_private_repositories_stay_hidden(github, alice):
    link_account(github, alice, "Alice-GH", scopes={"read:user", "public_repo"})
    github.add_repository("Alice-GH", "open")
    github.add_repository("Alice-GH", "closed", private=True)
    client = GitHubClient.for_user(alice)

    assert [repo.full_name for repo in client.repositories()] == ["Alice-GH/open"]
    with pytest.raises(GitHubError, match="does not exist, or the linked GitHub account cannot"):
        client.repository("Alice-GH/closed")


def test_a_repository_is_what_github_says(github, client):
    made = github.add_repository("Alice-GH", "tool", default_branch="trunk")

    repo = client.repository("alice-gh/TOOL")

    assert (repo.id, repo.full_name, repo.default_branch) == (made.id, "Alice-GH/tool", "trunk")
    with pytest.raises(GitHubError, match="Alice-GH/nothing does not exist"):
        client.repository("Alice-GH/nothing")


def test_a_push_hook_is_installed_signed_as_json_and_pinged(github, client):
    repo = github.add_repository("Alice-GH", "app")

    hook_id = client.create_push_hook("Alice-GH/app", HOOK_URL, "s3cret")

    [hook] = repo.hooks
    assert hook.id == hook_id
    assert (hook.url, hook.content_type, hook.secret, hook.events, hook.active) == (
        HOOK_URL,
        "json",
        "s3cret",
        ["push"],
        True,
    )
    [ping] = github.deliveries
    assert (ping.event, ping.hook_id, ping.payload["hook_id"]) == ("ping", hook_id, hook_id)
    assert ping.headers["X-Hub-Signature-256"].startswith("sha256=")


@pytest.mark.parametrize(
    ("scopes", "login", "message"),
    [
        (
            {"read:user", "public_repo"},
            "Alice-GH",
            "did not grant Dockyard the permission this needs "
            "(scope repo or write:repo_hook). Unlink GitHub and link it again",
        ),
        (None, "Alice-Collaborator", "needs admin rights on that repository"),
    ],
    ids=["no-hook-scope", "not-admin"],
)
def test_a_hook_github_refuses_says_why(github, alice, scopes, login, message):
    repo = github.add_repository("Alice-GH", "app")
    repo.add_collaborator("Alice-Collaborator", "push")
    github.add_user("Alice-Collaborator")
    link_account(github, alice, login, scopes=scopes)

    with pytest.raises(GitHubError, match=re.escape(message)):
        GitHubClient.for_user(alice).create_push_hook("Alice-GH/app", HOOK_URL, "s3cret")
    assert repo.hooks == []


def test_a_second_hook_to_the_same_address_is_refused(github, client):
    github.add_repository("Alice-GH", "app")
    client.create_push_hook("Alice-GH/app", HOOK_URL, "one")

    with pytest.raises(GitHubError, match="Hook already exists on this repository"):
        client.create_push_hook("Alice-GH/app", HOOK_URL, "two")


def test_a_hook_is_deleted_once(github, client):
    repo = github.add_repository("Alice-GH", "app")
    hook_id = client.create_push_hook("Alice-GH/app", HOOK_URL, "s3cret")

    client.delete_hook("Alice-GH/app", hook_id)

    assert repo.hooks == []
    with pytest.raises(GitHubError, match="webhook is no longer on Alice-GH/app"):
        client.delete_hook("Alice-GH/app", hook_id)


def test_a_branch_or_tag_resolves_to_its_commit(github, client):
    repo = github.add_repository("Alice-GH", "app")
    first = repo.commit({"Dockerfile": "FROM busybox\n"}, "First")
    second = repo.commit({"Dockerfile": "FROM busybox:1\n"}, "Second\n\nwith a body")
    feature = repo.commit({"feature.txt": "x"}, "Feature work", branch="feature/x")
    repo.tag("v1.0.0", first)
    repo.tag("v2.0.0", second, message="Release 2")

    assert client.ref_commit("Alice-GH/app", "branch", "main") == (second, "Second\n\nwith a body")
    assert client.ref_commit("Alice-GH/app", "branch", "feature/x") == (feature, "Feature work")
    assert client.ref_commit("Alice-GH/app", "tag", "v1.0.0") == (first, "First")
    assert client.ref_commit("Alice-GH/app", "tag", "v2.0.0") == (second, "Second\n\nwith a body")
    with pytest.raises(GitHubError, match="There is no branch 'gone' in Alice-GH/app"):
        client.ref_commit("Alice-GH/app", "branch", "gone")


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda github: github.tokens.clear(), "no longer accepts the linked account's token"),
        (lambda github: setattr(github, "rate_limited", True), "rate limit .* is used up"),
    ],
    ids=["revoked", "rate-limited"],
)
def test_refusals_say_what_to_do(github, client, spoil, message):
    github.add_repository("Alice-GH", "app")
    spoil(github)

    with pytest.raises(GitHubError, match=message):
        client.repositories()


def test_an_unreachable_github_says_so(github, client, settings):
    from tests.support.processes import free_port

    settings.GITHUB_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(GitHubError, match="GitHub could not be reached"):
        client.repository("Alice-GH/app")


# The double's git hosting, as the builder uses it.


def git(*args: str, cwd: Path | None = None, extra_header: str = "") -> subprocess.CompletedProcess:
    config = ["-c", f"http.extraHeader={extra_header}"] if extra_header else []
    return subprocess.run(
        ["/usr/bin/git", *config, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0", "HOME": str(cwd or "/tmp")},
    )


def basic(token: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def test_a_public_repository_clones_and_fetches_any_commit_by_sha(github, tmp_path):
    repo = github.add_repository("octo", "app")
    old = repo.commit({"Dockerfile": "FROM busybox\n"}, "Old")
    repo.commit({"Dockerfile": "FROM busybox:1\n"}, "New")

    assert git("clone", "--quiet", repo.clone_url, str(tmp_path / "clone")).returncode == 0
    assert (tmp_path / "clone" / "Dockerfile").read_text() == "FROM busybox:1\n"

    # What a build does: fetch exactly the commit that was pushed, not the branch's head.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    git("init", "--quiet", cwd=checkout)
    fetched = git("fetch", "--quiet", "--depth", "1", repo.clone_url, old, cwd=checkout)
    assert fetched.returncode == 0, fetched.stderr
    git("checkout", "--quiet", "FETCH_HEAD", cwd=checkout)
    assert (checkout / "Dockerfile").read_text() == "FROM busybox\n"


def test_a_private_repository_wants_a_token_with_the_repo_scope(github, tmp_path):
    repo = github.add_repository("octo", "secret", private=True)
    repo.commit({"Dockerfile": "FROM busybox\n"}, "Secret")
    owner = github.users["octo"]
    full = github.issue_token(owner, {"repo"})
    weak = github.issue_token(owner, {"read:user"})

    anonymous = git("clone", repo.clone_url, str(tmp_path / "a"))
    assert anonymous.returncode != 0
    assert "terminal prompts disabled" in anonymous.stderr
    refused = git("clone", repo.clone_url, str(tmp_path / "b"), extra_header=basic(weak.token))
    assert "Repository not found" in refused.stderr
    bad = git("clone", repo.clone_url, str(tmp_path / "c"), extra_header=basic("gho_nope"))
    assert bad.returncode != 0  # 401 again: git asks for other credentials
    cloned = git("clone", repo.clone_url, str(tmp_path / "d"), extra_header=basic(full.token))
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "d" / "Dockerfile").exists()


def test_pushes_are_described_as_github_describes_them(github):
    repo = github.add_repository("octo", "app")
    hook = repo.add_hook(HOOK_URL, "s3cret")
    github.transport = lambda url, headers, body: (202, "{}")
    first = repo.commit({"Dockerfile": "FROM busybox\n"}, "First")
    second = repo.commit({"app.txt": "hello"}, "Second")

    [created] = repo.push("refs/heads/main")
    third = repo.commit({"app.txt": "hello again", "Dockerfile": None}, "Third")
    [moved] = repo.push("refs/heads/main")
    [forced] = repo.push("refs/heads/main", first)
    [tagged] = repo.push("refs/tags/v1.2.3", second)
    [deleted] = repo.push("refs/heads/main", ZERO_SHA)

    event = created.payload
    assert (event["ref"], event["before"], event["after"]) == ("refs/heads/main", ZERO_SHA, second)
    assert (event["created"], event["deleted"], event["forced"]) == (True, False, False)
    assert [c["message"] for c in event["commits"]] == ["First", "Second"]
    assert event["head_commit"]["id"] == second
    assert event["repository"]["id"] == repo.id
    assert event["repository"]["clone_url"] == repo.clone_url
    assert event["pusher"]["name"] == "octo"
    assert created.headers["X-GitHub-Event"] == "push"
    assert created.headers["X-GitHub-Hook-ID"] == str(hook.id)
    assert created.headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert created.status == 202
    change = moved.payload["head_commit"]
    assert (moved.payload["before"], moved.payload["after"]) == (second, third)
    assert (change["modified"], change["removed"]) == (["app.txt"], ["Dockerfile"])
    assert forced.payload["forced"] is True
    assert (tagged.payload["ref"], tagged.payload["commits"]) == ("refs/tags/v1.2.3", [])
    assert tagged.payload["head_commit"]["id"] == second
    assert (deleted.payload["deleted"], deleted.payload["after"]) == (True, ZERO_SHA)
    assert deleted.payload["head_commit"] is None
    assert repo.ref("refs/heads/main") is None
