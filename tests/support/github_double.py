"""A GitHub test double: the OAuth web flow and REST API over real HTTP on loopback.

It answers the way github.com and GitHub Enterprise do (REST API under `/api/v3`, as allauth
expects when `GITHUB_URL` is not https://github.com): same paths, status codes, headers, error
bodies, scope rules, single-use codes that expire. Tests configure its users and read back the
requests it received.

To add endpoints (repositories, hooks, webhook deliveries for automated builds), write a method
decorated with `@route("METHOD", r"path regex with (?P<named>groups)")` that takes a `Call` and
the named groups and returns a `Reply`; `call.token` authenticates API calls.
"""

from __future__ import annotations

import html
import inspect
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.support.processes import free_port

DEFAULT_PASSWORD = "github-password-1"
DOCS = "https://docs.github.com"
TOKEN_ALPHABET = string.ascii_letters + string.digits

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

    def reset(self) -> None:
        """Forget users, sign-ins, grants, tokens and recorded requests."""
        with self._lock:
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
        token = AccessToken(
            token="gho_" + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(36)),
            client_id=client_id,
            user=grant.user,
            scopes=grant.scopes,
        )
        with self._lock:
            self.tokens[token.token] = token
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

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return RequestHandler


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
