"""Search over repositories, for the web pages, the Hub API and /v1/search.

It queries the live rows (on PostgreSQL their search document is kept by a trigger in the same
transaction), so a push, an edited description, a visibility flip, a rename or a deletion shows
at once, and filters through
pullable_repositories so that nobody finds what they may not see.

Ranking, best match: an exact `ns/name` or `name` first, then repositories of `library` whose
name matches, then relevance weighed with pulls and stars on a log scale. Relevance is
PostgreSQL full-text search (name A, namespace B, description B, README C) plus pg_trgm
similarity on the name, which tolerates typos ("busybx" finds busybox). On SQLite a plain
fallback: substring matches on the same fields and, for typos, difflib over the names.
"""

import difflib
from typing import Literal

from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVectorField,
    TrigramSimilarity,
)
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression, RawSQL
from django.db.models.functions import Ln
from django.utils.functional import cached_property

from accounts.models import Namespace

from .access import Principal, pullable_repositories
from .models import Repository

LIBRARY = "library"
Sort = Literal["best", "pulls", "updated"]
SORTS: tuple[Sort, ...] = ("best", "pulls", "updated")
MAX_QUERY_LENGTH = 255
# The text search configuration of the stored document (migration 0004) and of the query: the
# two must be the same for the stemmed words to meet.
TEXT_SEARCH_CONFIG = "english"
# Names this close (difflib's ratio) count as a typo of the query on SQLite.
TYPO_CUTOFF = 0.8
# How much popularity weighs: relevance × (1 + ln(1 + pulls)/PULLS + ln(1 + stars)/STARS).
PULLS_DAMPING = 20.0
STARS_DAMPING = 10.0
# What a hit scores at least on PostgreSQL: a README-only hit (weight C), which is not ranked.
README_RELEVANCE = 0.01
# ts_rank's weights of D, C (README), B (namespace, description) and A (name).
RANK_WEIGHTS = [0.0, 0.0, 0.4, 1.0]
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
    # Under a LIMIT, PostgreSQL prefers a sequential scan that it expects to stop early, and
    # then tests the filter on most rows (60 ms for `proxy` on 20,000 repositories where the
    # indexes answer in 2): not for this statement.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_seqscan', 'off', true)")
        return capped.count()


class CappedPaginator(Paginator):
    """Pages over at most COUNT_CAP results; `capped` tells that there are more."""

    @cached_property
    def _counted(self) -> int:
        return capped_count(self.object_list)

    @cached_property
    def count(self) -> int:
        return min(self._counted, COUNT_CAP)

    @property
    def capped(self) -> bool:
        return self._counted > COUNT_CAP


class TrigramMatch(Func):
    """`name % 'text'`: pg_trgm similarity above its threshold (0.3), answered by the trigram
    GIN index on the name."""

    arg_joiner = " %% "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def stored_document() -> RawSQL:
    """The stored, weighted text of a repository (migration 0004's column, kept by a trigger,
    with its GIN index); PostgreSQL only."""
    return RawSQL('"repos_repository"."search_document"', [], output_field=SearchVectorField())


def normalize(query: str) -> str:
    return " ".join(query.strip().lower().split())[:MAX_QUERY_LENGTH]


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def visible(principal: Principal) -> QuerySet[Repository]:
    """Every repository the principal may see, with its namespace, tag and star counts."""
    return pullable_repositories(
        principal, Repository.objects.select_related("namespace").with_counts()
    )


def search_repositories(
    principal: Principal,
    query: str,
    *,
    namespace: str | None = None,
    official: bool | None = None,
    automated: bool | None = None,
    sort: Sort = "best",
) -> QuerySet[Repository]:
    """The repositories the principal may see that match the query, ranked by `sort`.

    An empty query matches everything visible. `official` means the `library` namespace.
    There are no automated builds yet, so `automated=True` finds nothing and `automated=False`
    filters nothing. Rows carry `exact` (2: ns/name, 1: name), `official_match`, `score`,
    `tag_count` and `star_count`.
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
    if automated:
        repositories = repositories.none()
    text = normalize(query)
    if text:
        repositories = _match(repositories, text)
    else:
        repositories = repositories.annotate(
            exact=Value(0),
            official_match=Case(
                When(namespace__name=LIBRARY, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            relevance=Value(1.0),
        )
    repositories = repositories.annotate(score=F("relevance") * _popularity())
    order = {
        "best": ("-exact", "-official_match", "-score", "-pull_count"),
        "pulls": ("-pull_count", "-exact", "-score"),
        "updated": ("-updated", "-exact", "-score"),
    }[sort]
    return repositories.order_by(*order, "namespace__name", "name")


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


def _match(repositories: QuerySet[Repository], text: str) -> QuerySet[Repository]:
    namespace, name = _split(text)
    exact_full = Q(namespace__name=namespace, name=name) if namespace else Q(pk__in=[])
    if is_postgresql():
        # Names are lower case (as the registry wants them) and so is the query: a plain LIKE,
        # which the trigram index answers, where ILIKE on UPPER(name) would read every row.
        name_match = Q(name__contains=text) | Q(TrigramMatch(F("name"), Value(name)))
        if name != text:
            name_match |= Q(name__contains=name)
        words = SearchQuery(
            text.replace("/", " "), config=TEXT_SEARCH_CONFIG, search_type="websearch"
        )
        # Namespaces named by a word of the query, looked up first so that every arm of the
        # filter can use an index.
        namespace_ids = list(
            Namespace.objects.filter(name__in=text.replace("/", " ").split()).values_list(
                "pk", flat=True
            )
        )
        repositories = repositories.alias(document=stored_document()).filter(
            # Cheap arms first: PostgreSQL evaluates an OR in order when it reads every row.
            exact_full | Q(namespace_id__in=namespace_ids) | name_match | Q(document=words)
        )
        # Ranked on the stored document, the README (weight C) weighing nothing: it makes a
        # hit, scored README_RELEVANCE, but does not rank it.
        relevance = (
            SearchRank(stored_document(), words, weights=RANK_WEIGHTS)
            + TrigramSimilarity("name", name)
            + Value(README_RELEVANCE)
        )
    else:
        typos = difflib.get_close_matches(
            name, set(repositories.values_list("name", flat=True)), n=10, cutoff=TYPO_CUTOFF
        )
        name_match = Q(name__icontains=name) | Q(name__in=typos)
        every_word = Q()
        for word in text.replace("/", " ").split():
            every_word &= (
                Q(name__icontains=word)
                | Q(namespace__name__icontains=word)
                | Q(description__icontains=word)
                | Q(full_description__icontains=word)
            )
        repositories = repositories.filter(every_word | name_match | exact_full)
        # The weights of the PostgreSQL vector, roughly: name A, namespace and description B,
        # README C, and a typo below them all.
        relevance = Case(
            When(Q(name__icontains=name), then=Value(1.0)),
            When(
                Q(namespace__name__icontains=name) | Q(description__icontains=name),
                then=Value(0.4),
            ),
            When(full_description__icontains=name, then=Value(0.2)),
            default=Value(0.1),
            output_field=FloatField(),
        )
    return repositories.annotate(
        exact=_exact(text),
        official_match=Case(
            When(name_match & Q(namespace__name=LIBRARY), then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
        relevance=relevance,
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
