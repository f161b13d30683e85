"""Search over repositories, for the web pages, the Hub API and /v1/search.

It queries the live rows (on PostgreSQL their search columns are kept by triggers in the same
transaction), so a push, an edited description, a visibility flip, a rename or a deletion shows
at once, and filters through
pullable_repositories so that nobody finds what they may not see.

Ranking, best match: an exact `ns/name` or `name` first, then repositories of `library` whose
name matches, then hits in the name, namespace or description by relevance weighed with pulls
and stars on a log scale, then hits only in the README by pulls and stars. Relevance is
PostgreSQL full-text search on the name (A), namespace and description (B), plus how much of
the name the query is, or a constant for a name one typo away ("busybx" finds busybox, "ngnix"
nginx). On SQLite a plain fallback: substring matches on the same fields.

On PostgreSQL the search is one statement per page, written in repos.search_postgresql; a broad
query ("node": half of all READMEs) does not rank every hit there: the hits in the name,
namespace or description are ranked in full, and of the README-only hits only those that can
reach the page asked for. SearchResults is the same ranking with the ORM's lookups, for
SQLite.
"""

import difflib
import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.contrib.postgres.search import (
    TrigramSimilarity,
)
from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Ln
from django.utils.functional import cached_property

from .access import Principal, pullable_repositories
from .models import Repository

if TYPE_CHECKING:
    from .search_postgresql import PostgresqlResults

LIBRARY = "library"
Sort = Literal["best", "pulls", "updated"]
SORTS: tuple[Sort, ...] = ("best", "pulls", "updated")
MAX_QUERY_LENGTH = 255
# The text search configuration of the stored columns (migrations 0004, 0006) and of the
# query: the two must be the same for the stemmed words to meet.
TEXT_SEARCH_CONFIG = "english"
# How much popularity weighs: relevance × (1 + ln(1 + pulls)/PULLS + ln(1 + stars)/STARS).
# Migration 0006 stores the same on PostgreSQL (search_popularity).
PULLS_DAMPING = 20.0
STARS_DAMPING = 10.0
# What a hit scores at least: a README-only hit, which is not ranked by its text.
README_RELEVANCE = 0.01
# ts_rank's weights of D, C, B (namespace, description) and A (name).
RANK_WEIGHTS = [0.0, 0.0, 0.4, 1.0]
# A name one edit (a letter left out, added, changed, or two swapped) away from the query is a
# typo of it, for queries of this many characters: shorter ones would find too many names,
# longer ones would ask for too many (about 80 per character).
TYPO_LENGTHS = range(4, 25)
TYPO_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-._"
TYPO_RELEVANCE = 0.5
# typos() in SQL: the word and the alphabet are its parameters.
TYPOS_SQL = """
WITH typo AS (SELECT %(typo_word)s::text AS w, string_to_array(%(typo_alphabet)s, NULL) AS alphabet)
SELECT ARRAY(
    SELECT left(w, i) || substr(w, i + 2)
        FROM typo, generate_series(0, length(w) - 1) i
    UNION SELECT left(w, i) || substr(w, i + 2, 1) || substr(w, i + 1, 1) || substr(w, i + 3)
        FROM typo, generate_series(0, length(w) - 2) i
    UNION SELECT left(w, i) || c || substr(w, i + 2)
        FROM typo, generate_series(0, length(w) - 1) i, unnest(alphabet) c
    UNION SELECT left(w, i) || c || substr(w, i + 1)
        FROM typo, generate_series(0, length(w)) i, unnest(alphabet) c
)"""
# Three letters or digits in a row: what pg_trgm's index can look up inside a name.
TRIGRAM = re.compile(r"[a-z0-9]{3}")
TRIGRAM_START = re.compile(r"[a-z0-9]")
# Near names for the "nothing found" page: looser than the search itself.
NEAR_SIMILARITY = 0.15
NEAR_CUTOFF = 0.5
# Results are counted up to this many and no further ("1,000+"), as Docker Hub does (10,000):
# a broad query ("node") would otherwise walk every hit again just to count them.
COUNT_CAP = 1000


def page_bounds(page: slice) -> tuple[int, int]:
    """A page's start and stop, neither past COUNT_CAP: pages end there."""
    if not isinstance(page, slice) or page.stop is None:
        raise TypeError("Search results are taken a page at a time: results[start:stop].")
    return min(page.start or 0, COUNT_CAP), min(page.stop, COUNT_CAP)


class CappedPaginator(Paginator):
    """Pages over search results, at most COUNT_CAP of them; `capped` tells that there are
    more. The page asked for is fetched with the count (one statement on PostgreSQL)."""

    def get_page(self, number: int | str | None) -> Page:
        self._prefetch(number)
        return super().get_page(number)

    def page(self, number: int | str) -> Page:
        self._prefetch(number)
        return super().page(number)

    def _prefetch(self, number: int | str | None) -> None:
        with suppress(TypeError, ValueError):
            start = (int(number or 1) - 1) * self.per_page
            if 0 <= start < COUNT_CAP:
                self.object_list.prefetch(start, start + self.per_page)

    @cached_property
    def _counted(self) -> int:
        return self.object_list.count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, COUNT_CAP)

    @property
    def capped(self) -> bool:
        return self._counted > COUNT_CAP


class TrigramMatch(Func):
    """`name % 'text'`: pg_trgm similarity above its threshold, answered by the trigram GIN
    index on the name."""

    arg_joiner = " %% "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def normalize(query: str) -> str:
    return " ".join(query.strip().lower().split())[:MAX_QUERY_LENGTH]


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def visible(principal: Principal) -> QuerySet[Repository]:
    """Every repository the principal may see, with its namespace."""
    return pullable_repositories(principal, Repository.objects.select_related("namespace"))


def typos(word: str) -> set[str]:
    """Every name one edit away from the word (Damerau: a character deleted, inserted,
    replaced, or two neighbours swapped), or none for a word outside TYPO_LENGTHS."""
    if len(word) not in TYPO_LENGTHS:
        return set()
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {head + tail[1:] for head, tail in splits if tail}
        | {head + tail[1] + tail[0] + tail[2:] for head, tail in splits if len(tail) > 1}
        | {head + c + tail[1:] for head, tail in splits if tail for c in TYPO_ALPHABET}
        | {head + c + tail for head, tail in splits for c in TYPO_ALPHABET}
    ) - {word}


@dataclass
class Match:
    """What a query finds: `strong`, hits in the name, namespace or description, which rank
    before `weak`, the hits found only in the README, ordered among themselves by popularity
    alone."""

    strong: Q
    weak: Q
    name_match: Q
    relevance: Expression
    exact: Expression


ORDER: dict[Sort, tuple[str, ...]] = {
    "best": ("-exact", "-official_match", "-strong", "-score", "-pull_count"),
    "pulls": ("-pull_count", "-exact", "-score"),
    "updated": ("-updated", "-exact", "-score"),
}


class SearchResults:
    """The ranked hits of a search with the ORM's lookups (SQLite): every hit is ranked, a page
    is a slice of them with `is_automated`, the count (up to COUNT_CAP + 1) a statement of its
    own. As on PostgreSQL, pages end at COUNT_CAP."""

    def __init__(self, repositories: QuerySet[Repository], match: Match, sort: Sort):
        self.repositories = repositories
        self.match = match
        self.sort = sort

    @cached_property
    def hits(self) -> QuerySet[Repository]:
        """Every hit, ranked."""
        match = self.match
        return (
            self.repositories.filter(match.strong | match.weak)
            .annotate(
                exact=match.exact,
                official_match=Case(
                    When(match.name_match & Q(namespace__name=LIBRARY), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                ),
                strong=Case(When(match.strong, then=Value(1)), default=Value(0)),
                # README-only hits by popularity alone.
                score=Case(
                    When(match.strong, then=match.relevance),
                    default=Value(README_RELEVANCE),
                    output_field=FloatField(),
                )
                * popularity(),
            )
            .order_by(*ORDER[self.sort], "namespace__name", "name")
        )

    def prefetch(self, start: int, stop: int) -> None:
        """Nothing to fetch ahead: here the count and a page are statements of their own."""

    @cached_property
    def _count(self) -> int:
        return self.hits.order_by().values("pk")[: COUNT_CAP + 1].count()

    def count(self) -> int:
        """How many hits, up to COUNT_CAP + 1 (more than the cap, then)."""
        return self._count

    def __iter__(self) -> Iterator[Repository]:
        return iter(self.hits)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, page: slice) -> list[Repository]:
        start, stop = page_bounds(page)
        ranked = self.hits.defer("full_description").annotate(is_automated=automated())
        return list(ranked[start:stop])


def search_repositories(
    principal: Principal,
    query: str,
    *,
    namespace: str | None = None,
    official: bool | None = None,
    automated: bool | None = None,
    sort: Sort = "best",
) -> "SearchResults | PostgresqlResults":
    """The repositories the principal may see that match the query, ranked by `sort`.

    An empty query matches everything visible. `official` means the `library` namespace,
    `automated` a repository built from GitHub (builds.BuildSource). A page's rows carry
    `is_automated`.
    """
    if sort not in SORTS:
        raise ValueError(f"Unknown sort {sort!r}: one of {', '.join(SORTS)}")
    text = normalize(query)
    if is_postgresql():
        from .search_postgresql import PostgresqlResults, Statement

        return PostgresqlResults(
            Statement(
                principal,
                text,
                namespace=namespace,
                official=official,
                automated=automated,
                sort=sort,
            )
        )
    repositories = visible(principal)
    if namespace:
        repositories = repositories.filter(namespace__name=namespace)
    if official is True:
        repositories = repositories.filter(namespace__name=LIBRARY)
    elif official is False:
        repositories = repositories.exclude(namespace__name=LIBRARY)
    if automated is not None:
        repositories = repositories.filter(build_source__isnull=not automated)
    if not text:
        # Everything: `library` first, then by popularity alone.
        library = Q(namespace__name=LIBRARY)
        match = Match(library, ~library, library, Value(1.0), Value(0))
    else:
        match = _sqlite_match(text, typo_names(repositories, split(text)[1]))
    return SearchResults(repositories, match, sort)


def automated() -> Exists:
    """Built from GitHub: a builds.BuildSource (the reverse relation `build_source`) exists."""
    sources = Repository._meta.get_field("build_source").related_model.objects
    return Exists(sources.filter(repository=OuterRef("pk")))


def popularity() -> CombinedExpression:
    """As migration 0006 stores it on PostgreSQL (search_popularity)."""
    return (
        Value(1.0)
        + Ln(F("pull_count") + 1) / Value(PULLS_DAMPING)
        + Ln(F("star_count") + 1) / Value(STARS_DAMPING)
    )


def split(text: str) -> tuple[str, str]:
    """Split "ns/name" into ("ns", "name"); a bare "name" gives ("", "name")."""
    namespace, slash, name = text.partition("/")
    return (namespace, name) if slash else ("", text)


def _exact(text: str) -> Case:
    namespace, name = split(text)
    whens = [When(name=text, then=Value(1))]
    if namespace:
        whens = [When(namespace__name=namespace, name=name, then=Value(2)), *whens]
        whens.append(When(name=name, then=Value(1)))
    return Case(*whens, default=Value(0), output_field=IntegerField())


def typo_names(repositories: QuerySet[Repository], name: str) -> list[str]:
    """The names of repositories that are one typo away from a single-word query that no name
    contains: "ngnix" gives nginx, "proxy" nothing (proxies are found as they are)."""
    if " " in name or len(name) not in TYPO_LENGTHS or in_name(name) is None:
        return []
    if repositories.filter(name_holds(name)).exists():
        return []
    return sorted(typos(name) & set(repositories.values_list("name", flat=True)))


def in_name(part: str) -> str | None:
    """How a name holds the query (or its name part), as a lookup: anywhere in it when the
    query has three letters or digits in a row, a trigram pg_trgm's index can look up; at its
    start when it starts with one ("go"); not at all otherwise ("-_"). Inside names without a
    trigram the index cannot look, and every row would be read. Names are lower case (as the
    registry wants them) and so is the query: a plain LIKE, which the index answers, where
    ILIKE on UPPER(name) would not."""
    if TRIGRAM.search(part):
        return "contains"
    return "startswith" if TRIGRAM_START.match(part) else None


def name_holds(part: str) -> Q:
    lookup = in_name(part)
    return Q(**{f"name__{lookup}": part}) if lookup else Q(pk__in=[])


def _name_match(text: str, near: list[str]) -> Q:
    """The name holds the query (or its name part) or is a typo of it."""
    _, name = split(text)
    name_match = Q(name__in=near)
    for part in dict.fromkeys([text, name]):
        name_match |= name_holds(part)
    return name_match


def _sqlite_match(text: str, near: list[str]) -> Match:
    _, name = split(text)
    name_match = _name_match(text, near)
    title_words, every_word = Q(), Q()
    for word in text.replace("/", " ").split():
        in_title = (
            name_holds(word) | Q(namespace__name__icontains=word) | Q(description__icontains=word)
        )
        title_words &= in_title
        every_word &= in_title | Q(full_description__icontains=word)
    # The weights of the PostgreSQL vector, roughly: name A, namespace and description B, a
    # typo below them, and the README.
    relevance = Case(
        When(Q(name__icontains=name), then=Value(1.0)),
        When(
            Q(namespace__name__icontains=name) | Q(description__icontains=name),
            then=Value(0.4),
        ),
        When(name_match, then=Value(TYPO_RELEVANCE / 5)),
        default=Value(README_RELEVANCE),
        output_field=FloatField(),
    )
    return Match(
        strong=name_match | title_words,
        weak=every_word,
        name_match=name_match,
        relevance=relevance,
        exact=_exact(text),
    )


def suggest(principal: Principal, prefix: str, limit: int = 8) -> list[Repository]:
    """Repositories for the header box as one types: names starting with the prefix (an exact
    name first, then `library`, then the most pulled); if none, the best search matches, so a
    typo still suggests something."""
    text = normalize(prefix)
    if not text:
        return []
    namespace, name = split(text)
    starting = Q(namespace__name=namespace, name__startswith=name) if namespace else Q()
    starting |= Q(name__startswith=text)
    found = list(
        visible(principal)
        .filter(starting)
        .annotate(
            exact=_exact(text),
            official_match=Case(
                When(namespace__name=LIBRARY, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .order_by("-exact", "-official_match", "-pull_count", "namespace__name", "name")[:limit]
    )
    return found or list(search_repositories(principal, text)[:limit])


def near_names(principal: Principal, query: str, limit: int = 5) -> list[Repository]:
    """Repositories whose names are near the query, looser than the search, for a page that
    found nothing: none for a query without a trigram ("-", "zx"), which would be near every
    name, and read them all."""
    _, name = split(normalize(query))
    if in_name(name) != "contains":
        return []
    repositories = visible(principal)
    if is_postgresql():
        # `name % q` with a looser threshold for this transaction only, so that the trigram
        # index answers it instead of a similarity() of every row.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
                [str(NEAR_SIMILARITY)],
            )
            return list(
                repositories.filter(TrigramMatch(F("name"), Value(name)))
                .annotate(similarity=TrigramSimilarity("name", name))
                .order_by("-similarity", "-pull_count")[:limit]
            )
    names = difflib.get_close_matches(
        name, set(repositories.values_list("name", flat=True)), n=limit, cutoff=NEAR_CUTOFF
    )
    ranked = {candidate: position for position, candidate in enumerate(names)}
    near = repositories.filter(name__in=names).order_by("-pull_count")[:limit]
    return sorted(near, key=lambda repository: ranked[repository.name])
