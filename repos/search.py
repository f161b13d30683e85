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

On PostgreSQL a broad query ("node": half of all READMEs) does not rank every hit: the hits in
the name, namespace or description are ranked in full, and of the README-only hits only those
that can reach the page asked for, taken from an index in the order they rank in (see
SearchResults).
"""

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from django.contrib.postgres.search import (
    TrigramSimilarity,
)
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    Expression,
    F,
    Field,
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
from django.db.models.sql.compiler import SQLCompiler
from django.utils.functional import cached_property

from .access import Principal, pullable_repositories
from .models import Repository

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
WITH typo AS (SELECT %s::text AS w, string_to_array(%s, NULL) AS alphabet)
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
# Near names for the "nothing found" page: looser than the search itself.
NEAR_SIMILARITY = 0.15
NEAR_CUTOFF = 0.5
# Results are counted up to this many and no further ("1,000+"), as Docker Hub does (10,000):
# a broad query ("node") would otherwise walk every hit again just to count them.
COUNT_CAP = 1000


def capped_count(repositories: QuerySet[Repository]) -> int:
    """How many repositories match, up to COUNT_CAP + 1 (more than the cap, then)."""
    capped = repositories.order_by().values("pk")[: COUNT_CAP + 1]
    if not is_postgresql():
        return capped.count()
    (count,) = capped_counts(repositories)
    return count


def capped_counts(first: QuerySet[Repository], then: QuerySet[Repository] | None = None) -> list:
    """How many rows `first` has, up to COUNT_CAP + 1, and `then` (if given) unless `first`
    passed the cap (None then): one statement, on PostgreSQL.

    Each is a MATERIALIZED CTE read under a LIMIT: PostgreSQL plans a CTE as if all of its
    rows were wanted (the indexes, where under a LIMIT it would prefer a sequential scan that
    it expects to stop early, and test the filter on most rows: 60 ms for `proxy` on 20,000
    repositories where the indexes answer in 2) and runs it only as far as it is read."""
    ctes, params = [], []
    for n, queryset in enumerate([first] if then is None else [first, then]):
        sql, cte_params = queryset.order_by().values("pk").query.sql_with_params()
        ctes.append(f"hits{n} AS MATERIALIZED ({sql})")
        params.extend(cte_params)
    counted = "(SELECT count(*) FROM (SELECT 1 FROM hits{} LIMIT %s) capped)"
    params.append(COUNT_CAP + 1)
    if then is None:
        sql = f"WITH {ctes[0]} SELECT {counted.format(0)}"
    else:
        # OFFSET 0: the first count stays one subquery, computed once.
        sql = (
            f"WITH {', '.join(ctes)} SELECT * FROM (SELECT {counted.format(0)} AS n OFFSET 0)"
            f" first CROSS JOIN LATERAL (SELECT CASE WHEN first.n > %s THEN NULL"
            f" ELSE {counted.format(1)} END) then_"
        )
        params.extend([COUNT_CAP, COUNT_CAP + 1])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchone())


class CappedPaginator(Paginator):
    """Pages over at most COUNT_CAP results; `capped` tells that there are more."""

    @cached_property
    def _counted(self) -> int:
        counted = self.object_list
        if isinstance(counted, SearchResults):
            return counted.count()
        return capped_count(counted)

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


class TableSQL(Expression):
    """SQL on the columns of repos_repository, `{t}` for the table as the query names it
    (its alias in a subquery); a condition unless told otherwise. The search columns that
    only PostgreSQL has (migrations 0004, 0006: search_document, search_title,
    search_popularity) are not in the model and are read this way."""

    def __init__(self, sql: str, params: list, output_field: Field | None = None):
        super().__init__(output_field=output_field or BooleanField())
        self.sql, self.params = sql, params

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list]:
        table = compiler.quote_name_unless_alias(compiler.query.base_table)
        return self.sql.replace("{t}", table), list(self.params)


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
    before `weak`, the hits found only in the README (None: there are none), ordered among
    themselves by popularity alone."""

    strong: Q
    weak: Q | None
    name_match: Q
    relevance: Expression
    exact: Expression


# The column that orders the README-only hits, as they rank, for each sort.
WEAK_ORDER: dict[Sort, str] = {"best": "popularity", "pulls": "pull_count", "updated": "updated"}
ORDER: dict[Sort, tuple[str, ...]] = {
    "best": ("-exact", "-official_match", "-strong", "-score", "-pull_count"),
    "pulls": ("-pull_count", "-exact", "-score"),
    "updated": ("-updated", "-exact", "-score"),
}


class SearchResults:
    """The ranked hits of a search, sliced as pages and counted up to COUNT_CAP + 1.

    On PostgreSQL a slice [start:stop] ranks only the hits that can be among the first `stop`:
    with the best-match sort, when there are at least `stop` hits in the name, namespace or
    description, those alone (README-only hits come after them); when there are more than
    COUNT_CAP hits in all, those and the README hits whose sort key is at least that of the
    stop-th README hit, ties included, so that the page is the one a ranking of every hit
    would give. The stop-th is found by walking an index in key order, which is short as
    there are that many README hits. Fewer hits are ranked in full.

    Counted in one statement (the strong hits, and every hit unless the strong ones pass the
    cap); a page is one more statement, its rows with `is_automated`."""

    def __init__(self, repositories: QuerySet[Repository], match: Match, sort: Sort):
        self.repositories = repositories.alias(popularity=popularity())
        self.match = match
        self.sort = sort

    def _ranked(self, where: Q) -> QuerySet[Repository]:
        match = self.match
        if where is match.strong:
            # Every row is a strong hit: no condition to test again per row.
            strong, relevance = Value(1), match.relevance
        else:
            strong = Case(When(match.strong, then=Value(1)), default=Value(0))
            # README-only hits in popularity's order alone, the order their index has.
            relevance = Case(
                When(match.strong, then=match.relevance),
                default=Value(README_RELEVANCE),
                output_field=FloatField(),
            )
        return (
            self.repositories.filter(where)
            .annotate(
                exact=match.exact,
                official_match=Case(
                    When(match.name_match & Q(namespace__name=LIBRARY), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                ),
                strong=strong,
                score=relevance * F("popularity"),
            )
            .order_by(*ORDER[self.sort], "namespace__name", "name")
        )

    @cached_property
    def _every_hit(self) -> Q:
        weak = self.match.weak
        return self.match.strong if weak is None else self.match.strong | weak

    @cached_property
    def hits(self) -> QuerySet[Repository]:
        """Every hit, ranked (the whole of them: for iterating over few)."""
        return self._ranked(self._every_hit)

    @cached_property
    def _counts(self) -> tuple[int, int]:
        """The strong hits and every hit, each up to COUNT_CAP + 1 (every hit: the strong
        ones' count once they pass the cap)."""
        strong = self.repositories.filter(self.match.strong)
        if self.match.weak is None:
            count = capped_count(strong)
            return count, count
        every = self.repositories.filter(self._every_hit)
        if is_postgresql():
            strong_count, count = capped_counts(strong, every)
        else:
            strong_count = capped_count(strong)
            count = None if strong_count > COUNT_CAP else capped_count(every)
        return strong_count, strong_count if count is None else count

    @property
    def _strong_count(self) -> int:
        return self._counts[0]

    @property
    def _count(self) -> int:
        return self._counts[1]

    def count(self) -> int:
        """How many hits, up to COUNT_CAP + 1 (more than the cap, then)."""
        return self._count

    def __iter__(self) -> Iterator[Repository]:
        return iter(self.hits)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, page: slice) -> list[Repository]:
        if not isinstance(page, slice) or page.stop is None:
            raise TypeError("Search results are taken a page at a time: results[start:stop].")
        # One statement, without the README, which a page does not show: the rows sorted
        # are narrow, and a top-N sort keeps `stop` of them. `is_automated` is a probe of
        # builds_buildsource's unique index per row.
        ranked = self._up_to(page.stop).defer("full_description")
        return list(ranked.annotate(is_automated=automated())[page])

    def _up_to(self, stop: int) -> QuerySet[Repository]:
        """Ranked, the hits that can be among the first `stop`."""
        weak = self.match.weak
        if weak is None or not is_postgresql():
            return self.hits
        if self.sort == "best" and self._strong_count >= stop:
            return self._ranked(self.match.strong)
        if self.count() <= COUNT_CAP:
            return self.hits
        key = WEAK_ORDER[self.sort]
        # The stop-th README hit, or any hit (the strong among them only raise the bar: they
        # are ranked anyway, and then fewer README hits can reach the page).
        boundary = (
            self.repositories.filter(weak)
            .annotate(bar=F(key))
            .order_by("-bar")
            .values_list("bar", flat=True)[stop - 1 : stop]
        )
        bar = next(iter(boundary), None)
        if bar is None:
            return self.hits
        return self._ranked(self.match.strong | (weak & Q(**{f"{key}__gte": bar})))


def search_repositories(
    principal: Principal,
    query: str,
    *,
    namespace: str | None = None,
    official: bool | None = None,
    automated: bool | None = None,
    sort: Sort = "best",
) -> SearchResults:
    """The repositories the principal may see that match the query, ranked by `sort`.

    An empty query matches everything visible. `official` means the `library` namespace,
    `automated` a repository built from GitHub (builds.BuildSource). Rows carry `exact`
    (2: ns/name, 1: name), `official_match`, `strong` (1: a hit in the name, namespace or
    description) and `score`; a page's rows also `is_automated`.
    """
    if sort not in SORTS:
        raise ValueError(f"Unknown sort {sort!r}: one of {', '.join(SORTS)}")
    repositories = visible(principal)
    if namespace:
        repositories = repositories.filter(namespace__name=namespace)
    if official is True:
        repositories = repositories.filter(namespace__name=LIBRARY)
    elif official is False:
        repositories = repositories.exclude(namespace__name=LIBRARY)
    if automated is not None:
        repositories = repositories.filter(build_source__isnull=not automated)
    text = normalize(query)
    if not text:
        # Everything: `library` first, then by popularity alone.
        library = Q(namespace__name=LIBRARY)
        match = Match(library, ~library, library, Value(1.0), Value(0))
    else:
        near = typo_names(repositories, _split(text)[1])
        match = (_postgresql_match if is_postgresql() else _sqlite_match)(text, near)
    return SearchResults(repositories, match, sort)


def automated() -> Exists:
    """Built from GitHub: a builds.BuildSource (the reverse relation `build_source`) exists."""
    sources = Repository._meta.get_field("build_source").related_model.objects
    return Exists(sources.filter(repository=OuterRef("pk")))


def popularity() -> Expression:
    if is_postgresql():
        return TableSQL("{t}.search_popularity", [], FloatField())
    return _popularity()


def _popularity() -> CombinedExpression:
    return (
        Value(1.0)
        + Ln(F("pull_count") + 1) / Value(PULLS_DAMPING)
        + Ln(F("star_count") + 1) / Value(STARS_DAMPING)
    )


def _split(text: str) -> tuple[str, str]:
    """Split "ns/name" into ("ns", "name"); a bare "name" gives ("", "name")."""
    namespace, slash, name = text.partition("/")
    return (namespace, name) if slash else ("", text)


def _exact(text: str) -> Case:
    namespace, name = _split(text)
    whens = [When(name=text, then=Value(1))]
    if namespace:
        whens = [When(namespace__name=namespace, name=name, then=Value(2)), *whens]
        whens.append(When(name=name, then=Value(1)))
    return Case(*whens, default=Value(0), output_field=IntegerField())


def typo_names(repositories: QuerySet[Repository], name: str) -> list[str]:
    """The names of repositories that are one typo away from a single-word query that no name
    contains: "ngnix" gives nginx, "proxy" nothing (proxies are found as they are)."""
    if " " in name or len(name) not in TYPO_LENGTHS:
        return []
    if not is_postgresql():
        if repositories.filter(name__contains=name).exists():
            return []
        return sorted(typos(name) & set(repositories.values_list("name", flat=True)))
    # One statement: the names, unless a name contains the query (a one-time test first).
    # The variants are made by PostgreSQL, as typos() does, and are a parameter of the
    # statement (an InitPlan) that the index on the name answers: a thousand constants
    # would cost more to send, and to plan (the planner weighs each: 3–7 ms).
    named = TableSQL(f"{{t}}.name = ANY(({TYPOS_SQL})::varchar[])", [name, TYPO_ALPHABET])
    return sorted(
        repositories.filter(named, ~Exists(repositories.filter(name__contains=name)))
        .values_list("name", flat=True)
        .distinct()
    )


def _name_match(text: str, near: list[str]) -> Q:
    """The name contains the query (or its name part) or is a typo of it. Names are lower
    case (as the registry wants them) and so is the query: a plain LIKE, which the trigram
    index answers, where ILIKE on UPPER(name) would read every row."""
    _, name = _split(text)
    name_match = Q(name__contains=text) | Q(name__in=near)
    if name != text:
        name_match |= Q(name__contains=name)
    return name_match


def _postgresql_match(text: str, near: list[str]) -> Match:
    """The match as SQL written here rather than built from lookups: the same conditions,
    for a fraction of the ORM's time to resolve and compile them (3–5 ms a request)."""
    _, name = _split(text)
    # The name contains the query or its name part (a plain LIKE, as in _name_match), or is
    # one of the typos' names.
    contains = [
        f"%{connection.ops.prep_for_like_query(part)}%" for part in dict.fromkeys([name, text])
    ]
    in_name, in_name_params = ["{t}.name::text LIKE %s"] * len(contains), list(contains)
    # How much of the name the query is (1 for the name itself), or a typo's constant: the
    # share of trigrams, similarity(), costs more than the rest of the ranking together.
    # float8 throughout: numeric arithmetic costs a microsecond a row.
    closeness = ["WHEN {t}.name::text LIKE %s THEN %s::float8 / length({t}.name)"]
    closeness_params = [contains[0], float(len(name))]
    if near:
        in_name.append("{t}.name = ANY(%s::varchar[])")
        in_name_params.append(near)
        closeness.append("WHEN {t}.name = ANY(%s::varchar[]) THEN %s::float8")
        closeness_params += [near, TYPO_RELEVANCE]
    name_match = TableSQL(f"({' OR '.join(in_name)})", in_name_params)
    words = [TEXT_SEARCH_CONFIG, text.replace("/", " ")]
    query = "websearch_to_tsquery(%s::regconfig, %s)"
    relevance = TableSQL(
        f"ts_rank(%s::float4[], {{t}}.search_title, {query})"
        f" + CASE {' '.join(closeness)} ELSE 0.0::float8 END + %s::float8",
        [RANK_WEIGHTS, *words, *closeness_params, README_RELEVANCE],
        FloatField(),
    )
    return Match(
        strong=Q(name_match) | Q(TableSQL(f"{{t}}.search_title @@ {query}", words)),
        weak=Q(TableSQL(f"{{t}}.search_document @@ {query}", words)),
        name_match=Q(name_match),
        relevance=relevance,
        exact=_exact(text),
    )


def _sqlite_match(text: str, near: list[str]) -> Match:
    _, name = _split(text)
    name_match = _name_match(text, near)
    title_words, every_word = Q(), Q()
    for word in text.replace("/", " ").split():
        in_title = (
            Q(name__icontains=word)
            | Q(namespace__name__icontains=word)
            | Q(description__icontains=word)
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
    namespace, name = _split(text)
    starting = Q(namespace__name=namespace, name__istartswith=name) if namespace else Q()
    starting |= Q(name__istartswith=text)
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
    found nothing."""
    _, name = _split(normalize(query))
    if not name:
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
