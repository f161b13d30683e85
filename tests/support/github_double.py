"""A GitHub test double: the OAuth web flow and REST API over real HTTP on loopback.

It answers the way github.com and GitHub Enterprise do (REST API under `/api/v3`, as allauth
expects when `GITHUB_URL` is not https://github.com): same paths, status codes, headers, error
bodies, scope rules, single-use codes that expire. Tests configure its users and read back the
requests it received.

Repositories (`add_repository`) are real bare git repositories served over git's smart HTTP
(git-http-backend, as `git clone`/`git fetch` reach GitHub), with the REST endpoints the portal
uses (repositories, webhooks, refs and commits). `GitHubRepo.commit/tag/push` make real commits
and deliver signed `push` events to the installed webhooks, as GitHub's Hookshot does.

To add endpoints (repositories, hooks, webhook deliveries for automated builds), write a method
decorated with `@route("METHOD", r"path regex with (?P<named>groups)")` that takes a `Call` and
the named groups and returns a `Reply`; `call.token` authenticates API calls.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import inspect
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.support.processes import free_port

DEFAULT_PASSWORD = "github-password-1"
DOCS = "https://docs.github.com"
TOKEN_ALPHABET = string.ascii_letters + string.digits
GIT = "/usr/bin/git"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
ZERO_SHA = "0" * 40
HOOKSHOT_VERSION = "GitHub-Hookshot/5f6e3a1"
# git must read neither the machine's nor the user's configuration.
GIT_ENV = {
    **{name: value for name, value in os.environ.items() if not name.startswith("GIT_")},
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}

# A granted scope also grants these (https://docs.github.com/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps).
IMPLIED_SCOPES = {
    "repo": {"repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events"},
    "user": {"read:user", "user:email", "user:follow"},
    "admin:repo_hook": {"write:repo_hook", "read:repo_hook"},
    "write:repo_hook": {"read:repo_hook"},
    "admin:org": {"write:org", "read:org"},
    "write:org": {"read:org"},
}

Handler = Callable[..., "Reply"]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Mark a GitHubDouble method as the handler of METHOD requests whose path matches pattern."""

    def mark(handler: Handler) -> Handler:
        handler.route = (method, re.compile(pattern))  # type: ignore[attr-defined]
        return handler

    return mark


REPO_API = r"/api/v3/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
HOOK = r"/hooks/(?P<hook_id>[0-9]+)"
SHA = r"(?P<sha>[0-9a-f]{40})"
# The scopes GitHub accepts for reading, writing and deleting repository webhooks.
HOOK_READ = ("read:repo_hook", "repo")
HOOK_WRITE = ("write:repo_hook", "repo")
HOOK_ADMIN = ("admin:repo_hook", "repo")


def repo_route(
    method: str, suffix: str, docs: str, hook_scopes: tuple[str, ...] = ()
) -> Callable[[Handler], Handler]:
    """A REST endpoint under /api/v3/repos/{owner}/{repo}: the handler gets the repository the
    token may see (and `docs`), or GitHub's 401/404 is the answer. With `hook_scopes` (the
    webhook endpoints) the token also needs one of them and admin rights on the repository."""

    def mark(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def endpoint(double: GitHubDouble, call: Call, owner: str, name: str, **groups) -> Reply:
            if hook_scopes:
                repo, refused = double._hook_access(call, owner, name, hook_scopes, docs)
            else:
                repo, refused = double._find_repo(call, owner, name, docs)
            if refused:
                return refused
            reply = handler(double, call, repo, docs=docs, **groups)
            reply.headers.extend(double._headers(call, ", ".join(hook_scopes) or "repo"))
            return reply

        return route(method, REPO_API + suffix)(endpoint)

    return mark


def parse_scopes(text: str) -> set[str]:
    """GitHub accepts scopes separated by spaces or commas."""
    return {scope for scope in re.split(r"[\s,]+", text or "") if scope}


def expand_scopes(scopes: set[str]) -> set[str]:
    expanded = set(scopes)
    for scope in scopes:
        expanded |= IMPLIED_SCOPES.get(scope, set())
    return expanded


@dataclass
class GitHubEmail:
    email: str
    verified: bool = True
    primary: bool = False
    visibility: str | None = "private"


@dataclass
class GitHubUser:
    login: str
    id: int
    name: str | None = None
    emails: list[GitHubEmail] = field(default_factory=list)
    password: str = DEFAULT_PASSWORD
    created_at: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    @property
    def public_email(self) -> str | None:
        return next((e.email for e in self.emails if e.visibility == "public"), None)


@dataclass
class OAuthApp:
    name: str
    client_id: str
    client_secret: str
    # None accepts any redirect_uri; GitHub always has one registered.
    callback_url: str | None = None

    def accepts_redirect(self, redirect_uri: str) -> bool:
        """GitHub's rule: same scheme, host and port, and a path under the callback's path."""
        if self.callback_url is None:
            return True
        wanted, given = urlsplit(self.callback_url), urlsplit(redirect_uri)
        return (given.scheme, given.netloc) == (wanted.scheme, wanted.netloc) and (
            given.path.startswith(wanted.path)
        )


@dataclass
class Grant:
    """An authorization code waiting to be exchanged for a token."""

    code: str
    client_id: str
    user: GitHubUser
    redirect_uri: str
    scopes: set[str]
    expires_at: float


@dataclass
class AccessToken:
    token: str
    client_id: str
    user: GitHubUser
    scopes: set[str]

    def allows(self, scope: str) -> bool:
        return scope in expand_scopes(self.scopes)


@dataclass
class Call:
    """One request as the double received it (also what tests read from `double.requests`)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lowercased names
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    token: AccessToken | None = field(default=None, repr=False)

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters together, as GitHub reads them."""
        return {**self.query, **self.form}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        return cls(
            status,
            json.dumps(data).encode(),
            [("Content-Type", "application/json; charset=utf-8"), *headers],
        )

    @classmethod
    def html(cls, body: str, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        return cls(status, body.encode(), [("Content-Type", "text/html; charset=utf-8"), *headers])

    @classmethod
    def redirect(cls, location: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        return cls(302, b"", [("Location", location), *headers])


def api_error(status: int, message: str, docs: str = f"{DOCS}/rest") -> Reply:
    return Reply.json(
        {"message": message, "documentation_url": docs, "status": str(status)}, status=status
    )


def with_params(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"


def git(git_dir: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    """Run git on a bare repository; its output, stripped."""
    result = subprocess.run(
        [GIT, *args],
        input=input,
        capture_output=True,
        env={**GIT_ENV, "GIT_DIR": str(git_dir), **(env or {})},
    )
    if result.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode().strip()}")
    return result.stdout.decode().strip()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_time(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


@dataclass
class Delivery:
    """One webhook delivery: what the double sent, and how the receiver answered."""

    guid: str  # X-GitHub-Delivery; a redelivery keeps it
    event: str  # X-GitHub-Event
    hook_id: int
    url: str
    headers: dict[str, str]  # as sent
    payload: dict[str, Any]
    request_body: bytes  # the exact bytes signed
    status: int | None = None  # the receiver's HTTP status; None when it could not be reached
    body: str = ""  # the receiver's answer (or why it could not be reached)
    redelivery: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(eq=False)
class Hook:
    """A repository webhook, as `POST /repos/{owner}/{repo}/hooks` created it."""

    id: int
    url: str
    content_type: str  # "json" or "form"
    secret: str
    events: list[str]
    active: bool
    insecure_ssl: str
    created_at: str
    updated_at: str
    last_response: dict[str, Any] = field(
        default_factory=lambda: {"code": None, "status": "unused", "message": None}
    )
    deliveries: list[Delivery] = field(default_factory=list)

    def wants(self, event: str) -> bool:
        return self.active and (event == "ping" or event in self.events or "*" in self.events)


@dataclass(eq=False)
class GitHubRepo:
    """A repository: a real bare git repository, its collaborators and webhooks."""

    double: GitHubDouble = field(repr=False)
    id: int
    owner: GitHubUser
    name: str
    private: bool
    default_branch: str
    description: str
    path: Path
    created_at: str = field(default_factory=now_iso)
    pushed_at: str = field(default_factory=now_iso)
    # login (lowercase) → "pull", "push" or "admin"
    collaborators: dict[str, str] = field(default_factory=dict)
    hooks: list[Hook] = field(default_factory=list)
    # Each ref's commit as GitHub last announced it (a push event's `before`).
    pushed: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def clone_url(self) -> str:
        return f"{self.double.url}/{self.full_name}.git"

    @property
    def html_url(self) -> str:
        return f"{self.double.url}/{self.full_name}"

    @property
    def api_url(self) -> str:
        return f"{self.double.api_url}/repos/{self.full_name}"

    def role_of(self, user: GitHubUser | None) -> str | None:
        """ "admin", "push", "pull" or None: what the user may do on the repository."""
        if user is None:
            return None
        if user.id == self.owner.id:
            return "admin"
        return self.collaborators.get(user.login.lower())

    def add_collaborator(self, login: str, permission: str = "push") -> None:
        """Give a user of the double "pull", "push" or "admin" access."""
        assert permission in {"pull", "push", "admin"}, permission
        with self.double._lock:
            self.collaborators[login.lower()] = permission

    def ref(self, ref: str) -> str | None:
        """The object a full ref (refs/heads/x, refs/tags/x) points to, if it exists."""
        try:
            return git(self.path, "rev-parse", "--verify", "--quiet", f"{ref}^{{object}}")
        except RuntimeError:
            return None

    @property
    def is_empty(self) -> bool:
        return git(self.path, "for-each-ref", "--count=1") == ""

    def object_type(self, sha: str) -> str:
        """ "commit", "tag", "tree" or "blob"; "" for no such object."""
        try:
            return git(self.path, "cat-file", "-t", sha)
        except RuntimeError:
            return ""

    def resolve(self, name: str) -> str | None:
        """The commit a branch, tag or sha names, as GitHub resolves `{ref}` in its API."""
        if name.startswith("-"):
            return None
        for candidate in (f"refs/heads/{name}", f"refs/tags/{name}", name):
            try:
                return git(self.path, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
            except RuntimeError:
                continue
        return None

    def _identity(self) -> dict[str, str]:
        name = self.owner.name or self.owner.login
        email = next((e.email for e in self.owner.emails if e.primary), None) or (
            f"{self.owner.id}+{self.owner.login}@users.noreply.github.com"
        )
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }

    def commit(
        self, files: dict[str, str | bytes | None], message: str, branch: str | None = None
    ) -> str:
        """A real commit on `branch` (the default branch if None) that adds or overwrites
        `files` (None removes one); a new branch starts from the default branch. Its sha."""
        branch = branch or self.default_branch
        ref = f"refs/heads/{branch}"
        parent = self.ref(ref) or self.ref(f"refs/heads/{self.default_branch}")
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": f"{scratch}/index", **self._identity()}
            git(self.path, "read-tree", *([parent] if parent else ["--empty"]), env=env)
            for path, content in files.items():
                if content is None:
                    # Mode 0 removes the entry (--force-remove wants a work tree).
                    removal = f"0 {ZERO_SHA}\t{path}\n".encode()
                    git(self.path, "update-index", "--index-info", input=removal, env=env)
                    continue
                data = content.encode() if isinstance(content, str) else content
                blob = git(self.path, "hash-object", "-w", "--stdin", input=data, env=env)
                git(
                    self.path,
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    f"100644,{blob},{path}",
                    env=env,
                )
            tree = git(self.path, "write-tree", env=env)
            parents = ["-p", parent] if parent else []
            sha = git(self.path, "commit-tree", tree, *parents, input=message.encode(), env=env)
        git(self.path, "update-ref", ref, sha)
        return sha

    def tag(self, name: str, sha: str, message: str | None = None) -> None:
        """A lightweight tag (an annotated one when `message` is given)."""
        if message is None:
            git(self.path, "update-ref", f"refs/tags/{name}", sha)
        else:
            git(self.path, "tag", "-a", "-m", message, name, sha, env=self._identity())

    def push(self, ref: str, sha: str | None = None) -> list[Delivery]:
        """As if someone pushed `ref` (refs/heads/x or refs/tags/x): moved to `sha` if given
        (ZERO_SHA deletes it), as it is otherwise. Delivers a `push` event to each active hook,
        synchronously, and returns the deliveries."""
        if not ref.startswith(("refs/heads/", "refs/tags/")):
            raise ValueError(f"{ref}: push refs/heads/<branch> or refs/tags/<tag>")
        if sha == ZERO_SHA:
            if self.ref(ref):
                git(self.path, "update-ref", "-d", ref)
            after = ZERO_SHA
        elif sha is not None:
            git(self.path, "update-ref", ref, sha)
            after = self.ref(ref)
        else:
            after = self.ref(ref)
            if after is None:
                raise ValueError(f"{ref} does not exist: commit first, or give a sha")
        with self.double._lock:
            before = self.pushed.get(ref, ZERO_SHA)
            if after == ZERO_SHA:
                self.pushed.pop(ref, None)
            else:
                self.pushed[ref] = after
                self.pushed_at = now_iso()
        return self.double.deliver(self, "push", self.double.push_payload(self, ref, before, after))

    def add_hook(
        self,
        url: str,
        secret: str = "",
        content_type: str = "json",
        events: Iterable[str] = ("push",),
    ) -> Hook:
        """A webhook as if someone had added it on GitHub (no ping)."""
        with self.double._lock:
            stamp = now_iso()
            hook = Hook(
                id=self.double._next_hook_id,
                url=url,
                content_type=content_type,
                secret=secret,
                events=list(events),
                active=True,
                insecure_ssl="0",
                created_at=stamp,
                updated_at=stamp,
            )
            self.double._next_hook_id += 1
            self.hooks.append(hook)
        return hook

    def ping(self) -> list[Delivery]:
        """Ping every hook, as `POST /repos/{owner}/{repo}/hooks/{id}/pings` does."""
        with self.double._lock:
            hooks = list(self.hooks)
        return [
            self.double.deliver_to(self, hook, "ping", self.double.ping_payload(self, hook))
            for hook in hooks
        ]


def http_transport(url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str]:
    """POST a delivery over HTTP, as Hookshot does (10 s timeout); the status and answer."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return None, f"failed to connect: {error}"


Transport = Callable[[str, dict[str, str], bytes], tuple[int | None, str]]


class GitHubDouble:
    """github.com on 127.0.0.1: one registered OAuth app, users that tests add."""

    def __init__(self, app_name: str = "Dockyard") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api/v3"
        self.app = OAuthApp(
            name=app_name,
            client_id=f"Iv1.{secrets.token_hex(8)}",
            client_secret=secrets.token_hex(20),
        )
        self._lock = threading.RLock()
        # The bare repositories, served by git-http-backend from here.
        self.git_root = Path(tempfile.mkdtemp(prefix="github-double-"))
        self._routes = [
            (*member.route, getattr(self, name))
            for name, member in inspect.getmembers(type(self))
            if hasattr(member, "route")
        ]
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.reset()

    # Life cycle and test set-up

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.git_root, ignore_errors=True)

    def reset(self) -> None:
        """Forget users, sign-ins, grants, tokens, repositories (and their git data), webhook
        deliveries and recorded requests."""
        with self._lock:
            for child in self.git_root.iterdir():
                shutil.rmtree(child, ignore_errors=True)
            self.repositories: dict[str, GitHubRepo] = {}  # by lowercase full name
            self._deliveries: list[Delivery] = []
            self._next_repo_id, self._next_hook_id = 700001, 4200001
            # How webhook deliveries travel: real HTTP unless a test routes them elsewhere.
            self.transport: Transport = http_transport
            # True: every authenticated API call answers 403 "API rate limit exceeded".
            self.rate_limited = False
            self.users: dict[str, GitHubUser] = {}
            self.sessions: dict[str, GitHubUser] = {}
            self.authorizations: dict[tuple[int, str], set[str]] = {}
            self.grants: dict[str, Grant] = {}
            self.tokens: dict[str, AccessToken] = {}
            self._requests: list[Call] = []
            self._next_id = 1001
            # GitHub's codes live ten minutes; a test sets 0 to have the code expire.
            self.code_lifetime = 600.0

    def add_user(
        self,
        login: str,
        *,
        id: int | None = None,
        name: str | None = None,
        emails: list[GitHubEmail] | None = None,
        password: str = DEFAULT_PASSWORD,
    ) -> GitHubUser:
        """A GitHub account; by default with one verified primary address."""
        with self._lock:
            if id is None:
                id, self._next_id = self._next_id, self._next_id + 1
            if emails is None:
                emails = [GitHubEmail(f"{login.lower()}@users.github.test", primary=True)]
            user = GitHubUser(login=login, id=id, name=name, emails=emails, password=password)
            self.users[login.lower()] = user
            return user

    def add_repository(
        self,
        owner_login: str,
        name: str,
        private: bool = False,
        default_branch: str = "main",
        *,
        description: str = "",
    ) -> GitHubRepo:
        """An empty repository of a user (added if the double does not know them yet)."""
        with self._lock:
            owner = self.users.get(owner_login.lower()) or self.add_user(owner_login)
            path = self.git_root / owner.login.lower() / f"{name.lower()}.git"
            repo = GitHubRepo(
                double=self,
                id=self._next_repo_id,
                owner=owner,
                name=name,
                private=private,
                default_branch=default_branch,
                description=description,
                path=path,
            )
            self._next_repo_id += 1
            self.repositories[repo.full_name.lower()] = repo
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [GIT, "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            check=True,
            env=GIT_ENV,
        )
        # As on GitHub, a fetch may ask for any commit by its sha.
        git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
        git(path, "config", "http.receivepack", "false")
        return repo

    def issue_token(self, user: GitHubUser, scopes: Iterable[str]) -> AccessToken:
        """An OAuth token of the app for the user, as the web flow would have issued it."""
        token = AccessToken(
            token="gho_" + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(36)),
            client_id=self.app.client_id,
            user=user,
            scopes=set(scopes),
        )
        with self._lock:
            self.tokens[token.token] = token
        return token

    def repository(self, full_name: str) -> GitHubRepo:
        with self._lock:
            return self.repositories[full_name.lower()]

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery, oldest first."""
        with self._lock:
            return list(self._deliveries)

    # Webhook deliveries (https://docs.github.com/webhooks/webhook-events-and-payloads)

    def deliver(self, repo: GitHubRepo, event: str, payload: dict[str, Any]) -> list[Delivery]:
        """Send an event to each active hook of the repository that subscribes to it."""
        with self._lock:
            hooks = [hook for hook in repo.hooks if hook.wants(event)]
        return [self.deliver_to(repo, hook, event, payload) for hook in hooks]

    def deliver_to(
        self, repo: GitHubRepo, hook: Hook, event: str, payload: dict[str, Any]
    ) -> Delivery:
        data = json.dumps(payload).encode()
        if hook.content_type == "json":
            body, content_type = data, "application/json"
        else:
            body = urlencode({"payload": data.decode()}).encode()
            content_type = "application/x-www-form-urlencoded"
        headers = {
            "Accept": "*/*",
            "Content-Type": content_type,
            "User-Agent": HOOKSHOT_VERSION,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Event": event,
            "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-ID": str(repo.id),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
        }
        if hook.secret:
            key = hook.secret.encode()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = (
                "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            )
        delivery = Delivery(
            guid=headers["X-GitHub-Delivery"],
            event=event,
            hook_id=hook.id,
            url=hook.url,
            headers=headers,
            payload=payload,
            request_body=body,
        )
        return self._send(hook, delivery)

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Send a delivery again, as "Redeliver" on GitHub does: same GUID, same body."""
        with self._lock:
            hook = next(
                h
                for repo in self.repositories.values()
                for h in repo.hooks
                if h.id == delivery.hook_id
            )
        again = Delivery(
            guid=delivery.guid,
            event=delivery.event,
            hook_id=delivery.hook_id,
            url=hook.url,
            headers=dict(delivery.headers),
            payload=delivery.payload,
            request_body=delivery.request_body,
            redelivery=True,
        )
        return self._send(hook, again)

    def _send(self, hook: Hook, delivery: Delivery) -> Delivery:
        # Never under the lock: the receiver may well call the double back.
        delivery.status, delivery.body = self.transport(
            delivery.url, delivery.headers, delivery.request_body
        )
        ok = delivery.status is not None and 200 <= delivery.status < 300
        with self._lock:
            hook.deliveries.append(delivery)
            self._deliveries.append(delivery)
            hook.last_response = {
                "code": delivery.status,
                "status": "active" if ok else "failed",
                "message": "OK" if ok else delivery.body[:200],
            }
        return delivery

    def push_payload(self, repo: GitHubRepo, ref: str, before: str, after: str) -> dict[str, Any]:
        """The body of a `push` event, as GitHub sends it."""
        created, deleted = before == ZERO_SHA, after == ZERO_SHA
        head = None if deleted else git(repo.path, "rev-parse", f"{after}^{{commit}}")
        forced = False
        if not (created or deleted):
            forced = (
                subprocess.run(
                    [GIT, "merge-base", "--is-ancestor", before, head],
                    env={**GIT_ENV, "GIT_DIR": str(repo.path)},
                    capture_output=True,
                ).returncode
                != 0
            )
        shas: list[str] = []
        if head and ref.startswith("refs/heads/"):
            if created:
                # A new branch lists the commits no other pushed ref already had.
                with self._lock:
                    others = [sha for name, sha in repo.pushed.items() if name != ref]
                listed = git(repo.path, "rev-list", "--reverse", head, "--not", *others, "--")
            else:
                listed = git(repo.path, "rev-list", "--reverse", f"{before}..{head}", "--")
            shas = listed.split()[-2048:]
        compare = (
            f"{repo.html_url}/commit/{after[:12]}"
            if created
            else f"{repo.html_url}/compare/{before[:12]}...{after[:12]}"
        )
        owner = repo.owner
        return {
            "ref": ref,
            "before": before,
            "after": after,
            "repository": self.repo_json(repo, for_event=True),
            "pusher": {"name": owner.login, "email": self._email_of(owner)},
            "sender": self.user_json(owner),
            "created": created,
            "deleted": deleted,
            "forced": forced,
            "base_ref": None,
            "compare": compare,
            "commits": [self.commit_event_json(repo, sha) for sha in shas],
            "head_commit": self.commit_event_json(repo, head) if head else None,
        }

    def ping_payload(self, repo: GitHubRepo, hook: Hook) -> dict[str, Any]:
        return {
            "zen": "Keep it logically awesome.",
            "hook_id": hook.id,
            "hook": self.hook_json(repo, hook),
            "repository": self.repo_json(repo),
            "sender": self.user_json(repo.owner),
        }

    def _email_of(self, user: GitHubUser) -> str:
        return next((e.email for e in user.emails if e.primary), None) or (
            f"{user.id}+{user.login}@users.noreply.github.com"
        )

    def _commit_fields(self, repo: GitHubRepo, sha: str) -> dict[str, str]:
        names = ["sha", "tree", "parents", "an", "ae", "ad", "cn", "ce", "cd", "message"]
        out = git(
            repo.path,
            "show",
            "-s",
            "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
            sha,
        )
        fields = dict(zip(names, out.split("\x00"), strict=True))
        fields["message"] = fields["message"].strip()
        return fields

    def commit_event_json(self, repo: GitHubRepo, sha: str) -> dict[str, Any]:
        """A commit as push events list it."""
        c = self._commit_fields(repo, sha)
        changes: dict[str, list[str]] = {"A": [], "D": [], "M": []}
        for line in git(
            repo.path, "diff-tree", "-r", "--no-commit-id", "--name-status", "--root", sha
        ).splitlines():
            status, _, path = line.partition("\t")
            changes.setdefault(status[:1], []).append(path)

        def person(name: str, email: str) -> dict[str, str]:
            found = next((u for u in self.users.values() if self._email_of(u) == email), None)
            return {"name": name, "email": email, **({"username": found.login} if found else {})}

        return {
            "id": c["sha"],
            "tree_id": c["tree"],
            "distinct": True,
            "message": c["message"],
            "timestamp": c["ad"],
            "url": f"{repo.html_url}/commit/{c['sha']}",
            "author": person(c["an"], c["ae"]),
            "committer": person(c["cn"], c["ce"]),
            "added": changes["A"],
            "removed": changes["D"],
            "modified": changes["M"],
        }

    def git_commit_json(self, repo: GitHubRepo, sha: str) -> dict[str, Any]:
        """A commit as `GET /repos/{owner}/{repo}/git/commits/{sha}` answers."""
        c = self._commit_fields(repo, sha)
        return {
            "sha": c["sha"],
            "node_id": f"C_{c['sha'][:20]}",
            "url": f"{repo.api_url}/git/commits/{c['sha']}",
            "html_url": f"{repo.html_url}/commit/{c['sha']}",
            "author": {"name": c["an"], "email": c["ae"], "date": c["ad"]},
            "committer": {"name": c["cn"], "email": c["ce"], "date": c["cd"]},
            "tree": {"sha": c["tree"], "url": f"{repo.api_url}/git/trees/{c['tree']}"},
            "message": c["message"],
            "parents": [
                {
                    "sha": p,
                    "url": f"{repo.api_url}/git/commits/{p}",
                    "html_url": f"{repo.html_url}/commit/{p}",
                }
                for p in c["parents"].split()
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
            },
        }

    def repo_json(
        self, repo: GitHubRepo, viewer: GitHubUser | None = None, for_event: bool = False
    ) -> dict[str, Any]:
        owner = {
            key: value
            for key, value in self.user_json(repo.owner).items()
            if key
            in {
                "login",
                "id",
                "node_id",
                "avatar_url",
                "gravatar_id",
                "url",
                "html_url",
                "type",
                "site_admin",
            }
        }
        created, pushed = repo.created_at, repo.pushed_at
        if for_event:
            # Push events give the owner's name and email, and times as Unix timestamps.
            owner = {"name": repo.owner.login, "email": self._email_of(repo.owner), **owner}
            created, pushed = unix_time(created), unix_time(pushed)
        host = urlsplit(self.url).netloc
        data = {
            "id": repo.id,
            "node_id": f"R_{repo.id:08d}",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": owner,
            "html_url": repo.html_url,
            "description": repo.description or None,
            "fork": False,
            "url": repo.api_url,
            "hooks_url": f"{repo.api_url}/hooks",
            "git_refs_url": f"{repo.api_url}/git/refs{{/sha}}",
            "created_at": created,
            "updated_at": repo.pushed_at,
            "pushed_at": pushed,
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host}:{repo.full_name}.git",
            "clone_url": repo.clone_url,
            "svn_url": repo.html_url,
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
            "default_branch": repo.default_branch,
        }
        if for_event:
            data["master_branch"] = repo.default_branch
        if viewer is not None:
            role = repo.role_of(viewer)
            data["permissions"] = {
                "admin": role == "admin",
                "maintain": role == "admin",
                "push": role in {"admin", "push"},
                "triage": role in {"admin", "push"},
                "pull": True,
            }
        return data

    def hook_json(self, repo: GitHubRepo, hook: Hook) -> dict[str, Any]:
        config = {
            "content_type": hook.content_type,
            "insecure_ssl": hook.insecure_ssl,
            "url": hook.url,
        }
        if hook.secret:
            config["secret"] = "********"
        url = f"{repo.api_url}/hooks/{hook.id}"
        return {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": list(hook.events),
            "config": config,
            "updated_at": hook.updated_at,
            "created_at": hook.created_at,
            "url": url,
            "test_url": f"{url}/test",
            "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries",
            "last_response": dict(hook.last_response),
        }

    @property
    def requests(self) -> list[Call]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[Call]:
        return [
            call
            for call in self.requests
            if call.path == path and (method is None or call.method == method)
        ]

    def tokens_of(self, login: str) -> list[AccessToken]:
        with self._lock:
            return [t for t in self.tokens.values() if t.user.login.lower() == login.lower()]

    # Web: sign-in

    def _session_user(self, call: Call) -> GitHubUser | None:
        with self._lock:
            return self.sessions.get(call.cookies.get("user_session", ""))

    @route("GET", r"/login")
    def login_page(self, call: Call, error: str = "") -> Reply:
        return_to = call.params.get("return_to", "/")
        alert = f'<p class="flash" role="alert">{html.escape(error)}</p>' if error else ""
        return Reply.html(
            page(
                "Sign in to GitHub · GitHub",
                f"""<h1>Sign in to GitHub</h1>
<p class="sub">to continue to <strong>{html.escape(self.app.name)}</strong></p>
{alert}
<form method="post" action="/session">
  <input type="hidden" name="return_to" value="{html.escape(return_to)}">
  <label for="login_field">Username or email address</label>
  <input type="text" name="login" id="login_field" autocomplete="username" autofocus>
  <label for="password">Password</label>
  <input type="password" name="password" id="password" autocomplete="current-password">
  <button type="submit" class="primary">Sign in</button>
</form>""",
            ),
            status=422 if error else 200,
        )

    @route("POST", r"/session")
    def sign_in(self, call: Call) -> Reply:
        login, password = call.form.get("login", "").lower(), call.form.get("password", "")
        with self._lock:
            user = self.users.get(login) or next(
                (u for u in self.users.values() if any(e.email.lower() == login for e in u.emails)),
                None,
            )
            if user is None or not secrets.compare_digest(user.password, password):
                return self.login_page(call, error="Incorrect username or password.")
            session = secrets.token_urlsafe(24)
            self.sessions[session] = user
        return_to = call.form.get("return_to", "/")
        if not return_to.startswith("/") or return_to.startswith("//"):
            return_to = "/"
        return Reply.redirect(
            return_to,
            [("Set-Cookie", f"user_session={session}; Path=/; HttpOnly; SameSite=Lax")],
        )

    # Web: OAuth authorization (https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps)

    @route("GET", r"/login/oauth/authorize")
    def authorize_page(self, call: Call) -> Reply:
        params = call.params
        if params.get("client_id") != self.app.client_id:
            return Reply.html(page("Page not found · GitHub", "<h1>404</h1>"), status=404)
        redirect_uri = params.get("redirect_uri") or self.app.callback_url
        if not redirect_uri:
            return Reply.html(page("GitHub", "<h1>No callback URL</h1>"), status=400)
        if not self.app.accepts_redirect(redirect_uri):
            return Reply.redirect(
                with_params(
                    self.app.callback_url,
                    {
                        "error": "redirect_uri_mismatch",
                        "error_description": "The redirect_uri MUST match the registered "
                        "callback URL for this application.",
                        "error_uri": f"{DOCS}/apps/managing-oauth-apps/troubleshooting-"
                        "authorization-request-errors/#redirect-uri-mismatch",
                        **({"state": params["state"]} if "state" in params else {}),
                    },
                )
            )
        user = self._session_user(call)
        if user is None:
            return_to = with_params(call.path, call.query)
            return Reply.redirect(
                with_params("/login", {"client_id": self.app.client_id, "return_to": return_to})
            )
        scopes = parse_scopes(params.get("scope", ""))
        with self._lock:
            granted = self.authorizations.get((user.id, self.app.client_id))
        if granted is not None and scopes <= expand_scopes(granted):
            # GitHub skips the page when the user already granted at least these scopes.
            return self._grant(user, redirect_uri, granted, params.get("state"))
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
            for name in ("client_id", "redirect_uri", "scope", "state")
            if name in params
        )
        scope_items = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in sorted(scopes))
        app = html.escape(self.app.name)
        return Reply.html(
            page(
                f"Authorize {app}",
                f"""<h1>Authorize {app}</h1>
<p class="sub"><strong>{app}</strong> wants to access your
<strong>{html.escape(user.login)}</strong> account</p>
<ul class="scopes">{scope_items or "<li>Public information (read-only)</li>"}</ul>
<form method="post" action="/login/oauth/authorize">
  {hidden}
  <button type="submit" name="authorize" value="0">Cancel</button>
  <button type="submit" name="authorize" value="1" class="primary">Authorize {app}</button>
</form>
<p class="small">Authorizing will redirect to <code>{html.escape(redirect_uri)}</code></p>""",
            )
        )

    @route("POST", r"/login/oauth/authorize")
    def authorize(self, call: Call) -> Reply:
        params = call.form
        user = self._session_user(call)
        if params.get("client_id") != self.app.client_id or user is None:
            return Reply.html(page("GitHub", "<h1>422</h1>"), status=422)
        redirect_uri = params.get("redirect_uri") or self.app.callback_url or ""
        if not self.app.accepts_redirect(redirect_uri):
            return Reply.html(page("GitHub", "<h1>422</h1>"), status=422)
        state = {"state": params["state"]} if "state" in params else {}
        if params.get("authorize") != "1":
            return Reply.redirect(
                with_params(
                    redirect_uri,
                    {
                        "error": "access_denied",
                        "error_description": "The user has denied your application access.",
                        "error_uri": f"{DOCS}/apps/managing-oauth-apps/troubleshooting-"
                        "authorization-request-errors/#access-denied",
                        **state,
                    },
                )
            )
        scopes = parse_scopes(params.get("scope", ""))
        with self._lock:
            key = (user.id, self.app.client_id)
            self.authorizations[key] = self.authorizations.get(key, set()) | scopes
            granted = self.authorizations[key]
        return self._grant(user, redirect_uri, granted, params.get("state"))

    def _grant(
        self, user: GitHubUser, redirect_uri: str, scopes: set[str], state: str | None
    ) -> Reply:
        code = secrets.token_hex(10)
        with self._lock:
            self.grants[code] = Grant(
                code=code,
                client_id=self.app.client_id,
                user=user,
                redirect_uri=redirect_uri,
                scopes=set(scopes),
                expires_at=time.monotonic() + self.code_lifetime,
            )
        return Reply.redirect(
            with_params(redirect_uri, {"code": code, **({"state": state} if state else {})})
        )

    @route("POST", r"/login/oauth/access_token")
    def access_token(self, call: Call) -> Reply:
        params = call.params
        client_id, client_secret = params.get("client_id", ""), params.get("client_secret", "")
        if client_id != self.app.client_id or not secrets.compare_digest(
            client_secret, self.app.client_secret
        ):
            return token_error(
                call,
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            )
        with self._lock:
            # A code works once, even when the exchange then fails.
            grant = self.grants.pop(params.get("code", ""), None)
        if grant is None or grant.client_id != client_id or time.monotonic() >= grant.expires_at:
            return token_error(
                call, "bad_verification_code", "The code passed is incorrect or expired."
            )
        if params.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri:
            return token_error(
                call,
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
        token = self.issue_token(grant.user, grant.scopes)
        return token_reply(
            call,
            {
                "access_token": token.token,
                "scope": ",".join(sorted(token.scopes)),
                "token_type": "bearer",
            },
        )

    # REST API (https://docs.github.com/rest/users)

    def _authenticate(self, call: Call, docs: str) -> Reply | None:
        """Set call.token, or answer 401 as GitHub does."""
        scheme, _, value = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in {"token", "bearer"} or not value:
            return api_error(401, "Requires authentication", docs)
        with self._lock:
            call.token = self.tokens.get(value.strip())
        if call.token is None:
            return api_error(401, "Bad credentials")
        if self.rate_limited:
            reset = int(time.time()) + 3600
            reply = api_error(
                403,
                f"API rate limit exceeded for user ID {call.token.user.id}.",
                f"{DOCS}/rest/overview/rate-limits-for-the-rest-api",
            )
            reply.headers += [
                ("X-RateLimit-Limit", "5000"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", str(reset)),
                ("X-RateLimit-Used", "5000"),
                ("X-RateLimit-Resource", "core"),
            ]
            return reply
        return None

    def _api_headers(self, token: AccessToken, accepted: str = "") -> list[tuple[str, str]]:
        return [
            ("X-OAuth-Scopes", ", ".join(sorted(token.scopes))),
            ("X-Accepted-OAuth-Scopes", accepted),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
        ]

    def user_json(self, user: GitHubUser) -> dict[str, Any]:
        return {
            "login": user.login,
            "id": user.id,
            "node_id": f"U_{user.id:08d}",
            "avatar_url": f"{self.url}/avatars/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": f"{self.api_url}/users/{user.login}",
            "html_url": f"{self.url}/{user.login}",
            "type": "User",
            "site_admin": False,
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.public_email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": user.created_at,
            "updated_at": user.created_at,
        }

    @route("GET", r"/api/v3/user")
    def api_user(self, call: Call) -> Reply:
        docs = f"{DOCS}/rest/users/users#get-the-authenticated-user"
        if refused := self._authenticate(call, docs):
            return refused
        return Reply.json(self.user_json(call.token.user), headers=self._api_headers(call.token))

    @route("GET", r"/api/v3/user/emails")
    def api_user_emails(self, call: Call) -> Reply:
        docs = f"{DOCS}/rest/users/emails#list-email-addresses-for-the-authenticated-user"
        if refused := self._authenticate(call, docs):
            return refused
        if not call.token.allows("user:email"):
            return api_error(404, "Not Found", docs)
        emails = [
            {
                "email": e.email,
                "primary": e.primary,
                "verified": e.verified,
                "visibility": e.visibility,
            }
            for e in call.token.user.emails
        ]
        return Reply.json(emails, headers=self._api_headers(call.token, "user, user:email"))

    # REST API: repositories (https://docs.github.com/rest/repos/repos)

    def _can_read(self, token: AccessToken | None, repo: GitHubRepo) -> bool:
        if not repo.private:
            return True
        return token is not None and token.allows("repo") and repo.role_of(token.user) is not None

    def _find_repo(
        self, call: Call, owner: str, name: str, docs: str, *, need_auth: bool = False
    ) -> tuple[GitHubRepo | None, Reply | None]:
        """The repository the caller may see, or the answer GitHub gives: 401 for a missing or
        bad token, 404 for a repository that does not exist or that the token cannot see."""
        if (need_auth or call.headers.get("authorization")) and (
            refused := self._authenticate(call, docs)
        ):
            return None, refused
        with self._lock:
            repo = self.repositories.get(f"{owner}/{name}".lower())
        if repo is None or not self._can_read(call.token, repo):
            return None, api_error(404, "Not Found", docs)
        return repo, None

    def _headers(self, call: Call, accepted: str = "") -> list[tuple[str, str]]:
        return self._api_headers(call.token, accepted) if call.token else []

    @route("GET", r"/api/v3/user/repos")
    def api_user_repos(self, call: Call) -> Reply:
        docs = f"{DOCS}/rest/repos/repos#list-repositories-for-the-authenticated-user"
        if refused := self._authenticate(call, docs):
            return refused
        user, query = call.token.user, call.query
        try:
            per_page = min(max(int(query.get("per_page", 30)), 1), 100)
            page_number = max(int(query.get("page", 1)), 1)
        except ValueError:
            return api_error(422, "Validation Failed", docs)
        visibility = query.get("visibility", "all")
        affiliation = set(
            query.get("affiliation", "owner,collaborator,organization_member").split(",")
        )
        with self._lock:
            repos = [
                repo
                for repo in self.repositories.values()
                if (
                    ("owner" in affiliation and repo.owner.id == user.id)
                    or ("collaborator" in affiliation and user.login.lower() in repo.collaborators)
                )
                and self._can_read(call.token, repo)
                and visibility in ("all", "private" if repo.private else "public")
            ]
        sort = query.get("sort", "full_name")
        direction = query.get("direction", "asc" if sort == "full_name" else "desc")
        key = {
            "created": lambda r: (r.created_at, r.id),
            "updated": lambda r: (r.pushed_at, r.id),
            "pushed": lambda r: (r.pushed_at, r.id),
        }.get(sort, lambda r: r.full_name.lower())
        repos.sort(key=key, reverse=direction == "desc")
        last_page = max((len(repos) + per_page - 1) // per_page, 1)
        shown = repos[(page_number - 1) * per_page : page_number * per_page]
        links = []
        for rel, number in (
            ("prev", page_number - 1),
            ("next", page_number + 1),
            ("last", last_page),
            ("first", 1),
        ):
            if (rel in {"prev", "first"} and page_number > 1) or (
                rel in {"next", "last"} and page_number < last_page
            ):
                url = with_params(f"{self.api_url}/user/repos", {**query, "page": str(number)})
                links.append(f'<{url}>; rel="{rel}"')
        headers = self._headers(call)
        if links:
            headers.append(("Link", ", ".join(links)))
        return Reply.json([self.repo_json(r, viewer=user) for r in shown], headers=headers)

    @repo_route("GET", "", f"{DOCS}/rest/repos/repos#get-a-repository")
    def api_repo(self, call: Call, repo: GitHubRepo, docs: str) -> Reply:
        viewer = call.token.user if call.token else None
        return Reply.json(self.repo_json(repo, viewer=viewer))

    # REST API: webhooks (https://docs.github.com/rest/repos/webhooks)

    def _hook_access(
        self, call: Call, owner: str, name: str, scopes: tuple[str, ...], docs: str
    ) -> tuple[GitHubRepo | None, Reply | None]:
        """Webhooks need admin rights on the repository and one of `scopes`; GitHub answers
        404 otherwise, and names the scopes it accepts in X-Accepted-OAuth-Scopes."""
        repo, refused = self._find_repo(call, owner, name, docs, need_auth=True)
        if refused:
            return None, refused
        accepted = ", ".join(sorted(scopes))
        if repo.role_of(call.token.user) != "admin" or not any(
            call.token.allows(scope) for scope in scopes
        ):
            reply = api_error(404, "Not Found", docs)
            reply.headers.extend(self._api_headers(call.token, accepted))
            return None, reply
        return repo, None

    def _find_hook(self, repo: GitHubRepo, hook_id: str) -> Hook | None:
        with self._lock:
            return next((h for h in repo.hooks if str(h.id) == hook_id), None)

    @repo_route("GET", "/hooks", f"{DOCS}/rest/repos/webhooks#list-repository-webhooks", HOOK_READ)
    def api_hooks(self, call: Call, repo: GitHubRepo, docs: str) -> Reply:
        with self._lock:
            return Reply.json([self.hook_json(repo, hook) for hook in repo.hooks])

    @repo_route(
        "POST", "/hooks", f"{DOCS}/rest/repos/webhooks#create-a-repository-webhook", HOOK_WRITE
    )
    def api_create_hook(self, call: Call, repo: GitHubRepo, docs: str) -> Reply:
        try:
            data = json.loads(call.body or b"{}")
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return api_error(400, "Problems parsing JSON", docs)
        config = data.get("config")

        def invalid(message: str) -> Reply:
            return Reply.json(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Hook", "code": "custom", "message": message}],
                    "documentation_url": docs,
                    "status": "422",
                },
                status=422,
            )

        if data.get("name", "web") != "web":
            return invalid(f"Name must be 'web', not '{data.get('name')}'")
        if not isinstance(config, dict):
            return api_error(422, 'Invalid request.\n\n"config" wasn\'t supplied.', docs)
        url = config.get("url") or ""
        if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc:
            return invalid(
                "Config url is missing"
                if not url
                else "Config url is not supported because it isn't reachable over the public "
                "Internet"
            )
        content_type = config.get("content_type", "form")
        if content_type not in {"json", "form"}:
            return invalid(f"Config content type '{content_type}' is not supported")
        events = data.get("events", ["push"])
        with self._lock:
            if any(h.url == url for h in repo.hooks):
                return invalid("Hook already exists on this repository")
            stamp = now_iso()
            hook = Hook(
                id=self._next_hook_id,
                url=url,
                content_type=content_type,
                secret=str(config.get("secret") or ""),
                events=list(events),
                active=bool(data.get("active", True)),
                insecure_ssl=str(config.get("insecure_ssl", "0")),
                created_at=stamp,
                updated_at=stamp,
            )
            self._next_hook_id += 1
            repo.hooks.append(hook)
        # GitHub pings a new hook just after answering; the double pings before, so that a
        # test sees the ping as soon as the hook exists.
        self.deliver_to(repo, hook, "ping", self.ping_payload(repo, hook))
        return Reply.json(
            self.hook_json(repo, hook),
            status=201,
            headers=[("Location", f"{repo.api_url}/hooks/{hook.id}")],
        )

    @repo_route("GET", HOOK, f"{DOCS}/rest/repos/webhooks#get-a-repository-webhook", HOOK_READ)
    def api_hook(self, call: Call, repo: GitHubRepo, docs: str, hook_id: str) -> Reply:
        if (hook := self._find_hook(repo, hook_id)) is None:
            return api_error(404, "Not Found", docs)
        return Reply.json(self.hook_json(repo, hook))

    @repo_route(
        "DELETE", HOOK, f"{DOCS}/rest/repos/webhooks#delete-a-repository-webhook", HOOK_ADMIN
    )
    def api_delete_hook(self, call: Call, repo: GitHubRepo, docs: str, hook_id: str) -> Reply:
        with self._lock:
            hook = self._find_hook(repo, hook_id)
            if hook is None:
                return api_error(404, "Not Found", docs)
            repo.hooks.remove(hook)
        return Reply(204)

    @repo_route(
        "POST", f"{HOOK}/pings", f"{DOCS}/rest/repos/webhooks#ping-a-repository-webhook", HOOK_READ
    )
    def api_ping_hook(self, call: Call, repo: GitHubRepo, docs: str, hook_id: str) -> Reply:
        if (hook := self._find_hook(repo, hook_id)) is None:
            return api_error(404, "Not Found", docs)
        self.deliver_to(repo, hook, "ping", self.ping_payload(repo, hook))
        return Reply(204)

    # REST API: commits and refs (https://docs.github.com/rest/commits, /rest/git)

    @repo_route("GET", r"/commits/(?P<ref>.+)", f"{DOCS}/rest/commits/commits#get-a-commit")
    def api_commit(self, call: Call, repo: GitHubRepo, docs: str, ref: str) -> Reply:
        if repo.is_empty:
            return api_error(409, "Git Repository is empty.", docs)
        sha = repo.resolve(ref)
        if sha is None:
            return api_error(422, f"No commit found for SHA: {ref}", docs)
        git_commit = self.git_commit_json(repo, sha)
        commit = {
            key: git_commit[key]
            for key in ("author", "committer", "message", "tree", "url", "verification")
        }
        commit["url"] = f"{repo.api_url}/git/commits/{sha}"
        return Reply.json(
            {
                "sha": sha,
                "node_id": git_commit["node_id"],
                "commit": commit,
                "url": f"{repo.api_url}/commits/{sha}",
                "html_url": git_commit["html_url"],
                "author": None,
                "committer": None,
                "parents": git_commit["parents"],
            }
        )

    @repo_route(
        "GET", r"/git/ref/(?P<ref>(heads|tags)/.+)", f"{DOCS}/rest/git/refs#get-a-reference"
    )
    def api_git_ref(self, call: Call, repo: GitHubRepo, docs: str, ref: str) -> Reply:
        if repo.is_empty:
            return api_error(409, "Git Repository is empty.", docs)
        sha = repo.ref(f"refs/{ref}")
        if sha is None or ref.startswith("-"):
            return api_error(404, "Not Found", docs)
        kind = repo.object_type(sha)
        return Reply.json(
            {
                "ref": f"refs/{ref}",
                "node_id": f"REF_{sha[:16]}",
                "url": f"{repo.api_url}/git/refs/{ref}",
                "object": {"sha": sha, "type": kind, "url": f"{repo.api_url}/git/{kind}s/{sha}"},
            }
        )

    @repo_route("GET", f"/git/commits/{SHA}", f"{DOCS}/rest/git/commits#get-a-commit-object")
    def api_git_commit(self, call: Call, repo: GitHubRepo, docs: str, sha: str) -> Reply:
        if repo.object_type(sha) != "commit":
            return api_error(404, "Not Found", docs)
        return Reply.json(self.git_commit_json(repo, sha))

    @repo_route("GET", f"/git/tags/{SHA}", f"{DOCS}/rest/git/tags#get-a-tag")
    def api_git_tag(self, call: Call, repo: GitHubRepo, docs: str, sha: str) -> Reply:
        if repo.object_type(sha) != "tag":
            return api_error(404, "Not Found", docs)
        fields = git(
            repo.path,
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(*objectname)%00%(*objecttype)"
            "%00%(taggername)%00%(taggeremail:trim)%00%(taggerdate:iso-strict)%00%(contents)",
            "refs/tags/",
            "--points-at",
            sha,
        ).split("\x00")
        tag, target, target_type, tagger, email, date, message = fields[:7]
        return Reply.json(
            {
                "node_id": f"TAG_{sha[:16]}",
                "tag": tag,
                "sha": sha,
                "url": f"{repo.api_url}/git/tags/{sha}",
                "message": message,
                "tagger": {"name": tagger, "email": email, "date": date},
                "object": {
                    "type": target_type,
                    "sha": target,
                    "url": f"{repo.api_url}/git/{target_type}s/{target}",
                },
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                },
            }
        )

    # Git smart HTTP (what `git clone https://github.com/owner/repo.git` talks to)

    def _git_access(
        self, call: Call, owner: str, name: str
    ) -> tuple[GitHubRepo | None, Reply | None]:
        """Public repositories are open; private ones want Basic auth with a token that has
        the `repo` scope as the password (any username), as on GitHub."""
        token = None
        scheme, _, value = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except ValueError:
                password = ""
            with self._lock:
                token = self.tokens.get(password)
            if token is None:
                return None, Reply(
                    401,
                    b"remote: Invalid username or token. Password authentication is not "
                    b"supported for Git operations.\n",
                    [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="GitHub"')],
                )
        with self._lock:
            repo = self.repositories.get(f"{owner}/{name}".lower())
        if repo is not None and self._can_read(token, repo):
            return repo, None
        if token is None:
            # GitHub cannot tell a private repository from a missing one without credentials.
            return None, Reply(
                401,
                b"",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="GitHub"')],
            )
        return None, Reply(404, b"Repository not found.\n", [("Content-Type", "text/plain")])

    def _git_backend(self, call: Call, repo: GitHubRepo, rest: str) -> Reply:
        relative = repo.path.relative_to(self.git_root).as_posix()
        env = {
            **GIT_ENV,
            "GIT_PROJECT_ROOT": str(self.git_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": call.method,
            "PATH_INFO": f"/{relative}/{rest}",
            "QUERY_STRING": urlencode(call.query),
            "CONTENT_TYPE": call.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(call.body)),
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_GIT_PROTOCOL": call.headers.get("git-protocol", ""),
            "HTTP_CONTENT_ENCODING": call.headers.get("content-encoding", ""),
        }
        result = subprocess.run([GIT_HTTP_BACKEND], input=call.body, capture_output=True, env=env)
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").split("\r\n"):
            header, _, value = line.partition(":")
            if header.lower() == "status":
                status = int(value.split()[0])
            elif header:
                headers.append((header, value.strip()))
        if result.returncode and not result.stdout:
            return Reply(500, result.stderr, [("Content-Type", "text/plain")])
        return Reply(status, body, headers)

    @route("GET", r"/(?P<owner>[^/]+)/(?P<name>[^/]+?)(\.git)?/info/refs")
    def git_info_refs(self, call: Call, owner: str, name: str) -> Reply:
        repo, refused = self._git_access(call, owner, name)
        if refused:
            return refused
        if call.query.get("service") != "git-upload-pack":
            return Reply(
                403, b"Write access to repository not granted.\n", [("Content-Type", "text/plain")]
            )
        return self._git_backend(call, repo, "info/refs")

    @route("POST", r"/(?P<owner>[^/]+)/(?P<name>[^/]+?)(\.git)?/git-upload-pack")
    def git_upload_pack(self, call: Call, owner: str, name: str) -> Reply:
        repo, refused = self._git_access(call, owner, name)
        if refused:
            return refused
        return self._git_backend(call, repo, "git-upload-pack")

    @route("GET", r"/(?P<owner>[^/]+)/(?P<name>[^/.][^/]*)")
    def repo_page(self, call: Call, owner: str, name: str) -> Reply:
        with self._lock:
            repo = self.repositories.get(f"{owner}/{name}".lower())
            user = self._session_user(call)
        if repo is None or (repo.private and repo.role_of(user) is None):
            return Reply.html(page("Page not found · GitHub", "<h1>404</h1>"), status=404)
        return Reply.html(
            page(
                f"{html.escape(repo.full_name)} · GitHub",
                f"<h1>{html.escape(repo.full_name)}</h1>"
                f'<p class="sub">{html.escape(repo.description or "No description")}</p>',
            )
        )

    # Plumbing

    def _dispatch(self, call: Call) -> Reply:
        with self._lock:
            self._requests.append(call)
        for method, pattern, handler in self._routes:
            if method == call.method and (match := pattern.fullmatch(call.path)):
                return handler(call, **match.groupdict())
        if call.path.startswith("/api/"):
            return api_error(404, "Not Found")
        return Reply.html(page("Page not found · GitHub", "<h1>404</h1>"), status=404)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class RequestHandler(BaseHTTPRequestHandler):
            server_version = "GitHub.com"

            def _serve(self) -> None:
                url = urlsplit(self.path)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()  # git sends large requests so
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                content_type = self.headers.get("Content-Type", "")
                cookies = SimpleCookie(self.headers.get("Cookie", ""))
                call = Call(
                    method=self.command,
                    path=url.path.rstrip("/") or "/",
                    query=dict(parse_qsl(url.query, keep_blank_values=True)),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                    form=dict(parse_qsl(body.decode(), keep_blank_values=True))
                    if content_type.startswith("application/x-www-form-urlencoded")
                    else {},
                    cookies={name: morsel.value for name, morsel in cookies.items()},
                )
                reply = double._dispatch(call)
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            def _read_chunked(self) -> bytes:
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return RequestHandler


def link_account(
    double: GitHubDouble, user: Any, login: str | None = None, scopes: Iterable[str] | None = None
) -> AccessToken:
    """Link a Dockyard user to a GitHub account of the double (added if new), as the OAuth web
    flow leaves it: allauth's SocialAccount and SocialToken, and the token in the double.
    `scopes` defaults to those Dockyard asks for."""
    from allauth.socialaccount.models import SocialAccount, SocialToken
    from django.conf import settings

    login = login or f"{user.username}-gh"
    with double._lock:
        account = double.users.get(login.lower()) or double.add_user(login)
    if scopes is None:
        scopes = settings.SOCIALACCOUNT_PROVIDERS["github"]["SCOPE"]
    token = double.issue_token(account, scopes)
    social = SocialAccount.objects.create(
        user=user, provider="github", uid=str(account.id), extra_data={"login": account.login}
    )
    SocialToken.objects.create(account=social, token=token.token)
    return token


def token_reply(call: Call, data: dict[str, str]) -> Reply:
    """The token endpoint answers form-encoded unless asked for JSON."""
    if "application/json" in call.headers.get("accept", ""):
        return Reply.json(data)
    return Reply(
        200,
        urlencode(data).encode(),
        [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
    )


def token_error(call: Call, error: str, description: str) -> Reply:
    """GitHub answers a refused token request with 200 and the error in the body."""
    anchor = error.replace("_", "-")
    return token_reply(
        call,
        {
            "error": error,
            "error_description": description,
            "error_uri": f"{DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-"
            f"token-request-errors/#{anchor}",
        },
    )


def page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px -apple-system, "Segoe UI", sans-serif; background: #f6f8fa; color: #1f2328; }}
main {{ max-width: 420px; margin: 48px auto; background: #fff; border: 1px solid #d0d7de;
  border-radius: 6px; padding: 24px; }}
h1 {{ font-size: 22px; font-weight: 400; text-align: center; }}
.sub, .small {{ text-align: center; color: #59636e; }} .small {{ font-size: 12px; }}
label {{ display: block; margin: 12px 0 4px; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 5px 12px;
  border: 1px solid #d0d7de; border-radius: 6px; }}
button {{ margin-top: 16px; padding: 5px 16px; border: 1px solid #d0d7de; border-radius: 6px;
  background: #f6f8fa; }}
button.primary {{ background: #1f883d; color: #fff; border-color: #1f883d; }}
.flash {{ background: #ffebe9; border: 1px solid #ff818266; padding: 12px; border-radius: 6px; }}
</style></head>
<body><main>{body}</main></body></html>"""
