"""Registry bearer tokens: what to grant for the scopes asked, and the signed JWT."""

import secrets
import time

import jwt
from django.conf import settings

from accounts.models import Namespace
from repos.access import Permission, Principal, can_create_in, repository_permissions
from repos.models import Repository
from repos.names import REPOSITORY_NAME_RE

from .scopes import Scope

# Clock skew: the registry allows 60 s; a token valid from a little before now is safe.
NOT_BEFORE_LEEWAY = 10
# The registry's repository actions; each is also the name of a permission in repos.access.
REPOSITORY_ACTIONS = (Permission.PULL, Permission.PUSH, Permission.DELETE)


def _repository_grant(principal: Principal, scope: Scope) -> list[str]:
    if "*" in scope.actions:
        requested = list(REPOSITORY_ACTIONS)
    else:
        requested = [Permission(a) for a in scope.actions if a in REPOSITORY_ACTIONS]
    namespace_name, _, name = scope.name.partition("/")
    if not requested or not name or not REPOSITORY_NAME_RE.match(scope.name):
        return []
    repository = (
        Repository.objects.active()
        .select_related("namespace")
        .filter(namespace__name=namespace_name, name=name)
        .first()
    )
    if repository is not None:
        allowed = repository_permissions(principal, repository)
    else:
        # A push to a repository that does not exist yet creates it (on the push event).
        namespace = Namespace.objects.filter(name=namespace_name).first()
        if namespace is None or Permission.PUSH not in requested:
            return []
        if not can_create_in(principal, namespace):
            return []
        allowed = principal.cap(frozenset(Permission))
    return [str(action) for action in requested if action in allowed]


def grant(principal: Principal, scopes: list[Scope]) -> list[dict]:
    """The subset of the requested access this principal may have, in the claim's shape."""
    access = []
    for scope in scopes:
        if scope.base_type == "repository":
            actions = _repository_grant(principal, scope)
        elif scope.base_type == "registry" and scope.name == "catalog":
            is_staff = principal.user is not None and principal.user.is_staff
            actions = ["*"] if is_staff and "*" in scope.actions else []
        else:
            actions = []
        if actions:
            access.append({"type": scope.type, "name": scope.name, "actions": actions})
    return access


def issue_token(subject: str, access: list[dict], lifetime: int | None = None) -> dict:
    """A signed registry token and the fields of the token endpoint's answer."""
    from .keys import signing_key

    private_key, kid = signing_key()
    lifetime = lifetime or settings.REGISTRY_TOKEN_LIFETIME
    now = int(time.time())
    claims = {
        "iss": settings.REGISTRY_TOKEN_ISSUER,
        "sub": subject,
        "aud": settings.REGISTRY_SERVICE,
        "exp": now + lifetime,
        "nbf": now - NOT_BEFORE_LEEWAY,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "access": access,
    }
    token = jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": kid})
    issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {"token": token, "access_token": token, "expires_in": lifetime, "issued_at": issued_at}
