"""Search on PostgreSQL: a page of results with its counts in one statement.

The ranking is repos.search's (see there); this module writes it as one SQL statement with
named parameters instead of building it from lookups, because a search is small work done
often: compiling three ORM statements cost more than running them (3–4 ms a request), and each
statement is a round trip. The statement:

- `near`: the names one typo away from a single-word query that no visible name contains
  (TYPOS_SQL makes the variants);
- `strong`: every hit in the name, namespace or description, with its relevance;
- `weak`: the README-only hits in the order they rank in among themselves (by one key: the
  popularity, the pulls or the date), the first COUNT_CAP + 1 and those tied with the last:
  every one a page can show, as pages end at COUNT_CAP. PostgreSQL reads them along that
  key's index when they are many ("node": half of all READMEs) and sorts them when few;
- `counted`: how many strong hits, and how many hits in all up to COUNT_CAP + 1 (not asked
  once the strong ones pass the cap);
- `hit`: the candidates for the page: the strong hits, and the README-only ones when they
  can reach it (best match with fewer than `stop` strong hits, or another sort);
- `page`: the candidates ranked, `limit` of them from `offset`;
- then the page's rows and namespaces, whether each is built from GitHub, and the counts
  (one row of counts and nulls when the page is empty).

Who may see what is repos.access's: its WHERE clause is compiled by the ORM and used as is.
"""

import re
from collections.abc import Iterator

from django.db import connection

from accounts.models import Namespace

from . import search
from .access import Principal, pullable_repositories
from .models import Repository

TABLE = "repos_repository"
# The fields of a page's rows, as Model.from_db takes them (the README is not one of them).
REPOSITORY_FIELDS = [
    field.attname for field in Repository._meta.concrete_fields if field.name != "full_description"
]
NAMESPACE_FIELDS = [field.attname for field in Namespace._meta.concrete_fields]
# Their columns in the statement's final SELECT (r: the repository, n: its namespace).
SELECTED_COLUMNS = ", ".join(
    [f'r."{Repository._meta.get_field(name).column}"' for name in REPOSITORY_FIELDS]
    + [f'n."{Namespace._meta.get_field(name).column}"' for name in NAMESPACE_FIELDS]
)
# repos.search's ORDER in SQL: "-score" as "score DESC".
ORDER: dict[search.Sort, str] = {
    sort: ", ".join(f"{term[1:]} DESC" if term[0] == "-" else term for term in terms)
    for sort, terms in search.ORDER.items()
}
# The column that orders the README-only hits among themselves, as they rank, for each sort.
WEAK_KEY: dict[search.Sort, str] = {
    "best": "search_popularity",
    "pulls": "pull_count",
    "updated": "updated",
}


def _named(sql: str, params: list, prefix: str) -> tuple[str, dict]:
    """Positional placeholders (%s) as named ones (%(prefix0)s…), to mix with the statement's."""
    names = iter(range(len(params)))
    named = re.sub(r"%%|%s", lambda m: m[0] if m[0] == "%%" else f"%({prefix}{next(names)})s", sql)
    return named, {f"{prefix}{n}": value for n, value in enumerate(params)}


class Statement:
    """The statement for one search: its parts as SQL on repos_repository, and its parameters."""

    def __init__(
        self,
        principal: Principal,
        text: str,
        *,
        namespace: str | None,
        official: bool | None,
        automated: bool | None,
        sort: search.Sort,
    ):
        self.sort = sort
        self.params: dict = {
            "library": search.LIBRARY,
            "cap": search.COUNT_CAP,
            "readme_relevance": search.README_RELEVANCE,
        }
        self.where = " AND ".join(
            [self._visible(principal), *self._filters(namespace, official, automated)]
        )
        self.near = ""
        if not text:
            # Everything: `library` first, then by popularity alone.
            library = (
                f"({TABLE}.namespace_id"
                " = (SELECT id FROM accounts_namespace WHERE name = %(library)s))"
            )
            self.strong = self.name_match = library
            self.weak = f"{library} IS NOT TRUE"
            self.relevance = "1.0::float8"
            self.exact = "0"
            return
        ns, name = search.split(text)
        self.params |= {
            "text": text,
            "name": name,
            "config": search.TEXT_SEARCH_CONFIG,
            "words": text.replace("/", " "),
            "weights": search.RANK_WEIGHTS,
            "name_length": float(len(name)),
            "typo_relevance": search.TYPO_RELEVANCE,
        }
        # The name holds the query, or its name part, as repos.search.in_name says.
        name_like = self._like("name_like", name)
        text_like = self._like("text_like", text) if text != name else None
        likes = [like for like in [name_like, text_like] if like]
        closeness = []
        if name_like:
            closeness.append(
                f"WHEN {name_like} THEN %(name_length)s::float8 / length({TABLE}.name)"
            )
        if name_like and " " not in name and len(name) in search.TYPO_LENGTHS:
            self.params |= {"typo_word": name, "typo_alphabet": search.TYPO_ALPHABET}
            self.near = (
                f"near AS MATERIALIZED (SELECT ARRAY(SELECT DISTINCT {TABLE}.name FROM {TABLE}"
                f" WHERE {self.where} AND {TABLE}.name = ANY(({search.TYPOS_SQL})::varchar[])"
                f" AND NOT EXISTS (SELECT 1 FROM {TABLE} WHERE {self.where} AND {name_like})"
                ")::varchar[] AS names),"
            )
            typo = f"{TABLE}.name = ANY((SELECT names FROM near)::varchar[])"
            likes.append(typo)
            closeness.append(f"WHEN {typo} THEN %(typo_relevance)s::float8")
        query = "websearch_to_tsquery(%(config)s::regconfig, %(words)s)"
        self.name_match = f"({' OR '.join(likes) or 'false'})"
        self.strong = f"({self.name_match} OR {TABLE}.search_title @@ {query})"
        self.weak = f"{TABLE}.search_document @@ {query}"
        # float8 throughout: numeric arithmetic costs a microsecond a row.
        case = f"CASE {' '.join(closeness)} ELSE 0::float8 END" if closeness else "0::float8"
        self.relevance = (
            f"(ts_rank(%(weights)s::float4[], {TABLE}.search_title, {query})"
            f" + {case} + %(readme_relevance)s::float8)"
        )
        self.params["ns"] = ns
        self.exact = (
            "CASE WHEN namespace_name = %(ns)s AND name = %(name)s THEN 2"
            " WHEN name IN (%(text)s, %(name)s) THEN 1 ELSE 0 END"
            if ns
            else "CASE WHEN name = %(text)s THEN 1 ELSE 0 END"
        )

    def _like(self, key: str, part: str) -> str | None:
        """`name LIKE` the part, anywhere or at the start (a parameter named `key`), or None."""
        lookup = search.in_name(part)
        if lookup is None:
            return None
        anywhere = "%" if lookup == "contains" else ""
        self.params[key] = f"{anywhere}{connection.ops.prep_for_like_query(part)}%"
        return f"{TABLE}.name::text LIKE %({key})s"

    def _visible(self, principal: Principal) -> str:
        query = pullable_repositories(principal, Repository.objects.all()).query
        sql, params = query.get_compiler(connection=connection).compile(query.where)
        sql, named = _named(sql, params, "visible")
        self.params |= named
        return sql

    def _filters(
        self, namespace: str | None, official: bool | None, automated: bool | None
    ) -> list[str]:
        filters = []
        owner = TABLE + ".namespace_id {} (SELECT id FROM accounts_namespace WHERE name = %({})s)"
        if namespace:
            self.params["namespace"] = namespace
            filters.append(owner.format("=", "namespace"))
        if official is not None:
            filters.append(owner.format("=" if official else "IS DISTINCT FROM", "library"))
        if automated is not None:
            built = f"EXISTS (SELECT 1 FROM builds_buildsource WHERE repository_id = {TABLE}.id)"
            filters.append(built if automated else f"NOT {built}")
        return filters

    def sql(self, start: int, stop: int) -> tuple[str, dict]:
        """The statement for the results [start:stop] (stop at most COUNT_CAP + 1) and the
        counts."""
        params = self.params | {"offset": start, "limit": stop - start, "stop": stop}
        key = f"{TABLE}.{WEAK_KEY[self.sort]}"

        def weak_wanted(strong_count: str) -> str:
            # Best match ranks README-only hits after every strong one: with `stop` strong
            # hits, none can reach the page.
            return f"{strong_count} < %(stop)s" if self.sort == "best" else "true"

        weak_only = f"{self.where} AND {self.weak} AND {self.strong} IS NOT TRUE"
        order = f"{ORDER[self.sort]}, namespace_name, name"
        sql = f"""
WITH {self.near}
strong AS MATERIALIZED (
    SELECT {TABLE}.id, {TABLE}.namespace_id, {TABLE}.name, {TABLE}.pull_count, {TABLE}.updated,
        {self.name_match} AS name_match, {self.relevance} * {TABLE}.search_popularity AS score
    FROM {TABLE} WHERE {self.where} AND {self.strong}
),
weak AS MATERIALIZED (
    SELECT id, namespace_id, name, pull_count, updated, search_popularity
    FROM {TABLE} WHERE {weak_only}
    ORDER BY {key} DESC FETCH FIRST (%(cap)s + 1) ROWS WITH TIES
),
counted AS MATERIALIZED (
    SELECT s.n AS strong_n, CASE
        WHEN s.n > %(cap)s THEN s.n
        WHEN {weak_wanted("s.n")} THEN s.n + (SELECT count(*) FROM weak)
        ELSE s.n + (SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE {weak_only}
            LIMIT %(cap)s + 1) readme)
    END AS n
    FROM (SELECT count(*) AS n FROM strong) s
),
hit AS (
    SELECT id, namespace_id, name, pull_count, updated, name_match, 1 AS strong, score
    FROM strong
    UNION ALL
    SELECT id, namespace_id, name, pull_count, updated, false, 0,
        %(readme_relevance)s::float8 * search_popularity
    FROM weak WHERE {weak_wanted("(SELECT strong_n FROM counted)")}
),
page AS (
    SELECT *, {self.exact} AS exact,
        CASE WHEN name_match AND namespace_name = %(library)s THEN 1 ELSE 0 END AS official_match
    FROM (SELECT hit.*, ns.name AS namespace_name
        FROM hit JOIN accounts_namespace ns ON ns.id = hit.namespace_id) named
    ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s
)
SELECT counted.n, {SELECTED_COLUMNS},
    EXISTS (SELECT 1 FROM builds_buildsource WHERE repository_id = r.id)
FROM counted LEFT JOIN page ON true
    LEFT JOIN {TABLE} r ON r.id = page.id LEFT JOIN accounts_namespace n ON n.id = r.namespace_id
ORDER BY {", ".join(f"page.{term}" for term in order.split(", "))}"""
        return sql, params


class PostgresqlResults:
    """The ranked hits of a search on PostgreSQL, as repos.search.SearchResults: counted up to
    COUNT_CAP + 1 and sliced as pages, each page with its counts in one statement. The
    paginator asks for the page ahead (prefetch) so that counting it costs nothing more."""

    def __init__(self, statement: Statement):
        self.statement = statement
        self._count: int | None = None
        self._window: tuple[int, int] = (0, 0)
        self._rows: list[Repository] = []

    def prefetch(self, start: int, stop: int) -> None:
        """Fetch the results [start:stop] and the counts, unless already fetched."""
        start, stop = min(start, search.COUNT_CAP), min(stop, search.COUNT_CAP)
        if self._count is not None and self._window[0] <= start and stop <= self._window[1]:
            return
        sql, params = self.statement.sql(start, stop)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        self._count = rows[0][0]
        self._window = (start, stop)
        self._rows = [self._repository(row[1:]) for row in rows if row[1] is not None]

    @staticmethod
    def _repository(row: tuple) -> Repository:
        split = len(REPOSITORY_FIELDS)
        repository = Repository.from_db(connection.alias, REPOSITORY_FIELDS, row[:split])
        repository.namespace = Namespace.from_db(
            connection.alias, NAMESPACE_FIELDS, row[split : split + len(NAMESPACE_FIELDS)]
        )
        repository.is_automated = row[-1]
        return repository

    def count(self) -> int:
        """How many hits, up to COUNT_CAP + 1 (more than the cap, then)."""
        if self._count is None:
            self.prefetch(0, 0)
        return min(self._count, search.COUNT_CAP + 1)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, page: slice) -> list[Repository]:
        start, stop = search.page_bounds(page)
        self.prefetch(start, stop)
        first = start - self._window[0]
        return self._rows[first : first + max(stop - start, 0)]

    def __iter__(self) -> Iterator[Repository]:
        """The first COUNT_CAP hits, as far as pages reach."""
        return iter(self[0 : search.COUNT_CAP])
