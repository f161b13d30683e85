"""The one place that answers "what may this principal do on this repository".

Roles (what someone is to a repository) are kept apart from permissions (what can be done);
ROLE_PERMISSIONS is the only mapping between them. Access tokens carry a scope that caps
what their user could do. Web views, the Hub API and the registry token service all ask here.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import Namespace, TokenScope, User

from .models import Repository


class Permission(StrEnum):
    PULL = "pull"  # see the repository and pull its images
    PUSH = "push"
    DELETE = "delete"  # delete tags and manifests
    ADMIN = "admin"  # settings, visibility, permissions, deleting the repository


class Role(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    OWNER = "owner"


ALL_PERMISSIONS = frozenset(Permission)
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.READ: frozenset({Permission.PULL}),
    Role.WRITE: frozenset({Permission.PULL, Permission.PUSH, Permission.DELETE}),
    Role.ADMIN: ALL_PERMISSIONS,
    Role.OWNER: ALL_PERMISSIONS,
}
SCOPE_PERMISSIONS: dict[TokenScope, frozenset[Permission]] = {
    TokenScope.READ: frozenset({Permission.PULL}),
    TokenScope.WRITE: frozenset({Permission.PULL, Permission.PUSH}),
    TokenScope.DELETE: frozenset({Permission.PULL, Permission.PUSH, Permission.DELETE}),
    TokenScope.ADMIN: ALL_PERMISSIONS,
}
ROBOT_PERMISSIONS = frozenset({Permission.PULL, Permission.PUSH})


@dataclass(frozen=True)
class Principal:
    """Who is asking: nobody, a user, a user through an access token, or a build robot."""

    user: User | None = None
    scope: TokenScope | None = None
    # A build robot acts for one repository only.
    robot_repository_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.robot_repository_id is None

    @property
    def name(self) -> str:
        return self.user.username if self.user else ""

    def cap(self, permissions: frozenset[Permission]) -> frozenset[Permission]:
        return permissions & SCOPE_PERMISSIONS[self.scope] if self.scope else permissions


ANONYMOUS = Principal()


def namespace_role(principal: Principal, namespace: Namespace) -> Role | None:
    """The role a principal holds on every repository of a namespace."""
    user = principal.user
    if user is None or not user.is_active:
        return None
    if user.is_staff:
        return Role.OWNER
    if namespace.kind == Namespace.Kind.USER and namespace.name == user.username:
        return Role.OWNER
    return None


def repository_role(principal: Principal, repository: Repository) -> Role | None:
    return namespace_role(principal, repository.namespace)


def repository_permissions(principal: Principal, repository: Repository) -> frozenset[Permission]:
    if repository.state != Repository.State.ACTIVE:
        return frozenset()
    public = frozenset() if repository.is_private else frozenset({Permission.PULL})
    if principal.robot_repository_id is not None:
        if principal.robot_repository_id == repository.pk:
            return ROBOT_PERMISSIONS
        return public
    role = repository_role(principal, repository)
    granted = ROLE_PERMISSIONS[role] if role else frozenset()
    return principal.cap(granted | public)


def can_create_in(principal: Principal, namespace: Namespace) -> bool:
    """May this principal create repositories (by push or by form) in this namespace?"""
    if Permission.PUSH not in principal.cap(ALL_PERMISSIONS):
        return False
    role = namespace_role(principal, namespace)
    return role in {Role.ADMIN, Role.OWNER}


def get_repository_or_404(
    principal: Principal, namespace: str, name: str, permission: Permission = Permission.PULL
) -> Repository:
    """The repository if the principal may see it: 404 if not (never 403, never a hint that it
    exists), 403 if they may see it but lack `permission`."""
    repository = (
        Repository.objects.active()
        .select_related("namespace")
        .filter(namespace__name=namespace, name=name)
        .first()
    )
    permissions = repository_permissions(principal, repository) if repository else frozenset()
    if Permission.PULL not in permissions:
        raise Http404("No such repository")
    if permission not in permissions:
        raise PermissionDenied(f"You need {permission} access to {repository.full_name}.")
    return repository
