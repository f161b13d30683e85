"""/v1/_ping, /v1/search and the Hub API's /v2/search/repositories/, in process.

alice owns alice/webapp (public, starred twice, pulled 10 times), alice/secretapp (private)
and the organization acme: acme/app is private and bob's `readers` team may read it, acme/apphidden
is private to alice, acme/site is public. library/app is the official image, charlie/app is
charlie's public one. Ranking is repos.search's (tests/repos/test_search.py); these tests are
about the shapes of the answers, who sees what, and how credentials are taken.
"""

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import AccessToken, Namespace, TokenScope
from orgs.models import Organization, Team, TeamMembership, TeamPermission
from registry.tokens import issue_token
from repos.models import Repository, Star
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PUBLIC = {"library/app", "alice/webapp", "charlie/app"}
FOR_BOB = PUBLIC | {"acme/app"}
FOR_ALICE = FOR_BOB | {"alice/secretapp", "acme/apphidden"}


def repository(full_name: str, *, private: bool = False, **fields) -> Repository:
    namespace, name = full_name.split("/", 1)
    return Repository.objects.create(
        namespace=Namespace.objects.get(name=namespace), name=name, is_private=private, **fields
    )


@pytest.fixture
def repositories(alice, bob, charlie) -> None:
    Namespace.objects.create(name="library", kind=Namespace.Kind.ORG)
    repository("library/app", description="The official app")
    webapp = repository("alice/webapp", description="A web app", pull_count=10)
    Star.objects.create(repository=webapp, user=bob)
    Star.objects.create(repository=webapp, user=charlie)
    repository("alice/secretapp", private=True, description="Alice's secret app")
    repository("charlie/app", description="Charlie's app")
    acme = Organization.create("acme", alice)
    readers = Team.objects.create(organization=acme, name="readers")
    TeamMembership.objects.create(team=readers, user=bob)
    app = repository("acme/app", private=True, description="acme's private app")
    TeamPermission.objects.create(team=readers, repository=app, level="read")
    repository("acme/apphidden", private=True)
    repository("acme/site")


def client(authorization: str | None = None) -> APIClient:
    api = APIClient()
    if authorization:
        api.credentials(HTTP_AUTHORIZATION=authorization)
    return api


def basic(login: str, secret: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()


def hub_token(username: str) -> str:
    login = client().post(
        "/v2/users/login", {"username": username, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200, login.content
    return f"Bearer {login.json()['token']}"


def registry_token(username: str) -> str:
    """The token docker gets from /token for its search scope (it is granted nothing)."""
    answer = client(basic(username)).get(
        "/token", {"service": settings.REGISTRY_SERVICE, "scope": "registry:catalog:search"}
    )
    assert answer.status_code == 200, answer.content
    return f"Bearer {answer.json()['token']}"


def access_token(user, scope: TokenScope = TokenScope.READ) -> str:
    _, secret = AccessToken.issue(user, "search", scope)
    return basic(user.username, secret)


def v1_search(authorization: str | None = None, **params: str | int) -> dict:
    response = client(authorization).get("/v1/search", params)
    assert response.status_code == 200, response.content
    return response.json()


def names(answer: dict, field: str = "name") -> set[str]:
    return {hit[field] for hit in answer["results"]}


def assert_error(response, status: int, text: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert text in body["detail"], body
    assert body["message"] == body["detail"]


# /v1/_ping


@pytest.mark.parametrize("authorization", [None, "Basic bm9ib2R5Ondyb25n", "Bearer nonsense"])
def test_ping_answers_as_the_old_index_did(db, authorization):
    response = client(authorization).get("/v1/_ping")
    assert response.status_code == 200
    assert response.content == b"true"
    assert response["X-Docker-Registry-Version"] == "0.6.0"
    assert response["X-Docker-Registry-Standalone"] == "True"


# /v1/search: shape and paging


def test_v1_search_answers_in_the_old_index_shape(repositories):
    answer = v1_search(q="webapp")
    assert answer == {
        "num_results": 1,
        "num_pages": 1,
        "page": 1,
        "page_size": 25,
        "query": "webapp",
        "results": [
            {
                "name": "alice/webapp",
                "description": "A web app",
                "star_count": 2,
                "is_official": False,
                "is_automated": False,
            }
        ],
    }


def test_v1_search_names_official_images_in_library(repositories):
    answer = v1_search(q="app")
    official = [hit for hit in answer["results"] if hit["is_official"]]
    assert official == [
        {
            "name": "library/app",
            "description": "The official app",
            "star_count": 0,
            "is_official": True,
            "is_automated": False,
        }
    ]
    assert answer["results"][0]["name"] == "library/app"


def test_v1_search_pages_with_n_and_page(repositories):
    pages = [v1_search(q="app", n=2, page=page) for page in (1, 2, 3)]
    assert [len(page["results"]) for page in pages] == [2, 1, 0]
    assert {(p["num_results"], p["num_pages"], p["page_size"]) for p in pages} == {(3, 2, 2)}
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert set().union(*(names(page) for page in pages)) == PUBLIC


def test_v1_search_finds_nothing_politely(repositories):
    answer = v1_search(q="zzzzzz")
    assert (answer["num_results"], answer["num_pages"], answer["results"]) == (0, 0, [])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Give a search term in q."),
        ({"q": "  "}, "Give a search term in q."),
        ({"q": "a" * 256}, "q: Ensure this field has no more than 255 characters."),
        ({"q": "app", "n": 0}, "n: Ensure this value is greater than or equal to 1."),
        ({"q": "app", "n": 101}, "n: Ensure this value is less than or equal to 100."),
        ({"q": "app", "n": "ten"}, "n: A valid integer is required."),
        ({"q": "app", "page": 0}, "page: Ensure this value is greater than or equal to 1."),
        ({"q": "app", "page": "last"}, "page: A valid integer is required."),
    ],
)
def test_v1_search_refuses_bad_parameters_saying_why(repositories, params, message):
    assert_error(client().get("/v1/search", params), 400, message)


# /v1/search: who sees what


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", PUBLIC), ("charlie", PUBLIC), ("bob", FOR_BOB), ("alice", FOR_ALICE)],
)
def test_v1_search_shows_private_hits_only_to_those_who_may_pull_them(repositories, who, expected):
    authorization = None if who == "anonymous" else basic(who)
    answer = v1_search(authorization, q="app")
    assert names(answer) == expected
    assert answer["num_results"] == len(expected)


@pytest.mark.parametrize(
    "credentials",
    ["password", "email", "access token", "hub token", "registry token", "registry token (bare)"],
)
def test_v1_search_takes_every_kind_of_credentials(repositories, bob, credentials):
    authorization = {
        "password": lambda: basic("bob"),
        "email": lambda: basic(bob.email),
        "access token": lambda: access_token(bob),
        "hub token": lambda: hub_token("bob"),
        "registry token": lambda: registry_token("bob"),
        "registry token (bare)": lambda: f"Bearer {issue_token('bob', [])['token']}",
    }[credentials]()
    assert names(v1_search(authorization, q="app")) == FOR_BOB


def test_an_anonymous_registry_token_searches_as_anonymous(repositories):
    anonymous = client().get("/token", {"service": settings.REGISTRY_SERVICE})
    assert anonymous.status_code == 200
    assert names(v1_search(f"Bearer {anonymous.json()['token']}", q="app")) == PUBLIC


def foreign_token(**claims) -> str:
    """A registry-shaped token with these claims, signed by a key that is not the hub's."""
    now = int(time.time())
    payload = {
        "iss": settings.REGISTRY_TOKEN_ISSUER,
        "aud": settings.REGISTRY_SERVICE,
        "sub": "alice",
        "exp": now + 60,
        "access": [],
        **claims,
    }
    return jwt.encode(payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")


def forged(token: str, **claims) -> str:
    """A registry token of the hub's key with these claims changed, re-signed by the hub."""
    from registry.keys import signing_key

    payload = jwt.decode(token, options={"verify_signature": False}) | claims
    private_key, kid = signing_key()
    return jwt.encode(payload, private_key, algorithm="ES256", headers={"kid": kid})


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (lambda: basic("alice", "not-her-password"), "Incorrect username or password."),
        (lambda: basic("nobody"), "Incorrect username or password."),
        (lambda: "Bearer not-a-token", "The token is not valid."),
        (lambda: f"Bearer {foreign_token()}", "The registry token is not valid."),
        (
            lambda: (
                f"Bearer {forged(issue_token('alice', [])['token'], exp=int(time.time()) - 120)}"
            ),
            "The registry token has expired; log in again.",
        ),
        (
            lambda: f"Bearer {forged(issue_token('alice', [])['token'], aud='elsewhere')}",
            "The registry token is not valid.",
        ),
        (
            lambda: f"Bearer {issue_token('mallory', [])['token']}",
            "The registry token's user no longer exists.",
        ),
    ],
    ids=["wrong password", "no such user", "garbage", "other key", "expired", "audience", "gone"],
)
def test_v1_search_refuses_bad_credentials_with_401(repositories, authorization, message):
    response = client(authorization()).get("/v1/search", {"q": "app"})
    assert_error(response, 401, message)
    assert response["WWW-Authenticate"] == f'Basic realm="{settings.HUB_NAME}"'


def test_a_registry_token_of_a_deactivated_user_is_refused(repositories, bob):
    token = issue_token("bob", [])["token"]
    bob.is_active = False
    bob.save()
    assert_error(
        client(f"Bearer {token}").get("/v1/search", {"q": "app"}),
        401,
        "The registry token's user no longer exists.",
    )


def test_changes_show_in_v1_search_at_once(repositories):
    Repository.objects.filter(name="secretapp").update(is_private=False)
    Repository.objects.filter(name="webapp").update(description="Renamed thing")
    answer = v1_search(q="app")
    assert "alice/secretapp" in names(answer)
    assert {hit["description"] for hit in answer["results"] if hit["name"] == "alice/webapp"} == {
        "Renamed thing"
    }


# /v2/search/repositories/


def test_hub_search_answers_with_docker_hubs_fields(repositories):
    response = client().get("/v2/search/repositories/", {"query": "webapp"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "repo_name": "alice/webapp",
                "short_description": "A web app",
                "star_count": 2,
                "pull_count": 10,
                "repo_owner": "alice",
                "is_official": False,
                "is_automated": False,
            }
        ],
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", PUBLIC), ("charlie", PUBLIC), ("bob", FOR_BOB), ("alice", FOR_ALICE)],
)
def test_hub_search_shows_private_hits_only_to_those_who_may_pull_them(repositories, who, expected):
    authorization = None if who == "anonymous" else hub_token(who)
    response = client(authorization).get("/v2/search/repositories/", {"query": "app"})
    assert response.status_code == 200, response.content
    assert names(response.json(), "repo_name") == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize("credentials", ["password", "access token", "registry token", "session"])
def test_hub_search_takes_other_credentials(repositories, bob, credentials):
    api = client()
    if credentials == "session":
        api.force_login(bob)
    else:
        api.credentials(
            HTTP_AUTHORIZATION={
                "password": basic,
                "access token": lambda _: access_token(bob),
                "registry token": registry_token,
            }[credentials]("bob")
        )
    response = api.get("/v2/search/repositories/", {"query": "app"})
    assert names(response.json(), "repo_name") == FOR_BOB


def test_hub_search_pages_with_page_and_page_size(repositories):
    first = client().get("/v2/search/repositories/", {"query": "app", "page_size": 2}).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    assert "page=2" in first["next"] and "page_size=2" in first["next"]
    second = client().get(first["next"]).json()
    assert (len(second["results"]), second["next"]) == (1, None)
    assert names(first, "repo_name") | names(second, "repo_name") == PUBLIC


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "Give a search term in query."),
        ({"query": ""}, 400, "Give a search term in query."),
        ({"query": "a" * 256}, 400, "query: Ensure this field has no more than 255 characters."),
        ({"query": "app", "page": 9}, 404, "Invalid page."),
    ],
)
def test_hub_search_refuses_bad_parameters(repositories, params, status, message):
    assert_error(client().get("/v2/search/repositories/", params), status, message)


def test_hub_search_refuses_bad_credentials(repositories):
    assert_error(
        client(basic("alice", "wrong")).get("/v2/search/repositories/", {"query": "app"}),
        401,
        "Incorrect username or password.",
    )


def test_deleting_repositories_hides_them_from_both_apis(repositories):
    Repository.objects.filter(name="webapp").update(state=Repository.State.DELETING)
    assert "alice/webapp" not in names(v1_search(basic("alice"), q="app"))
    hub = client(basic("alice")).get("/v2/search/repositories/", {"query": "app"}).json()
    assert "alice/webapp" not in names(hub, "repo_name")
