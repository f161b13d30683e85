"""Search: the ranking as a table of cases, filters and sorts, visibility, the search and
Explore pages, and suggestions as one types.

Runs on the suite's database: PostgreSQL full-text search with pg_trgm in CI, the plain
fallback on SQLite by default.

alice owns the public `alice/busybox`, `alice/mybusybox` and `alice/web` (a README term:
"zstandard"); bob owns the public `bob/mongo-tools` and the private `bob/secret-builder`, whose
README mentions busybox; `library` holds the official busybox, mongo-express, nginx, python and
photon, and alice also `alice/nginx-proxy`; charlie has nothing; `library/busybox-old` is being
deleted."""

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import connection
from django.test import Client

from accounts.models import Namespace, User
from repos import search
from repos.access import ANONYMOUS, Principal
from repos.models import Repository, Star
from repos.search import CappedPaginator, near_names, search_repositories, suggest
from tests.conftest import signed_in
from tests.factories import BuildSourceFactory, UserFactory

pytestmark = pytest.mark.django_db


def create(namespace: str, name: str, **fields) -> Repository:
    owner, _ = Namespace.objects.get_or_create(
        name=namespace, defaults={"kind": Namespace.Kind.ORG}
    )
    return Repository.objects.create(namespace=owner, name=name, **fields)


@pytest.fixture
def hub(alice, bob, charlie) -> dict[str, Repository]:
    repositories = [
        create("library", "busybox", description="Busybox base image.", pull_count=1_000),
        create("library", "mongo-express", description="Web admin for MongoDB", pull_count=10),
        create("library", "busybox-old", state=Repository.State.DELETING, pull_count=10**9),
        create("library", "nginx", description="Official build of Nginx.", pull_count=5),
        create("library", "python", description="An interpreted language", pull_count=4),
        create("library", "photon", description="A Linux distribution", pull_count=3),
        create("alice", "nginx-proxy", description="Reverse proxy for nginx", pull_count=2),
        create("alice", "busybox", description="My busybox", pull_count=5_000_000),
        create("alice", "mybusybox", description="Another busybox", pull_count=50_000_000),
        create(
            "alice",
            "web",
            description="A small web server",
            full_description="# Web\n\nCompresses its answers with zstandard.",
            pull_count=3,
        ),
        create("bob", "mongo-tools", description="Tools for mongo", pull_count=1_000_000),
        create(
            "bob",
            "secret-builder",
            description="Builds secret things",
            full_description="Starts from busybox.",
            is_private=True,
        ),
    ]
    return {repository.full_name: repository for repository in repositories}


def names(repositories) -> list[str]:
    return [repository.full_name for repository in repositories]


def principal(who: str) -> Principal:
    return ANONYMOUS if who == "anonymous" else Principal(user=User.objects.get(username=who))


# (who searches, query, the results must start with these, in this order, and never show these)
RANKING = [
    ("anonymous", "busybox", ["library/busybox", "alice/busybox"], ["bob/secret-builder"]),
    ("anonymous", "alice/busybox", ["alice/busybox"], []),
    ("anonymous", "BusyBox", ["library/busybox", "alice/busybox"], []),
    ("anonymous", "mongo", ["library/mongo-express", "bob/mongo-tools"], []),
    ("anonymous", "busybx", ["library/busybox"], []),
    # One typo away: a letter swapped, missing, added or changed.
    ("anonymous", "ngnix", ["library/nginx"], []),
    ("anonymous", "pyhton", ["library/python"], ["library/photon"]),
    ("anonymous", "pyton", ["library/python"], []),
    ("anonymous", "busyboxx", ["library/busybox", "alice/busybox"], []),
    ("anonymous", "mongo-exprass", ["library/mongo-express"], []),
    ("anonymous", "zstandard", ["alice/web"], ["library/busybox"]),
    ("anonymous", "web server", ["alice/web"], []),
    # Two words: both in the name, in the description, or one in each.
    ("anonymous", "nginx proxy", ["alice/nginx-proxy"], ["library/nginx"]),
    ("anonymous", "admin web", ["library/mongo-express"], ["alice/web"]),
    ("anonymous", "proxy alice", ["alice/nginx-proxy"], []),
    ("anonymous", "secret", [], ["bob/secret-builder"]),
    ("charlie", "secret", [], ["bob/secret-builder"]),
    ("alice", "secret-builder", [], ["bob/secret-builder"]),
    ("bob", "secret", ["bob/secret-builder"], []),
    ("bob", "busybox", ["library/busybox", "alice/busybox"], []),
    ("bob", "busybox-old", [], ["library/busybox-old"]),
]


@pytest.mark.parametrize(("who", "query", "first", "never"), RANKING)
def test_ranking(hub, who, query, first, never):
    found = names(search_repositories(principal(who), query))
    assert found[: len(first)] == first
    assert not set(found) & set(never)


def test_a_private_readme_term_is_found_only_by_who_may_see_it(hub):
    # After every hit in a name or a description.
    assert names(search_repositories(principal("bob"), "busybox"))[-1] == "bob/secret-builder"
    for who in ("anonymous", "alice", "charlie"):
        assert "bob/secret-builder" not in names(search_repositories(principal(who), "busybox"))


def test_changes_show_at_once(hub):
    web = hub["alice/web"]
    web.description = "A quokka server"
    web.save()
    assert names(search_repositories(ANONYMOUS, "quokka")) == ["alice/web"]
    web.is_private = True
    web.save()
    assert names(search_repositories(ANONYMOUS, "quokka")) == []
    assert names(search_repositories(principal("alice"), "quokka")) == ["alice/web"]
    web.name = "kangaroo"
    web.save()
    assert names(search_repositories(principal("alice"), "kangaroo")) == ["alice/kangaroo"]


def test_stars_and_pulls_weigh_among_equals(hub, charlie):
    # Equally relevant: the starred one first, where the names alone would put it second.
    create("acme", "widget-a", description="widget")
    twin_b = create("acme", "widget-b", description="widget")
    for user in UserFactory.create_batch(3):
        Star.objects.create(repository=twin_b, user=user)
    assert names(search_repositories(ANONYMOUS, "widget"))[:2] == ["acme/widget-b", "acme/widget-a"]
    create("acme", "gadget", description="A gadget", pull_count=10)
    create("zeta", "gadget", description="A gadget", pull_count=10_000)
    assert names(search_repositories(ANONYMOUS, "gadget"))[:2] == ["zeta/gadget", "acme/gadget"]
    # Relevance is weighed with popularity: a name the query is half of, pulled a hundred
    # million times, before one it is most of that nobody pulls.
    create("acme", "gadget-tools", pull_count=10**8)
    create("acme", "gadget-x")
    found = names(search_repositories(ANONYMOUS, "gadget"))
    assert found.index("acme/gadget-tools") < found.index("acme/gadget-x")


def test_a_query_shorter_than_a_trigram_finds_names_starting_with_it(hub):
    assert {"library/mongo-express", "bob/mongo-tools"} <= set(
        names(search_repositories(ANONYMOUS, "mo"))
    )
    assert "library/mongo-express" not in names(search_repositories(ANONYMOUS, "ex"))


def test_filters_and_sorts(hub):
    everyone = names(search_repositories(ANONYMOUS, ""))
    assert everyone[:2] == ["library/busybox", "library/mongo-express"]
    assert "bob/secret-builder" not in everyone
    assert set(names(search_repositories(ANONYMOUS, "busybox", official=True))) == {
        "library/busybox"
    }
    assert "library/busybox" not in names(search_repositories(ANONYMOUS, "busybox", official=False))
    assert names(search_repositories(ANONYMOUS, "busybox", namespace="alice"))[:2] == [
        "alice/busybox",
        "alice/mybusybox",
    ]
    BuildSourceFactory(repository=hub["alice/busybox"])
    automated = search_repositories(ANONYMOUS, "busybox", automated=True)
    assert names(automated) == ["alice/busybox"]
    assert [hit.is_automated for hit in automated[0:25]] == [True]
    assert "alice/busybox" not in names(search_repositories(ANONYMOUS, "busybox", automated=False))
    assert names(search_repositories(ANONYMOUS, "busybox", sort="pulls"))[:2] == [
        "alice/mybusybox",
        "alice/busybox",
    ]
    hub["alice/web"].save()
    assert names(search_repositories(ANONYMOUS, "", sort="updated"))[0] == "alice/web"
    with pytest.raises(ValueError):
        search_repositories(ANONYMOUS, "busybox", sort="stars")  # type: ignore[arg-type]


def test_suggest(hub):
    assert names(suggest(ANONYMOUS, "busy"))[:2] == ["library/busybox", "alice/busybox"]
    assert names(suggest(ANONYMOUS, "alice/my")) == ["alice/mybusybox"]
    assert names(suggest(ANONYMOUS, "busybx"))[0] == "library/busybox"
    assert len(suggest(ANONYMOUS, "b", limit=2)) == 2
    assert suggest(ANONYMOUS, "  ") == []
    assert "bob/secret-builder" not in names(suggest(ANONYMOUS, "secret"))
    assert names(suggest(principal("bob"), "secret")) == ["bob/secret-builder"]


def test_near_names(hub):
    assert "library/busybox" in names(near_names(ANONYMOUS, "busbox-x"))
    assert near_names(ANONYMOUS, "") == []


def page_names(response) -> list[str]:
    return [repository.full_name for repository in response.context["page"].object_list]


def test_search_page_for_each_visitor(hub, alice, bob, charlie):
    for client in (Client(), signed_in(alice), signed_in(charlie)):
        response = client.get("/search/", {"q": "busybox"})
        assert response.status_code == 200
        assert page_names(response)[:2] == ["library/busybox", "alice/busybox"]
        assert "bob/secret-builder" not in page_names(response)
        assert "secret-builder" not in response.content.decode()
    response = signed_in(bob).get("/search/", {"q": "busybox"})
    assert "bob/secret-builder" in page_names(response)
    assert 'href="/r/bob/secret-builder/"' in response.content.decode()


def test_search_page_filters_sort_and_pages(hub):
    for n in range(30):
        create("acme", f"thing-{n:02}", description="a thing", pull_count=n)
    response = Client().get("/search/", {"q": "thing", "sort": "pulls"})
    assert response.context["page"].paginator.count == 30
    assert page_names(response)[0] == "acme/thing-29"
    assert len(page_names(response)) == 25
    second = Client().get("/search/", {"q": "thing", "sort": "pulls", "page": 2})
    assert page_names(second)[-1] == "acme/thing-00"
    official = Client().get("/search/", {"q": "busybox", "official": "1"})
    assert page_names(official) == ["library/busybox"]
    scoped = Client().get("/search/", {"q": "busybox", "namespace": "alice", "sort": "nonsense"})
    assert set(page_names(scoped)) == {"alice/busybox", "alice/mybusybox"}
    BuildSourceFactory(repository=Repository.objects.get(namespace__name="alice", name="busybox"))
    automated = Client().get("/search/", {"q": "busybox", "automated": "1"})
    assert page_names(automated) == ["alice/busybox"]
    assert (
        'class="badge" title="Built from GitHub by Dockyard">Automated'
        in automated.content.decode()
    )
    assert hub_search(query="busybox")  # the Hub API says which are built from GitHub:
    found = Client().get("/v2/search/repositories/", {"query": "alice/busybox"}).json()["results"]
    assert [(hit["repo_name"], hit["is_automated"]) for hit in found][0] == ("alice/busybox", True)


def hub_search(**params) -> list[str]:
    response = Client().get("/v2/search/repositories/", params)
    assert response.status_code == 200
    return [result["repo_name"] for result in response.json()["results"]]


def test_pages_beyond_the_count_cap_are_those_of_the_whole_ranking(hub, monkeypatch):
    """More hits than are counted: each page ranks only the hits that can reach it, and the
    pages are those of a ranking of every hit."""
    monkeypatch.setattr(search, "COUNT_CAP", 7)
    create("acme", "quasar-a", pull_count=0)
    create("acme", "quasar-b", pull_count=0)
    for n in range(1, 9):
        create("acme", f"star-{n}", full_description="Uses quasar inside.", pull_count=n * 10)

    def pages(**params) -> list[str]:
        return [
            name
            for page in (1, 2, 3, 4)
            for name in hub_search(query="quasar", page_size=2, page=page, **params)
        ]

    best = ["acme/quasar-a", "acme/quasar-b", "acme/star-8", "acme/star-7", "acme/star-6"]
    assert pages() == [*best, "acme/star-5", "acme/star-4"]
    assert names(search_repositories(ANONYMOUS, "quasar"))[:7] == pages()
    by_pulls = names(search_repositories(ANONYMOUS, "quasar", sort="pulls"))
    assert by_pulls[:7] == [f"acme/star-{n}" for n in range(8, 1, -1)]
    assert [
        repository.full_name
        for stop in (2, 4, 6)
        for repository in search_repositories(ANONYMOUS, "quasar", sort="pulls")[stop - 2 : stop]
    ] == by_pulls[:6]


def test_nothing_found_suggests_near_names(hub):
    response = Client().get("/search/", {"q": "bzbox"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing found" in page
    assert 'href="/r/library/busybox/"' in page


def test_header_box_and_explore_link(hub):
    page = Client().get("/").content.decode()
    assert 'action="/search/"' in page
    assert 'href="/explore/"' in page


def test_suggestions_json(hub, bob):
    response = Client().get("/search/suggest/", {"q": "busy"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0] == {
        "name": "library/busybox",
        "description": "Busybox base image.",
        "official": True,
        "url": "/r/library/busybox/",
    }
    assert Client().get("/search/suggest/", {"q": "secret"}).json() == {"results": []}
    mine = signed_in(bob).get("/search/suggest/", {"q": "secret"}).json()["results"]
    assert [result["name"] for result in mine] == ["bob/secret-builder"]
    assert Client().get("/search/suggest/").json() == {"results": []}


def test_explore_shows_public_repositories_only(hub, bob):
    for client in (Client(), signed_in(bob)):
        response = client.get("/explore/")
        assert response.status_code == 200
        popular = names(response.context["popular"])
        assert popular[:2] == ["alice/mybusybox", "alice/busybox"]
        assert "bob/secret-builder" not in popular + names(response.context["recent"])
        assert "library/busybox-old" not in popular


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the variants are made in SQL")
@pytest.mark.parametrize("word", ["busybx", "ngnix", "s6-overlay", "a.b_c-d"])
def test_typo_variants_made_in_sql_are_those_of_typos(word):
    with connection.cursor() as cursor:
        cursor.execute(search.TYPOS_SQL, {"typo_word": word, "typo_alphabet": search.TYPO_ALPHABET})
        (variants,) = cursor.fetchone()
    assert set(variants) - {word} == search.typos(word)


def test_a_broad_query_is_counted_and_paged_in_one_statement(hub, django_assert_max_num_queries):
    for n in range(30):
        create("acme", f"busybox-{n:02}", description="a thing", pull_count=n)
    # On PostgreSQL the page comes with its counts; SQLite looks for typos, counts, pages.
    with django_assert_max_num_queries(1 if connection.vendor == "postgresql" else 3):
        page = CappedPaginator(search_repositories(ANONYMOUS, "busybox"), 25).page(1)
        assert page.paginator.count > 25
        assert len(page.object_list) == 25
        assert page.has_next()


@pytest.mark.parametrize(
    ("pulls", "shown"),
    [(0, "0"), (155, "155"), (1_504, "1.5K"), (305_682, "305.7K"), (999_950, "1M"),
     (93_300_000, "93.3M"), (3_500_000_000, "3.5B")],
)  # fmt: skip
def test_search_results_show_pulls_as_docker_hub_does(hub, pulls, shown):
    create("acme", "counted", pull_count=pulls)
    page = Client().get("/search/", {"q": "counted"}).content.decode()
    assert f'title="{intcomma(pulls)} pulls">↓ {shown}</span>' in page


@pytest.mark.parametrize("query", ["-", "%_\\", "a-b"])
def test_a_query_without_three_letters_or_digits_in_a_row_has_no_near_names(hub, query):
    # No name holds it, and near names would be near every name.
    assert names(search_repositories(ANONYMOUS, query)) == []
    assert near_names(ANONYMOUS, query) == []
    response = Client().get("/search/", {"q": query})
    assert response.status_code == 200
    assert "Nothing found" in response.content.decode()
