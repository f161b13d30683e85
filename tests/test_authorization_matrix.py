"""Who may do what (DESIGN §6): one table, written once, asserted whole on every surface that
answers for it.

The table says, for each action and each principal, whether it is allowed: `yes` on public and
private repositories alike, `public` on public repositories only, `-` never. What each surface
must answer follows from the table and one rule: a principal who may not view a private
repository gets 404 for everything on it (never 403, which would say it exists); one who may
view it but not act gets 403. The organization itself is never secret: org actions are 403.

Each surface turns a cell into what it answers (`allowed`, 403, 404; the registry's token
service can only leave an action out of the token, so there 403 and 404 are both `denied`).
A surface answers for the actions it has; every surface must answer for at least one, and the
comparison is of the whole table at once, so a failure lists every cell that differs.

The principals, each a separate person so that nothing one has leaks into another's column:
  anonymous      nobody signed in
  charlie        an outsider, signed in
  member         bob-member: in a team of acme that has no permission on the repository
  team-read      bob-read: in a team with `read` on the repository
  team-write     bob-write: in a team with `write`
  team-admin     bob-admin: in a team with `admin`
  collaborator   carol: a collaborator on alice's own repository (user namespaces have no
                 teams, so her column is about alice/tool-*; her org actions are about acme)
  alice          the owner: of her namespace, and in acme's owners team
  staff          root, a staff user who is in no team
  read-token     alice through a `repo:read` personal access token
Every principal but the collaborator acts on acme/app-public and acme/app-private.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import resolve_url
from django.test import Client

from accounts.models import AccessToken, Namespace, TokenScope, User
from builds.models import Build
from orgs.models import Collaborator, Organization, Team, TeamMembership, TeamPermission
from repos.access import (
    Permission,
    Principal,
    can_create_in,
    can_manage_organization,
    get_repository_or_404,
)
from repos.models import Repository
from tests.factories import PASSWORD, BuildFactory, UserFactory
from tests.registry.test_token import basic, decode

pytestmark = pytest.mark.django_db

MATRIX = """
action              anonymous  charlie  member  team-read  team-write  team-admin  collaborator  alice  staff  read-token
view                public     public   public  yes        yes         yes         yes           yes    yes    yes
pull                public     public   public  yes        yes         yes         yes           yes    yes    yes
push                -          -        -       -          yes         yes         yes           yes    yes    -
delete-tag          -          -        -       -          yes         yes         -             yes    yes    -
edit-description    -          -        -       -          -           yes         -             yes    yes    -
change-visibility   -          -        -       -          -           yes         -             yes    yes    -
manage-permissions  -          -        -       -          -           yes         -             yes    yes    -
delete-repository   -          -        -       -          -           yes         -             yes    yes    -
cancel-build        -          -        -       -          yes         yes         yes           yes    yes    -
configure-builds    -          -        -       -          -           yes         -             yes    yes    -
see-teams           -          -        yes     yes        yes         yes         -             yes    yes    yes
create-in-org       -          -        -       -          -           -           -             yes    yes    -
manage-teams        -          -        -       -          -           -           -             yes    yes    -
"""  # noqa: E501

VISIBILITIES = ("public", "private")
ALLOWED, FORBIDDEN, HIDDEN, DENIED, SIGN_IN = "allowed", 403, 404, "denied", "sign in"
# What each repository action needs from repos.access.
REPOSITORY_ACTIONS = {
    "view": Permission.PULL,
    "pull": Permission.PULL,
    "push": Permission.PUSH,
    "delete-tag": Permission.DELETE,
    "edit-description": Permission.ADMIN,
    "change-visibility": Permission.ADMIN,
    "manage-permissions": Permission.ADMIN,
    "delete-repository": Permission.ADMIN,
    "cancel-build": Permission.PUSH,
    "configure-builds": Permission.ADMIN,
}
ORGANIZATION_ACTIONS = ("see-teams", "create-in-org", "manage-teams")


def parse(matrix: str) -> tuple[tuple[str, ...], dict[str, dict[str, str]]]:
    header, *rows = (line.split() for line in matrix.strip().splitlines())
    principals = tuple(header[1:])
    table = {}
    for action, *cells in rows:
        assert len(cells) == len(principals), f"row {action} has {len(cells)} cells"
        assert set(cells) <= {"yes", "public", "-"}, f"row {action}: {cells}"
        table[action] = dict(zip(principals, cells, strict=True))
    return principals, table


PRINCIPALS, TABLE = parse(MATRIX)
ACTIONS = tuple(TABLE)
assert set(ACTIONS) == set(REPOSITORY_ACTIONS) | set(ORGANIZATION_ACTIONS)


def is_allowed(principal: str, action: str, visibility: str) -> bool:
    cell = TABLE[action][principal]
    return cell == "yes" or (cell == "public" and visibility == "public")


def expected_answer(principal: str, action: str, visibility: str) -> object:
    if is_allowed(principal, action, visibility):
        return ALLOWED
    if action in REPOSITORY_ACTIONS and not is_allowed(principal, "view", visibility):
        return HIDDEN
    if action in ORGANIZATION_ACTIONS and not is_allowed(principal, "see-teams", visibility):
        return HIDDEN
    return FORBIDDEN


# The world the table is about


@dataclass
class Who:
    key: str
    user: User | None
    secret: str = ""  # the password, or the access token for read-token
    scope: TokenScope | None = None
    namespace: str = "acme"  # where the repository this principal acts on lives

    @property
    def principal(self) -> Principal:
        return Principal(user=self.user, scope=self.scope)

    def repository(self, visibility: str) -> tuple[str, str]:
        name = "app" if self.namespace == "acme" else "tool"
        return self.namespace, f"{name}-{visibility}"


@dataclass
class World:
    organization: Organization
    people: dict[str, Who]
    # Answers of surfaces that give several cells at once, kept for the test's duration.
    answers: dict = field(default_factory=dict)


@pytest.fixture
def world(db) -> World:
    alice = UserFactory(username="alice")
    acme = Organization.create("acme", alice, full_name="Acme Corporation")
    apps = [
        Repository.objects.create(
            namespace=acme.namespace, name=f"app-{visibility}", is_private=visibility == "private"
        )
        for visibility in VISIBILITIES
    ]
    people = {
        "anonymous": Who("anonymous", None),
        "charlie": Who("charlie", UserFactory(username="charlie"), PASSWORD),
        "alice": Who("alice", alice, PASSWORD),
        "staff": Who("staff", UserFactory(username="root", is_staff=True), PASSWORD),
    }
    for level in ("member", "read", "write", "admin"):
        user = UserFactory(username=f"bob-{level}")
        team = Team.objects.create(organization=acme, name=f"{level}s")
        TeamMembership.objects.create(team=team, user=user)
        if level != "member":
            for app in apps:
                TeamPermission.objects.create(team=team, repository=app, level=level)
        key = "member" if level == "member" else f"team-{level}"
        people[key] = Who(key, user, PASSWORD)
    carol = UserFactory(username="carol")
    for visibility in VISIBILITIES:
        tool = Repository.objects.create(
            namespace=Namespace.objects.get(name="alice"),
            name=f"tool-{visibility}",
            is_private=visibility == "private",
        )
        Collaborator.objects.create(repository=tool, user=carol)
    people["collaborator"] = Who("collaborator", carol, PASSWORD, namespace="alice")
    _, token = AccessToken.issue(alice, "ci", TokenScope.READ)
    people["read-token"] = Who("read-token", alice, token, scope=TokenScope.READ)
    assert set(people) == set(PRINCIPALS)
    return World(acme, people)


# Surfaces: each answers (world, who, action, visibility) with ALLOWED, 403, 404, DENIED or
# SIGN_IN, or None for an action it has nothing to do with.


def access_rules(world: World, who: Who, action: str, visibility: str) -> object:
    """repos.access, which every other surface asks. Its organization answers are yes or no."""
    principal = who.principal
    if action in REPOSITORY_ACTIONS:
        namespace, name = who.repository(visibility)
        try:
            get_repository_or_404(principal, namespace, name, REPOSITORY_ACTIONS[action])
        except Http404:
            return HIDDEN
        except PermissionDenied:
            return FORBIDDEN
        return ALLOWED
    if action == "create-in-org":
        allowed = can_create_in(principal, world.organization.namespace)
    elif action == "manage-teams":
        allowed = can_manage_organization(principal, world.organization)
    else:
        return None
    return ALLOWED if allowed else DENIED


NEW_REPOSITORY = "acme/brand-new"
TOKEN_ACTIONS = {"pull": "pull", "push": "push", "delete-tag": "delete"}


def token_grant(world: World, who: Who, action: str, visibility: str) -> object:
    """GET /token with basic auth, as the registry's clients ask: pull, push and delete on the
    repository, and push on a repository of acme that does not exist yet (creating it)."""
    if action not in TOKEN_ACTIONS and action != "create-in-org":
        return None
    key = ("token", who.key, visibility)
    if key not in world.answers:
        namespace, name = who.repository(visibility)
        scopes = [
            f"repository:{namespace}/{name}:pull,push,delete",
            f"repository:{NEW_REPOSITORY}:push",
        ]
        headers = {"HTTP_AUTHORIZATION": basic(who.user.username, who.secret)} if who.user else {}
        response = Client().get(
            "/token", {"service": settings.REGISTRY_SERVICE, "scope": scopes}, **headers
        )
        assert response.status_code == 200, response.content
        claims = decode(response.json()["token"])
        assert claims["sub"] == (who.user.username if who.user else "")
        world.answers[key] = {entry["name"]: set(entry["actions"]) for entry in claims["access"]}
    granted = world.answers[key]
    if action == "create-in-org":
        allowed = "push" in granted.get(NEW_REPOSITORY, set())
    else:
        allowed = TOKEN_ACTIONS[action] in granted.get("/".join(who.repository(visibility)), set())
    return ALLOWED if allowed else DENIED


def web_answer(response, success: int) -> object:
    if response.status_code == 302 and response["Location"].startswith(
        resolve_url(settings.LOGIN_URL)
    ):
        return SIGN_IN
    if response.status_code == success:
        return ALLOWED
    return response.status_code


def web_pages(world: World, who: Who, action: str, visibility: str) -> object:
    """The pages, signed in (a session carries no token scope: read-token has no column here).
    An owner creating a team is sent to its page."""
    if who.scope is not None:
        return None
    client = Client()
    if who.user:
        client.force_login(who.user)
    if action == "manage-permissions":
        namespace, name = who.repository(visibility)
        return web_answer(client.get(f"/r/{namespace}/{name}/settings/permissions/"), 200)
    if action == "cancel-build":
        namespace, name = who.repository(visibility)
        build = BuildFactory(
            repository=Repository.objects.get(namespace__name=namespace, name=name)
        )
        answer = web_answer(client.post(f"/r/{namespace}/{name}/builds/{build.pk}/cancel/"), 302)
        build.refresh_from_db()
        assert (build.status == Build.Status.CANCELLED) is (answer == ALLOWED), who.key
        return answer
    if action == "configure-builds":
        namespace, name = who.repository(visibility)
        return web_answer(client.get(f"/r/{namespace}/{name}/builds/source/"), 200)
    if action == "see-teams":
        return web_answer(client.get("/orgs/acme/teams/"), 200)
    if action == "manage-teams":
        team = f"web-{who.key}-{visibility}"
        response = client.post("/orgs/acme/teams/", {"name": team, "description": "made"})
        answer = web_answer(response, 302)
        if answer == ALLOWED:
            assert response["Location"] == f"/orgs/acme/teams/{team}/"
        created = Team.objects.filter(organization=world.organization, name=team).exists()
        assert created is (answer == ALLOWED), (who.key, response.status_code)
        return answer
    return None


def hub_api(world: World, who: Who, action: str, visibility: str) -> object:
    """The Hub API with HTTP Basic: a password, or the access token for read-token."""
    headers = {"HTTP_AUTHORIZATION": basic(who.user.username, who.secret)} if who.user else {}
    client = Client(**headers)

    def answer(response, success: int, hides: str = "") -> object:
        if response.status_code == success:
            return ALLOWED
        if response.status_code == 401:
            return SIGN_IN
        assert response.status_code in (403, 404), (response.status_code, response.content)
        body = response.json()
        assert body["detail"] and body["message"], body  # Docker Hub's error shape
        if response.status_code == 404 and hides:
            assert hides not in body["detail"], body  # never names what it hides
        return response.status_code

    if action == "manage-permissions":
        namespace, name = who.repository(visibility)
        return answer(client.get(f"/v2/repositories/{namespace}/{name}/groups"), 200, name)
    if action == "see-teams":
        response = client.get("/v2/orgs/acme/groups")
        result = answer(response, 200)
        if result == ALLOWED:
            assert {"count", "next", "previous", "results"} <= set(response.json())
        return result
    if action == "manage-teams":
        team = f"api-{who.key}-{visibility}"
        response = client.post(
            "/v2/orgs/acme/groups", {"name": team}, content_type="application/json"
        )
        result = answer(response, 201)
        created = Team.objects.filter(organization=world.organization, name=team).exists()
        assert created is (result == ALLOWED), (who.key, response.status_code)
        return result
    return None


SURFACES: dict[str, Callable[[World, Who, str, str], object]] = {
    "repos.access": access_rules,
    "token grants": token_grant,
    "web pages": web_pages,
    "hub api": hub_api,
}


def as_seen_by(surface: str, who: str, action: str, answer: object) -> object:
    """What a surface can say of a cell the table decides.

    The registry cannot tell 403 from 404: it only grants or leaves out. repos.access answers
    organization questions with yes or no. Every page but the public ones asks anonymous
    visitors to sign in first; the Hub API's organization endpoints answer them 401."""
    if answer == ALLOWED:
        return answer
    if surface == "token grants":
        return DENIED
    if surface == "repos.access" and action in ORGANIZATION_ACTIONS:
        return DENIED
    if who == "anonymous" and (
        surface == "web pages" or (surface == "hub api" and action in ORGANIZATION_ACTIONS)
    ):
        return SIGN_IN
    return answer


@pytest.mark.parametrize("surface", SURFACES)
def test_the_matrix_holds_on(surface, world):
    answer = SURFACES[surface]
    expected, actual = {}, {}
    for visibility in VISIBILITIES:
        for action in ACTIONS:
            for key in PRINCIPALS:
                got = answer(world, world.people[key], action, visibility)
                if got is None:
                    continue
                cell = (visibility, action, key)
                actual[cell] = got
                expected[cell] = as_seen_by(
                    surface, key, action, expected_answer(key, action, visibility)
                )
    assert actual, f"{surface} answers for no action"
    wrong = [
        f"{visibility:7} {action:18} {key:12} expected {expected[cell]}, got {actual[cell]}"
        for cell in actual
        for visibility, action, key in [cell]
        if actual[cell] != expected[cell]
    ]
    assert not wrong, f"{surface}: {len(wrong)} of {len(actual)} cells differ:\n" + "\n".join(wrong)


def test_the_table_keeps_private_things_hidden():
    """The rule the surfaces are held to, checked on the table itself: whoever may not view a
    private repository can do nothing to it, and everyone may view a public one; whoever is
    not in the organization may not see its teams or do anything to them."""
    for key in PRINCIPALS:
        for action in REPOSITORY_ACTIONS:
            if not is_allowed(key, "view", "private"):
                assert expected_answer(key, action, "private") == HIDDEN
            assert expected_answer(key, action, "public") != HIDDEN
        if not is_allowed(key, "see-teams", "public"):
            for action in ORGANIZATION_ACTIONS:
                assert expected_answer(key, action, "public") == HIDDEN
