"""What each principal may do on a repository (DESIGN §6): the whole matrix of roles, token
scopes and visibility, with every role given for real (teams, owners, collaborators), plus
anonymous, staff, inactive users, build robots and repositories being deleted. Expected sets
are written out here, from the design, not from the code's tables. The whole picture across
surfaces is tests/test_authorization_matrix.py.
"""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import Namespace, TokenScope
from orgs.models import Collaborator, Organization, Team, TeamMembership, TeamPermission
from repos import access
from repos.access import (
    ANONYMOUS,
    Permission,
    Principal,
    Role,
    can_create_in,
    can_manage_organization,
    get_repository_or_404,
    pullable_repositories,
    repository_permissions,
)
from repos.models import Repository
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOTHING: set[str] = set()
PULL = {"pull"}
PULL_PUSH = {"pull", "push"}
WRITE = {"pull", "push", "delete"}
EVERYTHING = {"pull", "push", "delete", "admin"}
SCOPES = [None, TokenScope.READ, TokenScope.WRITE, TokenScope.DELETE, TokenScope.ADMIN]


def repo(owner_name: str, name: str, *, private: bool, state=Repository.State.ACTIVE):
    namespace = Namespace.objects.get(name=owner_name)
    return Repository.objects.create(
        namespace=namespace, name=name, is_private=private, state=state
    )


def permissions(principal: Principal, repository: Repository) -> set[str]:
    return {str(p) for p in repository_permissions(principal, repository)}


@pytest.fixture
def public(alice):
    return repo("alice", "app", private=False)


@pytest.fixture
def private(alice):
    return repo("alice", "secret", private=True)


@pytest.fixture
def staff(db):
    return UserFactory(username="root-admin", is_staff=True)


# The owner of a user namespace, through each kind of token.
OWNER_BY_SCOPE = [
    (None, EVERYTHING),
    (TokenScope.READ, PULL),
    (TokenScope.WRITE, PULL_PUSH),
    (TokenScope.DELETE, WRITE),
    (TokenScope.ADMIN, EVERYTHING),
]


@pytest.mark.parametrize("is_private", [False, True], ids=["public", "private"])
@pytest.mark.parametrize(("scope", "expected"), OWNER_BY_SCOPE)
def test_owner_by_token_scope(alice, is_private, scope, expected):
    repository = repo("alice", "app", private=is_private)
    assert permissions(Principal(user=alice, scope=scope), repository) == expected


@pytest.mark.parametrize("scope", SCOPES)
def test_outsider_pulls_public_and_gets_nothing_on_private(charlie, public, private, scope):
    outsider = Principal(user=charlie, scope=scope)
    assert permissions(outsider, public) == PULL
    assert permissions(outsider, private) == NOTHING


# Role (what bob is to the repository: collaborator, team read/write/admin, org owner) ×
# token scope, each role given for real: a team of acme with a level on acme/shared, acme's
# owners team, or a collaborator on alice/shared.
ROLE_BY_SCOPE = [
    (Role.READ, None, PULL),
    (Role.READ, TokenScope.READ, PULL),
    (Role.READ, TokenScope.WRITE, PULL),
    (Role.READ, TokenScope.DELETE, PULL),
    (Role.READ, TokenScope.ADMIN, PULL),
    (Role.COLLABORATOR, None, PULL_PUSH),
    (Role.COLLABORATOR, TokenScope.READ, PULL),
    (Role.COLLABORATOR, TokenScope.WRITE, PULL_PUSH),
    (Role.COLLABORATOR, TokenScope.DELETE, PULL_PUSH),
    (Role.COLLABORATOR, TokenScope.ADMIN, PULL_PUSH),
    (Role.WRITE, None, WRITE),
    (Role.WRITE, TokenScope.READ, PULL),
    (Role.WRITE, TokenScope.WRITE, PULL_PUSH),
    (Role.WRITE, TokenScope.DELETE, WRITE),
    (Role.WRITE, TokenScope.ADMIN, WRITE),
    (Role.ADMIN, None, EVERYTHING),
    (Role.ADMIN, TokenScope.READ, PULL),
    (Role.ADMIN, TokenScope.WRITE, PULL_PUSH),
    (Role.ADMIN, TokenScope.DELETE, WRITE),
    (Role.ADMIN, TokenScope.ADMIN, EVERYTHING),
    (Role.OWNER, None, EVERYTHING),
    (Role.OWNER, TokenScope.READ, PULL),
    (Role.OWNER, TokenScope.WRITE, PULL_PUSH),
    (Role.OWNER, TokenScope.DELETE, WRITE),
    (Role.OWNER, TokenScope.ADMIN, EVERYTHING),
]


def give_role(role: Role, user, alice, *, private: bool) -> Repository:
    """A repository on which `user` holds `role`, given the way the product gives it."""
    if role is Role.COLLABORATOR:
        repository = repo("alice", "shared", private=private)
        Collaborator.objects.create(repository=repository, user=user)
        return repository
    acme = Organization.create("acme", alice)
    repository = repo("acme", "shared", private=private)
    if role is Role.OWNER:
        team = acme.owners_team
    else:
        team = Team.objects.create(organization=acme, name="devs")
        TeamPermission.objects.create(team=team, repository=repository, level=role.value)
    TeamMembership.objects.create(team=team, user=user)
    return repository


@pytest.mark.parametrize("is_private", [False, True], ids=["public", "private"])
@pytest.mark.parametrize(("role", "scope", "expected"), ROLE_BY_SCOPE)
def test_role_by_token_scope(alice, bob, is_private, role, scope, expected):
    repository = give_role(role, bob, alice, private=is_private)
    assert access.repository_role(Principal(user=bob), repository) is role
    assert permissions(Principal(user=bob, scope=scope), repository) == expected


@pytest.fixture
def acme(alice):
    return Organization.create("acme", alice)


def test_the_highest_of_several_teams_wins(acme, bob):
    shared = repo("acme", "shared", private=True)
    for name, level in [("readers", "read"), ("writers", "write")]:
        team = Team.objects.create(organization=acme, name=name)
        TeamPermission.objects.create(team=team, repository=shared, level=level)
        TeamMembership.objects.create(team=team, user=bob)
    assert access.repository_role(Principal(user=bob), shared) is Role.WRITE
    assert permissions(Principal(user=bob), shared) == WRITE


def test_a_team_level_is_for_its_repository_only(acme, bob):
    granted = repo("acme", "granted", private=True)
    other = repo("acme", "other", private=True)
    open_one = repo("acme", "open", private=False)
    team = Team.objects.create(organization=acme, name="devs")
    TeamPermission.objects.create(team=team, repository=granted, level="admin")
    TeamMembership.objects.create(team=team, user=bob)
    assert permissions(Principal(user=bob), granted) == EVERYTHING
    assert permissions(Principal(user=bob), other) == NOTHING
    assert permissions(Principal(user=bob), open_one) == PULL


def test_leaving_a_team_or_losing_its_grant_ends_the_access(acme, bob):
    shared = repo("acme", "shared", private=True)
    team = Team.objects.create(organization=acme, name="devs")
    grant = TeamPermission.objects.create(team=team, repository=shared, level="write")
    membership = TeamMembership.objects.create(team=team, user=bob)
    assert permissions(Principal(user=bob), shared) == WRITE
    membership.delete()
    assert permissions(Principal(user=bob), shared) == NOTHING
    TeamMembership.objects.create(team=team, user=bob)
    grant.delete()
    assert permissions(Principal(user=bob), shared) == NOTHING


def test_a_collaborator_is_only_for_user_repositories(acme, alice, bob):
    """Organizations give access through teams; a collaborator row on one of their
    repositories gives nothing."""
    org_repo = repo("acme", "shared", private=True)
    Collaborator.objects.create(repository=org_repo, user=bob)
    assert permissions(Principal(user=bob), org_repo) == NOTHING
    own = repo("alice", "mine", private=True)
    Collaborator.objects.create(repository=own, user=bob)
    assert permissions(Principal(user=bob), own) == PULL_PUSH
    assert permissions(Principal(user=bob), repo("alice", "other", private=True)) == NOTHING


def test_an_inactive_member_is_treated_as_anonymous(acme, bob):
    shared = repo("acme", "shared", private=True)
    TeamMembership.objects.create(team=acme.owners_team, user=bob)
    bob.is_active = False
    bob.save()
    assert permissions(Principal(user=bob), shared) == NOTHING


def test_create_in_an_organization(acme, alice, bob, charlie):
    """Owners create; members of any team too when the organization allows it; outsiders
    never; and a token that cannot push creates nothing."""
    namespace = acme.namespace
    team = Team.objects.create(organization=acme, name="devs")
    TeamMembership.objects.create(team=team, user=bob)
    assert can_create_in(Principal(user=alice), namespace)
    assert not can_create_in(Principal(user=alice, scope=TokenScope.READ), namespace)
    assert not can_create_in(Principal(user=bob), namespace)
    acme.members_can_create_repositories = True
    acme.save()
    assert can_create_in(Principal(user=bob), namespace)
    assert can_create_in(Principal(user=bob, scope=TokenScope.WRITE), namespace)
    assert not can_create_in(Principal(user=bob, scope=TokenScope.READ), namespace)
    assert not can_create_in(Principal(user=charlie), namespace)
    assert not can_create_in(ANONYMOUS, namespace)


def test_managing_an_organization_is_for_owners_and_staff_with_a_full_token(
    acme, alice, bob, staff
):
    team = Team.objects.create(organization=acme, name="admins")
    TeamPermission.objects.create(
        team=team, repository=repo("acme", "shared", private=False), level="admin"
    )
    TeamMembership.objects.create(team=team, user=bob)
    assert can_manage_organization(Principal(user=alice), acme)
    assert can_manage_organization(Principal(user=alice, scope=TokenScope.ADMIN), acme)
    for scope in (TokenScope.READ, TokenScope.WRITE, TokenScope.DELETE):
        assert not can_manage_organization(Principal(user=alice, scope=scope), acme)
    assert can_manage_organization(Principal(user=staff), acme)
    assert not can_manage_organization(Principal(user=bob), acme)
    assert not can_manage_organization(ANONYMOUS, acme)


def test_anonymous(public, private):
    assert ANONYMOUS.is_anonymous
    assert ANONYMOUS.name == ""
    assert permissions(ANONYMOUS, public) == PULL
    assert permissions(ANONYMOUS, private) == NOTHING


@pytest.mark.parametrize(("scope", "expected"), OWNER_BY_SCOPE)
def test_staff_may_do_everything_everywhere_within_their_token_scope(
    staff, public, private, scope, expected
):
    for repository in (public, private):
        assert permissions(Principal(user=staff, scope=scope), repository) == expected


def test_inactive_user_is_treated_as_anonymous(alice, staff, public, private):
    alice.is_active = False
    alice.save()
    staff.is_active = False
    staff.save()
    for user in (alice, staff):
        assert permissions(Principal(user=user), public) == PULL
        assert permissions(Principal(user=user), private) == NOTHING


def test_build_robot_pushes_and_pulls_its_own_repository_only(alice, bob, private, public):
    robot = Principal(robot_repository_id=private.pk)
    assert not robot.is_anonymous
    assert permissions(robot, private) == PULL_PUSH
    assert permissions(robot, repo("alice", "other-secret", private=True)) == NOTHING
    assert permissions(robot, repo("bob", "hidden", private=True)) == NOTHING
    assert permissions(robot, public) == PULL
    assert permissions(robot, repo("bob", "tool", private=False)) == PULL


def test_a_build_robot_for_a_user_pulls_what_the_user_may_pull_and_pushes_one_repository(
    alice, bob, private, public
):
    robot = Principal(user=alice, robot_repository_id=public.pk)
    other_private = repo("alice", "base", private=True)
    assert permissions(robot, public) == PULL_PUSH
    assert permissions(robot, other_private) == PULL  # alice owns it: a private base image
    assert permissions(robot, private) == PULL
    assert permissions(robot, repo("bob", "hidden", private=True)) == NOTHING
    assert set(pullable_repositories(robot, Repository.objects.all())) == {
        public,
        private,
        other_private,
    }
    assert not can_create_in(robot, Namespace.objects.get(name="alice"))
    lone_robot = Principal(robot_repository_id=private.pk)
    assert set(pullable_repositories(lone_robot, Repository.objects.all())) == {
        public,
        private,
    }


@pytest.mark.parametrize("is_private", [False, True], ids=["public", "private"])
def test_a_repository_being_deleted_gives_nothing_to_anyone(alice, staff, is_private):
    deleting = repo("alice", "gone", private=is_private, state=Repository.State.DELETING)
    principals = [
        ANONYMOUS,
        Principal(user=alice),
        Principal(user=alice, scope=TokenScope.ADMIN),
        Principal(user=staff),
        Principal(robot_repository_id=deleting.pk),
    ]
    for principal in principals:
        assert permissions(principal, deleting) == NOTHING


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, True),
        (TokenScope.READ, False),
        (TokenScope.WRITE, True),
        (TokenScope.DELETE, True),
        (TokenScope.ADMIN, True),
    ],
)
def test_create_in_own_namespace_needs_a_pushing_scope(alice, scope, expected):
    namespace = Namespace.objects.get(name="alice")
    assert can_create_in(Principal(user=alice, scope=scope), namespace) is expected


@pytest.mark.parametrize("scope", SCOPES)
def test_nobody_creates_in_another_users_namespace(alice, bob, scope):
    assert not can_create_in(Principal(user=alice, scope=scope), Namespace.objects.get(name="bob"))


def test_create_by_anonymous_inactive_robot_staff_and_in_an_organization(alice, bob, staff):
    bobs = Namespace.objects.get(name="bob")
    org = Namespace.objects.create(name="acme", kind=Namespace.Kind.ORG)
    robot_home = repo("bob", "built", private=False)
    assert not can_create_in(ANONYMOUS, bobs)
    assert not can_create_in(Principal(robot_repository_id=robot_home.pk), bobs)
    assert not can_create_in(Principal(user=alice), org)
    assert can_create_in(Principal(user=staff), bobs)
    assert not can_create_in(Principal(user=staff, scope=TokenScope.READ), bobs)
    bob.is_active = False
    bob.save()
    assert not can_create_in(Principal(user=bob), bobs)


@pytest.mark.parametrize("permission", list(Permission))
def test_private_repository_is_404_to_outsiders_whatever_is_asked(charlie, private, permission):
    for principal in (ANONYMOUS, Principal(user=charlie)):
        with pytest.raises(Http404) as raised:
            get_repository_or_404(principal, "alice", "secret", permission)
        assert "secret" not in str(raised.value)


def test_missing_permission_on_a_visible_repository_is_403(alice, charlie, public, private):
    assert get_repository_or_404(Principal(user=charlie), "alice", "app") == public
    with pytest.raises(PermissionDenied, match="push"):
        get_repository_or_404(Principal(user=charlie), "alice", "app", Permission.PUSH)
    read_token = Principal(user=alice, scope=TokenScope.READ)
    assert get_repository_or_404(read_token, "alice", "secret") == private
    with pytest.raises(PermissionDenied, match="admin"):
        get_repository_or_404(read_token, "alice", "secret", Permission.ADMIN)
    owner = Principal(user=alice)
    assert get_repository_or_404(owner, "alice", "secret", Permission.ADMIN) == private


def test_missing_or_deleting_repository_is_404_even_to_the_owner(alice, staff):
    repo("alice", "gone", private=False, state=Repository.State.DELETING)
    for principal in (Principal(user=alice), Principal(user=staff)):
        with pytest.raises(Http404):
            get_repository_or_404(principal, "alice", "gone")
        with pytest.raises(Http404):
            get_repository_or_404(principal, "alice", "never-was")


def test_a_new_repository_after_a_deleting_one_is_the_one_found(alice):
    repo("alice", "app", private=True, state=Repository.State.DELETING)
    fresh = repo("alice", "app", private=False)
    assert get_repository_or_404(ANONYMOUS, "alice", "app") == fresh
