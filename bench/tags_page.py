"""Tags page of a repository with 2,000 tags: server time per request (goal: p95 ≤ 50 ms).

Runs Django in this process (bench.harness.Stack: a throw-away data directory and database,
PostgreSQL when DATABASE_URL names a server, SQLite otherwise) and requests the page through
Django's test client: the whole request path (middleware, session, access rules, queries,
template) without a network or a WSGI server in front.

    .venv/bin/python bench/tags_page.py [--requests 300] [--tags 2000]
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Stack, machine  # noqa: E402

GOAL_P95_MS = 50.0
WARM_UP = 20


def populate(stack: Stack, tag_count: int) -> None:
    """alice/big (public) and acme/big (private, read for bob through a team), each with
    tag_count tags; every tenth tag is a two-platform index."""
    from django.utils import timezone

    from accounts.models import Namespace
    from orgs.models import Organization, Team, TeamMembership, TeamPermission
    from repos.models import Manifest, Repository, Tag

    alice, bob = stack.make_user("alice"), stack.make_user("bob")
    acme = Organization.create("acme", alice)
    readers = Team.objects.create(organization=acme, name="readers")
    TeamMembership.objects.create(team=readers, user=bob)
    now = timezone.now()
    layers = [
        {"digest": f"sha256:{n:064x}", "size": 1_000_000 * n, "media_type": "", "instruction": ""}
        for n in range(1, 6)
    ]
    for namespace, private in ((alice.username, False), ("acme", True)):
        repository = Repository.objects.create(
            namespace=Namespace.objects.get(name=namespace), name="big", is_private=private
        )
        if private:
            TeamPermission.objects.create(team=readers, repository=repository, level="read")
        manifests = Manifest.objects.bulk_create(
            Manifest(
                repository=repository,
                digest=f"sha256:{n:064x}",
                media_type="application/vnd.oci.image.manifest.v1+json",
                size=5_000_000 + n,
                platforms=[
                    {"os": "linux", "architecture": arch, "variant": "", "digest": "", "size": 1}
                    for arch in (("amd64", "arm64") if n % 10 == 0 else ("amd64",))
                ],
                layers=layers,
            )
            for n in range(tag_count)
        )
        Tag.objects.bulk_create(
            Tag(
                repository=repository,
                name=f"1.{n}",
                manifest=manifest,
                pushed_at=now - timedelta(minutes=n),
                pushed_by=alice if n % 2 else None,
            )
            for n, manifest in enumerate(manifests)
        )


def measure(client, url: str, requests: int) -> tuple[list[float], int]:
    """Milliseconds of each request after a warm-up, and the queries of one request."""
    from django.db import connection

    for _ in range(WARM_UP):
        assert client.get(url).status_code == 200, url
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    return times, queries


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per case (at least 200)")
    parser.add_argument("--tags", type=int, default=2000)
    args = parser.parse_args()
    stack = Stack("tags-page")
    try:
        stack.django()
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)  # as `make run` does
        populate(stack, args.tags)
        from django.test import Client

        from accounts.models import User

        def client() -> Client:
            return Client(HTTP_HOST=urlsplit(stack.portal_url).netloc)  # an allowed host

        bob = client()
        bob.force_login(User.objects.get(username="bob"))
        last_page = (args.tags + 24) // 25
        cases = [
            ("anonymous, public, newest first", client(), "/r/alice/big/tags/"),
            (
                "anonymous, public, by name, last page",
                client(),
                f"/r/alice/big/tags/?ordering=name&page={last_page}",
            ),
            ("anonymous, public, filter ?name=1.19", client(), "/r/alice/big/tags/?name=1.19"),
            ("bob (team read), private, newest first", bob, "/r/acme/big/tags/"),
            (
                "bob (team read), private, oldest first, page 40",
                bob,
                "/r/acme/big/tags/?ordering=last_pushed&page=40",
            ),
        ]
        print(f"Tags page, {args.tags} tags per repository, {args.requests} requests per case")
        print(f"database: {stack.database}; {machine()}")
        print(f"{'case':52} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} queries")
        all_times: list[float] = []
        for label, client, url in cases:
            times, queries = measure(client, url, args.requests)
            all_times += times
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            p99 = percentile(times, 0.99)
            print(f"{label:52} {p50:7.1f} {p95:7.1f} {p99:7.1f} {max(times):7.1f} {queries:7}")
        p95 = percentile(all_times, 0.95)
        verdict = "met" if p95 <= GOAL_P95_MS else "MISSED"
        goal = f"goal ≤ {GOAL_P95_MS:.0f} ms: {verdict}"
        print(f"all {len(all_times)} requests: p95 {p95:.1f} ms ({goal})")
        return 0 if p95 <= GOAL_P95_MS else 1
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
