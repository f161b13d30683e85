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


def _requested_actions(scope: Scope) -> list[Permission]:
    if "*" in scope.actions:
        return list(REPOSITORY_ACTIONS)
    return [Permission(a) for a in scope.actions if a in REPOSITORY_ACTIONS]


def _active_repositories(names: set[tuple[str, str]]) -> dict[tuple[str, str], Repository]:
    """The active repositories with these (namespace, name) pairs, in one query: a token
    request usually names two or three, and each query costs more than the rest of it."""
    if not names:
        return {}
    candidates = (
        Repository.objects.active()
        .select_related("namespace")
        .filter(
            namespace__name__in=sorted({ns for ns, _ in names}),
            name__in=sorted({name for _, name in names}),
        )
    )
    # The filter is a cross product of the namespaces and the names: keep the pairs asked.
    found = {(r.namespace.name, r.name): r for r in candidates}
    return {key: repository for key, repository in found.items() if key in names}


def _repository_target(scope: Scope) -> tuple[list[Permission], str, str] | None:
    """The actions asked and the (namespace, name) of a repository scope, if it can have any."""
    requested = _requested_actions(scope)
    namespace_name, _, name = scope.name.partition("/")
    if not requested or not name or not REPOSITORY_NAME_RE.match(scope.name):
        return None
    if len(name) > Repository._meta.get_field("name").max_length:
        return None  # the registry would take it, the portal could not keep it
    return requested, namespace_name, name


def _repository_grant(
    principal: Principal,
    requested: list[Permission],
    namespace_name: str,
    name: str,
    repository: Repository | None,
) -> list[str]:
    if repository is not None:
        allowed = repository_permissions(principal, repository)
    else:
        # A push to a repository that does not exist yet creates it (on the push event).
        if Permission.PUSH not in requested:
            return []
        namespace = Namespace.objects.filter(name=namespace_name).first()
        if namespace is None or not can_create_in(principal, namespace):
            return []
        being_deleted = Repository.objects.filter(
            namespace=namespace, name=name, state=Repository.State.DELETING
        )
        if being_deleted.exists():
            # Its clean-up goes by name and would take new images with it. (An active row
            # that a concurrent push event created since the lookup above is no reason to
            # refuse: the principal may create, so may push.)
            return []
        allowed = principal.cap(frozenset(Permission))
    return [str(action) for action in requested if action in allowed]


def grant(principal: Principal, scopes: list[Scope]) -> list[dict]:
    """The subset of the requested access this principal may have, in the claim's shape."""
    targets = {
        scope: _repository_target(scope) for scope in scopes if scope.base_type == "repository"
    }
    repositories = _active_repositories(
        {(namespace, name) for _, namespace, name in filter(None, targets.values())}
    )
    access = []
    for scope in scopes:
        if scope.base_type == "repository":
            target = targets[scope]
            if target is None:
                actions = []
            else:
                requested, namespace, name = target
                repository = repositories.get((namespace, name))
                actions = _repository_grant(principal, requested, namespace, name, repository)
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
