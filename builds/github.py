"""GitHub's REST API as automated builds use it, with the token of a linked GitHub account.

allauth keeps the OAuth token of a linked account (SOCIALACCOUNT_STORE_TOKENS), granted the
scopes hub/settings.py asks for: `repo` (read private repositories) and `admin:repo_hook`
(install and remove the push webhook). Every failure becomes a GitHubError whose message can be
shown to the person as it is.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import requests
from allauth.socialaccount.models import SocialToken
from django.conf import settings
from django.utils import timezone

from accounts.models import User

TIMEOUT = (5, 20)  # seconds to connect, to read
MAX_PAGES = 10  # of 100 repositories each
# A granted scope also grants these (GitHub's scopes for OAuth apps).
IMPLIED_SCOPES = {
    "repo": {"public_repo", "repo:status", "repo_deployment", "repo:invite"},
    "admin:repo_hook": {"write:repo_hook", "read:repo_hook"},
    "write:repo_hook": {"read:repo_hook"},
}
RELINK = "Unlink GitHub and link it again in Settings › Linked accounts"


class GitHubError(Exception):
    """Something GitHub refused or could not do, in words fit to show the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class GitHubRepository:
    id: int
    full_name: str
    clone_url: str
    html_url: str
    private: bool
    default_branch: str
    description: str
    # Whether the linked account may install webhooks on it (GitHub admin rights).
    admin: bool = field(default=True, compare=False)

    @classmethod
    def from_api(cls, data: dict) -> "GitHubRepository":
        return cls(
            id=data["id"],
            full_name=data["full_name"],
            clone_url=data["clone_url"],
            html_url=data.get("html_url") or "",
            private=bool(data.get("private")),
            default_branch=data.get("default_branch") or "main",
            description=data.get("description") or "",
            admin=bool(data.get("permissions", {}).get("admin", True)),
        )


def api_url() -> str:
    """github.com's API has its own host; GitHub Enterprise (and the test double) serve it
    under /api/v3."""
    base = settings.GITHUB_URL.rstrip("/")
    return "https://api.github.com" if base == "https://github.com" else f"{base}/api/v3"


def github_token_for(user: User | None) -> str | None:
    """The OAuth token of the user's linked GitHub account, if they linked one."""
    if user is None or not user.is_authenticated:
        return None
    token = (
        SocialToken.objects.filter(account__user=user, account__provider="github")
        .order_by("-pk")
        .first()
    )
    if token is None or (token.expires_at and token.expires_at <= timezone.now()):
        return None
    return token.token


def _listed(header: str) -> list[str]:
    return [scope.strip() for scope in header.split(",") if scope.strip()]


def _scopes(header: str) -> set[str]:
    """The scopes an X-OAuth-Scopes header grants, with those they imply."""
    granted = set(_listed(header))
    for scope in list(granted):
        granted |= IMPLIED_SCOPES.get(scope, set())
    return granted


class GitHubClient:
    """The few API calls builds need, on behalf of one GitHub account."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": settings.HUB_NAME,
            }
        )

    @classmethod
    def for_user(cls, user: User | None) -> "GitHubClient":
        token = github_token_for(user)
        if token is None:
            raise GitHubError(
                "No GitHub account is linked: link one in Settings › Linked accounts first."
            )
        return cls(token)

    def _call(self, method: str, path: str, *, not_found: str, **kwargs) -> requests.Response:
        """Call the API; a GitHubError for anything but a success. `not_found` says what a 404
        means here (GitHub answers 404, never 403, for what the token may not see)."""
        url = path if path.startswith("http") else f"{api_url()}{path}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise GitHubError(
                f"GitHub could not be reached ({type(error).__name__}); try again in a moment."
            ) from error
        if response.ok:
            return response
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        message = body.get("message", "") if isinstance(body, dict) else ""
        if status == 401:
            raise GitHubError(
                f"GitHub no longer accepts the linked account's token. {RELINK}.", status
            )
        if status in (403, 429) and (
            response.headers.get("X-RateLimit-Remaining") == "0" or "rate limit" in message.lower()
        ):
            reset = response.headers.get("X-RateLimit-Reset", "")
            when = (
                "at " + datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M UTC")
                if reset.isdigit()
                else "later"
            )
            raise GitHubError(
                f"GitHub's API rate limit for this account is used up; try again {when}.", status
            )
        if status in (403, 404):
            accepted = _listed(response.headers.get("X-Accepted-OAuth-Scopes", ""))
            granted = _scopes(response.headers.get("X-OAuth-Scopes", ""))
            if accepted and not set(accepted) & granted:
                raise GitHubError(
                    f"The linked GitHub account did not grant Dockyard the permission this needs "
                    f"(scope {' or '.join(accepted)}). {RELINK} to grant it.",
                    status,
                )
            raise GitHubError(not_found, status)
        if status == 422:
            errors = body.get("errors", []) if isinstance(body, dict) else []
            details = "; ".join(
                error.get("message", "") for error in errors if isinstance(error, dict)
            )
            raise GitHubError(f"GitHub refused: {details or message or 'invalid request'}.", status)
        if status >= 500:
            raise GitHubError(f"GitHub had an error ({status}); try again in a moment.", status)
        reason = (message or response.reason).rstrip(".")
        raise GitHubError(f"GitHub answered {status}: {reason}.", status)

    def repositories(self) -> list[GitHubRepository]:
        """The repositories the account owns or collaborates on, by full name."""
        found: list[GitHubRepository] = []
        url: str | None = "/user/repos"
        params: dict | None = {"per_page": 100, "sort": "full_name"}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._call(
                "GET", url, params=params, not_found="GitHub did not list your repositories."
            )
            found.extend(GitHubRepository.from_api(item) for item in response.json())
            # The next page's URL carries the parameters.
            url, params = response.links.get("next", {}).get("url"), None
        return found

    def repository(self, full_name: str) -> GitHubRepository:
        response = self._call(
            "GET",
            f"/repos/{full_name}",
            not_found=f"The GitHub repository {full_name} does not exist, or the linked "
            "GitHub account cannot see it.",
        )
        return GitHubRepository.from_api(response.json())

    def create_push_hook(self, full_name: str, url: str, secret: str) -> int:
        """Install a webhook that delivers push events as JSON signed with `secret`; its id."""
        response = self._call(
            "POST",
            f"/repos/{full_name}/hooks",
            json={
                "name": "web",
                "active": True,
                "events": ["push"],
                "config": {
                    "url": url,
                    "content_type": "json",
                    "secret": secret,
                    "insecure_ssl": "0",
                },
            },
            not_found=f"Dockyard cannot install a webhook on {full_name}: the linked GitHub "
            "account needs admin rights on that repository.",
        )
        return int(response.json()["id"])

    def delete_hook(self, full_name: str, hook_id: int) -> None:
        self._call(
            "DELETE",
            f"/repos/{full_name}/hooks/{hook_id}",
            not_found=f"The webhook is no longer on {full_name}, or the linked GitHub account "
            "lacks admin rights there.",
        )

    def ref_commit(self, full_name: str, ref_type: str, name: str) -> tuple[str, str]:
        """The commit a branch or tag ("branch"/"tag") points to: its sha and message."""
        kind = {"branch": "heads", "tag": "tags"}[ref_type]
        missing = f"There is no {ref_type} '{name}' in {full_name} on GitHub."
        response = self._call(
            "GET", f"/repos/{full_name}/git/ref/{kind}/{quote(name, safe='/')}", not_found=missing
        )
        target = response.json()["object"]
        # An annotated tag points to a tag object, which points to the commit.
        for _ in range(5):
            if target["type"] != "tag":
                break
            target = self._call(
                "GET", f"/repos/{full_name}/git/tags/{target['sha']}", not_found=missing
            ).json()["object"]
        if target["type"] != "commit":
            raise GitHubError(f"The {ref_type} '{name}' of {full_name} does not name a commit.")
        commit = self._call(
            "GET", f"/repos/{full_name}/git/commits/{target['sha']}", not_found=missing
        ).json()
        return commit["sha"], commit.get("message", "")


def remove_hook(full_name: str, hook_id: int, users: list[User | None]) -> str:
    """Delete the webhook with the first of the users' tokens that may; why not, if none may."""
    reason = "No linked GitHub account can remove it."
    tried = set()
    for user in users:
        token = github_token_for(user)
        if token is None or token in tried:
            continue
        tried.add(token)
        try:
            GitHubClient(token).delete_hook(full_name, hook_id)
            return ""
        except GitHubError as error:
            reason = str(error)
    return reason
