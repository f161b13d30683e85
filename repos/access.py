"""The one place that answers "what may this principal do on this repository".

Roles (what someone is to a repository) are kept apart from permissions (what can be done);
ROLE_PERMISSIONS is the only mapping between them. Access tokens carry a scope that caps
what their user could do. Web views, the Hub API and the registry token service all ask here.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, QuerySet
from django.http import Http404

from accounts.models import Namespace, TokenScope, User
from orgs.models import (
    OWNERS_TEAM,
    Collaborator,
    Organization,
    TeamMembership,
    TeamPermission,
)

from .models import Repository


class Permission(StrEnum):
    PULL = "pull"  # see the repository and pull its images
    PUSH = "push"
    DELETE = "delete"  # delete tags and manifests
    ADMIN = "admin"  # settings, visibility, permissions, deleting the repository


class Role(StrEnum):
    """From least to most."""

    READ = "read"
    COLLABORATOR = "collaborator"
    WRITE = "write"
    ADMIN = "admin"
    OWNER = "owner"


ROLE_ORDER = list(Role)


ALL_PERMISSIONS = frozenset(Permission)
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.READ: frozenset({Permission.PULL}),
    Role.COLLABORATOR: frozenset({Permission.PULL, Permission.PUSH}),
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
    # A build robot pushes to this one repository; it pulls what `user` (the user it builds
    # for, if any) may pull.
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


def _active_user(principal: Principal) -> User | None:
    user = principal.user
    return user if user is not None and user.is_active else None


def _owner_memberships(user: User) -> QuerySet:
    """The user's places in organizations' owners teams: each owns its organization's
    namespace."""
    return TeamMembership.objects.filter(user=user, team__name=OWNERS_TEAM)


def _team_grants(user: User) -> QuerySet:
    """Team permissions of the user's teams, each on a repository of the team's own
    organization: a team of another organization lends nothing."""
    return TeamPermission.objects.filter(
        team__members=user, team__organization__namespace=F("repository__namespace")
    )


def namespace_role(principal: Principal, namespace: Namespace) -> Role | None:
    """The role a principal holds on every repository of a namespace."""
    user = _active_user(principal)
    if user is None:
        return None
    if user.is_staff:
        return Role.OWNER
    if namespace.kind == Namespace.Kind.USER:
        return Role.OWNER if namespace.name == user.username else None
    is_owner = _owner_memberships(user).filter(team__organization__namespace=namespace).exists()
    return Role.OWNER if is_owner else None


def highest(roles) -> Role | None:
    found = [role for role in roles if role is not None]
    return max(found, key=ROLE_ORDER.index) if found else None


def repository_role(principal: Principal, repository: Repository) -> Role | None:
    """The highest of: the namespace role, the levels of the user's teams on this repository,
    and being a collaborator."""
    user = _active_user(principal)
    if user is None:
        return None
    roles = [namespace_role(principal, repository.namespace)]
    if roles[0] is Role.OWNER:
        return Role.OWNER
    if repository.namespace.kind == Namespace.Kind.ORG:
        levels = _team_grants(user).filter(repository=repository)
        roles.extend(Role(level) for level in levels.values_list("level", flat=True))
    elif Collaborator.objects.filter(repository=repository, user=user).exists():
        roles.append(Role.COLLABORATOR)
    return highest(roles)


def repository_permissions(principal: Principal, repository: Repository) -> frozenset[Permission]:
    return _permissions(principal, repository, lambda: repository_role(principal, repository))


def _permissions(
    principal: Principal, repository: Repository, role: Callable[[], Role | None]
) -> frozenset[Permission]:
    """What a role (asked for only when it matters) lets the principal do on the repository."""
    if repository.state != Repository.State.ACTIVE:
        return frozenset()
    public = frozenset() if repository.is_private else frozenset({Permission.PULL})
    if principal.robot_repository_id is not None:
        if principal.robot_repository_id == repository.pk:
            return ROBOT_PERMISSIONS
        # Elsewhere a build pulls what the user it builds for may pull (a private base image).
        found = role() if principal.user is not None else None
        granted = ROLE_PERMISSIONS[found] if found else frozenset()
        return (granted | public) & {Permission.PULL}
    found = role()
    granted = ROLE_PERMISSIONS[found] if found else frozenset()
    return principal.cap(granted | public)


def repositories_permissions(
    principal: Principal, repositories: Iterable[Repository]
) -> dict[int, frozenset[Permission]]:
    """repository_permissions of many repositories (their namespaces loaded), by primary key,
    in at most three queries whatever their number."""
    repositories = list(repositories)
    roles = _repository_roles(principal, repositories)
    return {
        repository.pk: _permissions(principal, repository, lambda r=repository: roles.get(r.pk))
        for repository in repositories
    }


def _repository_roles(principal: Principal, repositories: list[Repository]) -> dict[int, Role]:
    """repository_role of each repository, by primary key; none for no role."""
    user = _active_user(principal)
    if user is None or not repositories:
        return {}
    if user.is_staff:
        return {repository.pk: Role.OWNER for repository in repositories}
    ids = [repository.pk for repository in repositories]
    owned = set(
        _owner_memberships(user)
        .filter(team__organization__namespace__in={r.namespace_id for r in repositories})
        .values_list("team__organization__namespace", flat=True)
    )
    levels: dict[int, list[Role]] = {}
    for repository_id, level in (
        _team_grants(user).filter(repository__in=ids).values_list("repository_id", "level")
    ):
        levels.setdefault(repository_id, []).append(Role(level))
    collaborating = set(
        Collaborator.objects.filter(repository__in=ids, user=user).values_list(
            "repository_id", flat=True
        )
    )
    roles: dict[int, Role] = {}
    for repository in repositories:
        namespace = repository.namespace
        if namespace.kind == Namespace.Kind.USER:
            if namespace.name == user.username:
                found = Role.OWNER
            else:
                found = Role.COLLABORATOR if repository.pk in collaborating else None
        else:
            found = Role.OWNER if namespace.pk in owned else highest(levels.get(repository.pk, []))
        if found is not None:
            roles[repository.pk] = found
    return roles


def pullable_repositories(principal: Principal, repositories: QuerySet) -> QuerySet:
    """The repositories of the queryset the principal may see and pull, as
    repository_permissions decides, filtered in the database."""
    repositories = repositories.filter(state=Repository.State.ACTIVE)
    public = Q(is_private=False)
    user = _active_user(principal)
    if principal.robot_repository_id is not None:
        public |= Q(pk=principal.robot_repository_id)
    if user is None:
        return repositories.filter(public)
    if user.is_staff:
        return repositories
    # The user's own rows first, a few ids in two small queries: a statement that applies
    # the rule several times (a search, five) then weighs two lists rather than planning four
    # subqueries with their joins each time (4 ms), and none reads every repository joined to
    # its teams (150 ms a search at 100,000 repositories).
    own_namespace = Namespace.objects.filter(kind=Namespace.Kind.USER, name=user.username)
    collaborating = Collaborator.objects.filter(
        user=user, repository__namespace__kind=Namespace.Kind.USER
    )
    namespaces = own_namespace.values_list("pk", flat=True).union(
        _owner_memberships(user).values_list("team__organization__namespace", flat=True),
        all=True,
    )
    granted_repositories = (
        _team_grants(user)
        .values_list("repository_id", flat=True)
        .union(collaborating.values_list("repository_id", flat=True), all=True)
    )
    return repositories.filter(
        public | Q(namespace_id__in=list(namespaces)) | Q(pk__in=list(granted_repositories))
    )


def can_create_in(principal: Principal, namespace: Namespace) -> bool:
    """May this principal create repositories (by push or by form) in this namespace?"""
    if principal.robot_repository_id is not None:
        return False  # a build pushes to its own repository only
    if Permission.PUSH not in principal.cap(ALL_PERMISSIONS):
        return False
    if namespace_role(principal, namespace) is Role.OWNER:
        return True
    user = _active_user(principal)
    return (
        user is not None
        and namespace.kind == Namespace.Kind.ORG
        and Organization.objects.filter(
            namespace=namespace, members_can_create_repositories=True, teams__members=user
        ).exists()
    )


def can_manage_organization(principal: Principal, organization: Organization) -> bool:
    """Teams, members, invitations and settings of an organization: its owners, and staff."""
    return (
        principal.scope in (None, TokenScope.ADMIN)
        and namespace_role(principal, organization.namespace) is Role.OWNER
    )


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


@dataclass(frozen=True)
class AccessGrant:
    """Someone who can reach a repository, their role, and every reason they have it."""

    user: User
    role: Role
    reasons: tuple[str, ...]


def explain_repository_access(repository: Repository) -> list[AccessGrant]:
    """Every person with a role on the repository, highest role first."""
    found: dict[int, tuple[User, list[tuple[Role, str]]]] = {}

    def add(user: User, role: Role, reason: str) -> None:
        found.setdefault(user.pk, (user, []))[1].append((role, reason))

    namespace = repository.namespace
    if namespace.kind == Namespace.Kind.USER:
        for user in User.objects.filter(username=namespace.name, is_active=True):
            add(user, Role.OWNER, "owner of the namespace")
        for collaborator in repository.collaborators.select_related("user"):
            add(collaborator.user, Role.COLLABORATOR, "collaborator")
    else:
        memberships = TeamMembership.objects.filter(
            team__organization__namespace=namespace, team__name=OWNERS_TEAM, user__is_active=True
        ).select_related("user")
        for membership in memberships:
            add(membership.user, Role.OWNER, f"member of the {OWNERS_TEAM} team")
        grants = (
            repository.team_permissions.filter(team__organization__namespace=namespace)
            .select_related("team")
            .prefetch_related("team__members")
        )
        for grant in grants:
            for user in grant.team.members.all():
                if user.is_active:
                    add(user, Role(grant.level), f"team {grant.team.name} has {grant.level}")
    for user in User.objects.filter(is_staff=True, is_active=True):
        add(user, Role.OWNER, "staff")
    explained = [
        AccessGrant(user, highest(role for role, _ in reasons), tuple(r for _, r in reasons))
        for user, reasons in found.values()
    ]
    return sorted(explained, key=lambda g: (-ROLE_ORDER.index(g.role), g.user.username))
