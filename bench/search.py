"""Search over 100,000 public repositories: server time per request (goal: p95 ≤ 30 ms).

    .venv/bin/python bench/search.py [--repos 100000] [--rounds 5] [--explain] [--keep]
    .venv/bin/python bench/search.py --database dockyard_bench_<hex>   # a kept one, again

Creates a fresh PostgreSQL database (DATABASE_URL's server, by default
postgres://postgres@127.0.0.1:5432; it is dropped at the end), migrates it, and fills it with
COPY: a few thousand namespaces (users and organizations), `library` with ~100 official
images, 100,000 public repositories with names from word lists, short descriptions, READMEs of
a few paragraphs, pull counts with a long tail and star rows (repos.Star) that follow the
pulls. Then it asks 50 representative queries (exact names, ns/name, prefixes, typos,
two-word queries, README-only terms, a namespace, a no-hit query) of

    web     GET /search/?q=…                    (the search page, HTML)
    api     GET /v2/search/repositories/?query=…   (the Hub API, JSON)
    v1      GET /v1/search?q=…                  (what `docker search` / `podman search` ask)

in-process through Django's test client (middleware, session, access rules, queries,
template; no network, no WSGI server), as an anonymous visitor (or, with --as NAME, signed in
as that user, whose private repositories and teams' grants the access rules then weigh on every
hit), one warm-up round and then
--rounds measured rounds, and prints p50 / p95 / max per endpoint and the slowest queries.
`--explain` also prints EXPLAIN ANALYZE of the SQL of the slowest queries. `--keep` keeps the
generated database (with its query set in its comment) and prints its name; `--database NAME`
measures on it again (migrated first) without generating anything: minutes saved per try.
"""

import argparse
import json
import os
import random
import signal
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Stack, machine  # noqa: E402

GOAL_P95_MS = 30.0
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
SEED = 20261127
AUTOMATED_SHARE = 0.1

# -- word lists --------------------------------------------------------------------------------
OFFICIAL = """nginx busybox alpine ubuntu debian centos fedora postgres mysql mariadb redis
mongo memcached python node golang openjdk eclipse-temurin ruby php perl rust gcc httpd
tomcat traefik haproxy caddy rabbitmq elasticsearch kibana logstash influxdb telegraf
chronograf cassandra couchdb couchbase neo4j solr zookeeper consul vault registry docker
jenkins sonarqube nextcloud wordpress drupal joomla ghost mediawiki redmine odoo rocket.chat
mongo-express adminer phpmyadmin composer maven gradle groovy clojure erlang elixir haskell
julia swift dart r-base pypy jruby hylang bash buildpack-deps amazonlinux oraclelinux
rockylinux almalinux photon clearlinux archlinux opensuse mageia sl eggdrop irssi znc
nats emqx eclipse-mosquitto varnish kong percona mongo-express teamspeak spiderfoot
matomo yourls friendica backdrop silverpeas xwiki plone convertigo express-gateway
storm flink kapacitor""".split()
TECH = """nginx redis postgres mysql mariadb mongo python node golang java php ruby rust alpine
debian ubuntu busybox kafka rabbitmq elasticsearch grafana prometheus traefik haproxy jenkins
gitlab wordpress django flask rails spring tomcat httpd memcached minio vault consul etcd
zookeeper cassandra clickhouse influxdb telegraf fluentd logstash kibana jupyter tensorflow
pytorch openjdk dotnet deno bun caddy envoy istio keycloak nextcloud sonarqube airflow spark
hadoop superset metabase ghost drupal mattermost selenium chromium terraform ansible kubectl
helm awscli certbot openvpn wireguard pihole homeassistant mosquitto nodered jellyfin sonarr
radarr transmission syncthing gitea drone sentry redmine odoo neo4j couchdb arangodb
cockroachdb timescaledb laravel symfony nextjs react vue angular svelte express fastapi
celery uwsgi gunicorn puppeteer playwright ffmpeg imagemagick libreoffice latex hugo jekyll
mkdocs sphinx""".split()
ROLE = """server proxy worker api app web backend frontend exporter operator agent cli builder
runner base tools dev client gateway sidecar daemon scheduler bot dashboard collector backup
sync monitor cache queue db ci lb relay bridge controller manager service lambda migrate
toolbox sdk plugin connector ingest""".split()
ADJ = """fast tiny slim secure simple minimal lightweight custom auto multi smart cloud micro
hyper super open easy mini rootless hardened portable modern""".split()
DOMAIN = """log metrics auth payment image video mail chat search ml data file blog shop game
media iot dns vpn git docs build test analytics geo billing notification crawler scraper pdf
invoice inventory ticket booking weather news music photo wiki forum crm erp hr survey
calendar kanban""".split()
LANG = "Python Go Rust Java Node.js TypeScript PHP Ruby Kotlin Elixir C++ .NET".split()
SYLLABLES = "ka zo ri mu ne ta lo vi sen dra kor fen bel tix nor pa lu gri mo ven".split()
FILLER = """the a this image container runs with and for your on in to of it is by as from
that you can use be default port volume environment variable config file data directory
user group build tag version latest stable release update upgrade install setup deploy
cluster node host network service process memory cpu disk storage persistent mount secret
password key token certificate tls ssl https http request response health status ready
start stop restart log output debug error warning timeout retry limit size small fast
production development staging test local remote mirror upstream official community
maintained supported platform architecture amd64 arm64 multi stage compose kubernetes
swarm helm chart values override entrypoint command argument script shell bash sh
package dependency library binary source code repository branch commit pull push""".split()
# Words and phrases that only ever appear in READMEs, never in a name or a description.
README_ONLY = {
    "supervisord": 0.02,
    "s6-overlay": 0.01,
    "gosu": 0.005,
    "healthcheck": 0.05,
    "graceful shutdown": 0.01,
    "letsencrypt": 0.01,
    "zxventure": 0.0003,  # rare: ~30 repositories
}
WELL_KNOWN = {  # organizations with their usual repositories, so ns/name queries are realistic
    "bitnami": "redis postgresql nginx mysql mongodb kafka rabbitmq wordpress kubectl".split(),
    "linuxserver": "jellyfin sonarr radarr plex nextcloud syncthing transmission".split(),
    "grafana": "grafana loki promtail tempo mimir agent".split(),
    "prom": "prometheus node-exporter alertmanager pushgateway blackbox-exporter".split(),
    "hashicorp": "vault consul terraform nomad packer".split(),
    "jenkins": "jenkins inbound-agent ssh-agent".split(),
}


# -- data --------------------------------------------------------------------------------------
def pick_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.03:
        return rng.choice(TECH)
    if r < 0.33:
        return f"{rng.choice(TECH)}-{rng.choice(ROLE)}"
    if r < 0.58:
        return f"{rng.choice(DOMAIN)}-{rng.choice(ROLE)}"
    if r < 0.68:
        return f"{rng.choice(ADJ)}-{rng.choice(TECH)}"
    if r < 0.78:
        return f"{rng.choice(TECH)}-{rng.choice(DOMAIN)}-{rng.choice(ROLE)}"
    if r < 0.83:
        return f"{rng.choice(DOMAIN)}{rng.choice(ROLE)}"
    if r < 0.93:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return f"{rng.choice(TECH)}{rng.randint(2, 20)}"


def pick_description(rng: random.Random, name: str) -> str:
    r = rng.random()
    tech = rng.choice(TECH)
    if r < 0.12:
        return ""
    if r < 0.35:
        adj, domain, role = rng.choice(ADJ), rng.choice(DOMAIN), rng.choice(ROLE)
        text = f"{adj.capitalize()} {tech} image for {domain} {role}s"
    elif r < 0.55:
        text = f"A {rng.choice(DOMAIN)} {rng.choice(ROLE)} written in {rng.choice(LANG)}"
    elif r < 0.75:
        text = f"{name} with {tech} and {rng.choice(TECH)}"
    elif r < 0.9:
        text = (
            f"{tech.capitalize()} {rng.choice(ROLE)} for {rng.choice(DOMAIN)} on {rng.choice(TECH)}"
        )
    else:
        text = f"Docker image of {name}"
    return text[:100]


def sentence(rng: random.Random, extra: list[str]) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(8, 16))]
    for word in extra:
        words.insert(rng.randrange(len(words)), word)
    return " ".join(words).capitalize() + "."


def pick_readme(rng: random.Random, namespace: str, name: str, description: str) -> str:
    if rng.random() < 0.2:
        return ""
    terms = [rng.choice(TECH), rng.choice(DOMAIN), rng.choice(ROLE)]
    rare = [term for term, share in README_ONLY.items() if rng.random() < share]
    paragraphs = [f"# {name}", description or f"The {name} image."]
    for n in range(rng.randint(2, 4)):
        extra = [terms[n % 3]] + (rare if n == 0 else [])
        paragraphs.append(" ".join(sentence(rng, extra) for _ in range(rng.randint(2, 5))))
    paragraphs.append(f"## Usage\n\n```\ndocker run -d -p 8080:80 {namespace}/{name}\n```")
    if rng.random() < 0.5:
        paragraphs.append(
            "## Configuration\n\n"
            + "\n".join(f"- `{rng.choice(FILLER).upper()}_{rng.choice(FILLER).upper()}`: "
                        + sentence(rng, []) for _ in range(rng.randint(2, 5)))
        )  # fmt: skip
    paragraphs.append("## License\n\nMIT")
    return "\n\n".join(paragraphs)


def long_tail_pulls(rng: random.Random) -> int:
    # Pareto: most repositories are pulled a handful of times, a few millions of times.
    return min(int(rng.paretovariate(0.55)) - 1, 500_000_000)


def copy_rows(model, objects: list, exclude: tuple[str, ...] = ("id",)) -> None:
    """COPY model instances into their table: every concrete column but the excluded ones."""
    from django.db import connection

    fields = [
        f for f in model._meta.concrete_fields
        if f.column not in exclude and not getattr(f, "generated", False)
    ]  # fmt: skip
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    connection.ensure_connection()
    sql = f"COPY {table} ({columns}) FROM STDIN"
    with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for obj in objects:
            copy.write_row(
                [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            )


def populate(repo_count: int, rng: random.Random) -> dict:
    """Users, organizations, repositories and stars; returns facts the query set needs."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from accounts.models import Namespace, User
    from orgs.models import Organization
    from repos.models import Repository, Star

    now = datetime.now(UTC)
    started = time.monotonic()
    user_count = max(50, repo_count // 40)  # 2,500 users for 100,000 repositories
    org_count = max(20, repo_count // 125)  # 800 organizations
    password = make_password(None)  # unusable: nobody signs in as them
    usernames: set[str] = set()
    while len(usernames) < user_count:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        usernames.add(stem + (str(rng.randint(1, 999)) if rng.random() < 0.4 else ""))
    orgnames: set[str] = set(WELL_KNOWN)
    while len(orgnames) < org_count:
        orgnames.add(
            rng.choice(SYLLABLES)
            + rng.choice(SYLLABLES)
            + rng.choice(["io", "labs", "hq", "dev", "cloud", "tech", ""])
        )
    orgnames -= usernames
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(username=u, email=f"{u}@example.com", password=password,
                 date_joined=now - timedelta(days=rng.randint(0, 2000)))
            for u in sorted(usernames)
        )  # fmt: skip
        namespaces = Namespace.objects.bulk_create(
            [Namespace(name=u, kind=Namespace.Kind.USER) for u in sorted(usernames)]
            + [Namespace(name=o, kind=Namespace.Kind.ORG) for o in sorted(orgnames | {"library"})]
        )
        Organization.objects.bulk_create(
            Organization(namespace=ns) for ns in namespaces if ns.kind == Namespace.Kind.ORG
        )
    by_name = {ns.name: ns for ns in namespaces}
    user_by_name = {u.username: u for u in users}
    ordinary = [ns for ns in namespaces if ns.name != "library"]
    # Some namespaces publish a lot: weight the choice with a long tail too.
    weights = [rng.paretovariate(1.2) for _ in ordinary]

    pairs: set[tuple[str, str]] = set()
    repos: list[Repository] = []

    def add(namespace: str, name: str, pulls: int, description: str | None = None) -> None:
        if (namespace, name) in pairs:
            return
        pairs.add((namespace, name))
        ns = by_name[namespace]
        description = pick_description(rng, name) if description is None else description
        created = now - timedelta(days=rng.uniform(1, 2500))
        updated = created + (now - created) * rng.random()
        repos.append(
            Repository(
                namespace_id=ns.id,
                name=name,
                description=description,
                full_description=pick_readme(rng, namespace, name, description),
                is_private=False,
                state=Repository.State.ACTIVE,
                created_by_id=user_by_name[namespace].id if namespace in user_by_name else None,
                created=created,
                updated=updated,
                last_pushed=updated,
                pull_count=pulls,
            )
        )

    for image in OFFICIAL:
        add("library", image, rng.randint(10_000_000, 5_000_000_000),
            f"Official {image} image: {rng.choice(ADJ)} and maintained upstream.")  # fmt: skip
    for org, names in WELL_KNOWN.items():
        for name in names:
            add(org, name, rng.randint(1_000_000, 500_000_000))
    while len(repos) < repo_count:
        ns = rng.choices(ordinary, weights)[0]
        add(ns.name, pick_name(rng), long_tail_pulls(rng))
    generated = time.monotonic() - started
    with transaction.atomic():
        copy_rows(Repository, repos)
    ids = {
        (ns, name): pk
        for pk, ns, name in Repository.objects.values_list("pk", "namespace__name", "name")
    }
    # Stars follow the pulls: a few thousand for the most pulled, none for most.
    user_ids = [u.id for u in users]
    stars: list[Star] = []
    star_counts: dict[int, int] = {}
    for repo in repos:
        pk = ids[(by_name_rev(namespaces, repo.namespace_id), repo.name)]
        k = min(len(user_ids), int(repo.pull_count**0.4 * rng.random() * 0.4))
        star_counts[pk] = k
        for uid in rng.sample(user_ids, k):
            stars.append(Star(repository_id=pk, user_id=uid, created=now))
    with transaction.atomic():
        copy_rows(Star, stars)
    # A denormalised star count, if the search reads one, is kept in step here.
    field_names = {f.name for f in Repository._meta.concrete_fields}
    if "star_count" in field_names or "stars_count" in field_names:
        column = "star_count" if "star_count" in field_names else "stars_count"
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE repos_repository r SET {column} = s.n FROM (SELECT repository_id, "
                f"count(*) n FROM repos_star GROUP BY repository_id) s WHERE s.repository_id = r.id"
            )
    # One repository in ten is built from GitHub, as automated builds were common on Docker
    # Hub: `is_automated` on every result reads builds_buildsource. Its own random source, so
    # that the rest of the data and the query set stay as they were.
    from builds.models import BuildSource

    automated_rng = random.Random(SEED + 1)
    sources = [
        BuildSource(
            repository_id=pk, github_id=pk, github_full_name=f"{ns}/{name}",
            clone_url=f"https://github.com/{ns}/{name}.git",
            html_url=f"https://github.com/{ns}/{name}", webhook_secret="0" * 64, created=now,
        )
        for (ns, name), pk in sorted(ids.items(), key=lambda item: item[1])
        if automated_rng.random() < AUTOMATED_SHARE
    ]  # fmt: skip
    with transaction.atomic():
        copy_rows(BuildSource, sources)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"generated {len(namespaces)} namespaces ({len(users)} users, {len(orgnames) + 1} "
        f"organizations), {len(repos)} repositories ({len(sources)} built from GitHub), "
        f"{len(stars)} stars in "
        f"{time.monotonic() - started:.0f} s ({generated:.0f} s of it in Python)",
        flush=True,
    )
    user_repos = [
        (by_name_rev(namespaces, r.namespace_id), r.name)
        for r in repos
        if r.pull_count > 1000 and by_name_rev(namespaces, r.namespace_id) != "library"
    ]
    return {"user_repos": user_repos, "namespaces": [ns.name for ns in ordinary]}


_NS_BY_ID: dict[int, str] = {}


def by_name_rev(namespaces, namespace_id: int) -> str:
    if not _NS_BY_ID:
        _NS_BY_ID.update({ns.id: ns.name for ns in namespaces})
    return _NS_BY_ID[namespace_id]


# -- the query set -----------------------------------------------------------------------------
def query_set(facts: dict, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, query): 50 queries, the same for every run with the same seed."""
    popular = sorted(facts["user_repos"])
    some = rng.sample(popular, 3)
    queries = [
        # exact names of official images (and of many look-alikes in user namespaces)
        ("exact", "nginx"), ("exact", "busybox"), ("exact", "alpine"), ("exact", "postgres"),
        ("exact", "redis"), ("exact", "python"), ("exact", "node"), ("exact", "traefik"),
        # namespace/name
        ("ns/name", "library/nginx"), ("ns/name", "bitnami/redis"),
        ("ns/name", "grafana/loki"), ("ns/name", "prom/node-exporter"),
        *[("ns/name", f"{ns}/{name}") for ns, name in some],
        # prefixes (as typed into the header box)
        ("prefix", "ngi"), ("prefix", "post"), ("prefix", "elastic"), ("prefix", "kube"),
        ("prefix", "graf"), ("prefix", "rabbit"),
        # typos
        ("typo", "busybx"), ("typo", "ngnix"), ("typo", "postgress"), ("typo", "alpin"),
        ("typo", "ubunut"), ("typo", "pyhton"), ("typo", "redsi"), ("typo", "elasticsaerch"),
        ("typo", "grafna"), ("typo", "jenkis"),
        # two words
        ("two words", "web server"), ("two words", "log collector"),
        ("two words", "python flask"), ("two words", "reverse proxy"),
        ("two words", "nginx exporter"), ("two words", "postgres backup"),
        ("two words", "node alpine"), ("two words", "payment api"),
        # single common words
        ("word", "proxy"), ("word", "database"), ("word", "operator"), ("word", "monitor"),
        # only in READMEs
        ("readme", "supervisord"), ("readme", "s6-overlay"), ("readme", "graceful shutdown"),
        ("readme", "zxventure"),
        # a namespace
        ("namespace", "bitnami"), ("namespace", "linuxserver"),
        # nothing
        ("no hit", "qwxzvbnmkj"),
    ]  # fmt: skip
    assert len(queries) == 50, len(queries)
    return queries


# -- measuring ---------------------------------------------------------------------------------
ENDPOINTS = {
    "web": "/search/?q={}",
    "api": "/v2/search/repositories/?query={}",
    "v1": "/v1/search?q={}",
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(
    client, endpoints: dict[str, str], queries, rounds: int, budget: float, timeout_ms: int
) -> dict:
    """{endpoint: {query: [ms, …]}}, the SQL milliseconds and statements per request, the
    hits per query, the queries that hit the statement timeout, and the rounds completed.

    A request whose SQL exceeds the statement timeout counts as `timeout_ms` and is not asked
    again; when the time budget runs out, the rounds done so far are reported."""
    from django.db import connection

    times = {e: {q: [] for _, q in queries} for e in endpoints}
    sql = {e: {q: [0.0, 0] for _, q in queries} for e in endpoints}
    hits: dict[str, int] = {}
    timed_out: set[tuple[str, str]] = set()
    deadline = time.monotonic() + budget
    current = [0.0, 0]

    def timed(execute, sql_, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql_, params, many, context)
        finally:
            current[0] += (time.perf_counter() - start) * 1000
            current[1] += 1

    done = 0
    for round_ in range(rounds + 1):  # round 0 warms up
        if round_ > 1 and time.monotonic() > deadline:
            break
        for endpoint, pattern in endpoints.items():
            for _, query in queries:
                if (endpoint, query) in timed_out:
                    times[endpoint][query].append(float(timeout_ms))
                    continue
                url = pattern.format(quote(query))
                current[:] = [0.0, 0]
                with connection.execute_wrapper(timed):
                    start = time.perf_counter()
                    try:
                        response = client.get(url)
                    except Exception as error:  # the statement timeout
                        if "statement timeout" not in str(error):
                            raise
                        timed_out.add((endpoint, query))
                        times[endpoint][query].append(float(timeout_ms))
                        continue
                    elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 200, (url, response.status_code)
                if round_ == 0:
                    if endpoint == "api":
                        hits[query] = response.json().get("count", -1)
                    continue
                times[endpoint][query].append(elapsed)
                sql[endpoint][query][0] += current[0]
                sql[endpoint][query][1] = current[1]
        print(f"  round {round_} done" + (" (warm-up)" if round_ == 0 else ""), flush=True)
        done = round_
    for endpoint in endpoints:  # timed-out warm-ups counted once too: drop those
        for query in times[endpoint]:
            del times[endpoint][query][done:]
            if not times[endpoint][query]:
                times[endpoint][query].append(float(timeout_ms))
            measured = max(1, done)
            sql[endpoint][query][0] /= measured
    return {"times": times, "sql": sql, "hits": hits, "timed_out": timed_out, "rounds": done}


def explain(query: str) -> None:
    """EXPLAIN ANALYZE of every statement that the search runs for this query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from repos.access import ANONYMOUS
    from repos.search import search_repositories

    with CaptureQueriesContext(connection) as captured:
        result = search_repositories(ANONYMOUS, query)
        list(result[:25]) if hasattr(result, "__getitem__") else None
    with connection.cursor() as cursor:
        for statement in captured.captured_queries:
            sql = statement["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            print(f"\n-- {query!r}: {sql[:300]}…")
            print("\n".join(row[0] for row in cursor.fetchall()))


def reuse(stack: Stack, name: str) -> None:
    """Point the stack at a database kept by --keep (migrated again, in case) and drop the
    fresh one it made."""
    stack._drop_pg_database()
    parts = urlsplit(stack.env["DATABASE_URL"])
    stack.env["DATABASE_URL"] = parts._replace(path=f"/{name}").geturl()
    stack.pg_database = ""  # not dropped by close()
    stack.kept = name


def keep_queries(queries: list[tuple[str, str]]) -> None:
    """The query set, stored with the kept database (its comment), for --database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()
        literal = json.dumps(queries).replace("'", "''")
        cursor.execute(f"COMMENT ON DATABASE \"{name}\" IS '{literal}'")


def kept_queries() -> list[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = current_database()")  # fmt: skip
        (comment,) = cursor.fetchone()
    if not comment:
        sys.exit("--database: not a database kept by --keep (no query set in its comment)")
    return [tuple(query) for query in json.loads(comment)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (at least 5)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest")
    parser.add_argument("--endpoint", action="append", choices=list(ENDPOINTS))
    parser.add_argument("--budget", type=float, default=900, help="seconds for measuring")
    parser.add_argument("--statement-timeout", type=int, default=3000, help="ms per SQL statement")
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated database (its name is printed)"
    )
    parser.add_argument(
        "--database", help="measure on a database kept by --keep instead of generating one"
    )
    parser.add_argument("--as", dest="username", help="measure signed in as this user")
    args = parser.parse_args()
    if not 5 <= args.rounds <= 50:
        parser.error("--rounds: between 5 and 50")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        os.environ["DATABASE_URL"] = DEFAULT_SERVER  # the benchmark is about PostgreSQL
    print(machine(), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the database is dropped
    stack = Stack("search")
    if args.database:
        reuse(stack, args.database)
    try:
        stack.django()
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)  # as `make run` does
        if args.database:
            queries = kept_queries()
        else:
            rng = random.Random(SEED)
            facts = populate(args.repos, rng)
            queries = query_set(facts, rng)
            if args.keep:
                keep_queries(queries)
                print(f"kept database {stack.pg_database}: --database {stack.pg_database}")
                stack.kept, stack.pg_database = stack.pg_database, ""  # not dropped by close()
        from django.test import Client

        client = Client(HTTP_HOST=urlsplit(stack.portal_url).netloc)  # an allowed host
        if args.username:
            from accounts.models import User

            client.force_login(User.objects.get(username=args.username))
        endpoints = {}
        for endpoint in args.endpoint or ENDPOINTS:
            status = client.get(ENDPOINTS[endpoint].format("nginx")).status_code
            if status == 200:
                endpoints[endpoint] = ENDPOINTS[endpoint]
            else:
                print(
                    f"{endpoint}: {ENDPOINTS[endpoint].format('nginx')} answers {status}; skipped"
                )
        if not endpoints:
            return 2
        started = time.monotonic()
        from django.db import connections

        # Bounded: no statement runs away (every new connection gets the timeout from libpq).
        connections.close_all()
        os.environ["PGOPTIONS"] = f"-c statement_timeout={int(args.statement_timeout)}"
        result = measure(
            client, endpoints, queries, args.rounds, args.budget, args.statement_timeout
        )
        print(
            f"database: {getattr(stack, 'kept', '') or stack.database}; {len(queries)} queries "
            f"× {len(endpoints)} endpoints "
            f"× {result['rounds']} rounds (of {args.rounds} asked) after 1 warm-up round, "
            f"{'as ' + args.username if args.username else 'anonymous'}, in-process "
            f"({time.monotonic() - started:.0f} s)"
        )
        if result["timed_out"]:
            print(
                f"{len(result['timed_out'])} requests hit the statement timeout "
                f"({args.statement_timeout} ms; counted as that): "
                + ", ".join(f"{e} {q!r}" for e, q in sorted(result["timed_out"]))
            )
        print(f"\n{'endpoint':8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  SQL p50  goal")
        met = True
        for endpoint in endpoints:
            all_times = [t for ts in result["times"][endpoint].values() for t in ts]
            sql_ms = [s for s, _ in result["sql"][endpoint].values()]
            p95 = percentile(all_times, 0.95)
            verdict = "met" if p95 <= GOAL_P95_MS else "MISSED"
            if endpoint in ("web", "api"):
                met &= p95 <= GOAL_P95_MS
            print(
                f"{endpoint:8} {statistics.median(all_times):7.1f} {p95:7.1f} "
                f"{percentile(all_times, 0.99):7.1f} {max(all_times):7.1f}  "
                f"{statistics.median(sql_ms):7.1f}  p95 ≤ {GOAL_P95_MS:.0f} ms: {verdict}"
            )
        print(
            f"\n{'kind':10} {'query':24} {'hits':>6} "
            + " ".join(f"{e + ' p50':>8} {e + ' max':>8} {'SQL':>5} {'n':>2}" for e in endpoints)
        )
        for kind, query in queries:
            row = f"{kind:10} {query[:24]:24} {result['hits'].get(query, -1):6} "
            for endpoint in endpoints:
                ts = result["times"][endpoint][query]
                sql_ms, statements = result["sql"][endpoint][query]
                row += f"{statistics.median(ts):8.1f} {max(ts):8.1f} {sql_ms:5.1f} {statements:2} "
            print(row)
        if args.explain:
            by_cost = sorted(
                queries,
                key=lambda kq: (
                    -statistics.median(result["times"]["api"][kq[1]]) if "api" in endpoints else 0
                ),
            )
            for _, query in by_cost[:4]:
                explain(query)
        print(f"\nweb and API search p95 ≤ {GOAL_P95_MS:.0f} ms: {'met' if met else 'NOT met'}")
        return 0 if met else 1
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
