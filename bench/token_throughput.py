"""Throughput and latency of the registry token endpoint under gunicorn.

    .venv/bin/python bench/token_throughput.py            # runstack's and 5 × 2 settings
    .venv/bin/python bench/token_throughput.py --matrix   # every gunicorn setting in CONFIGS

Starts a portal (gunicorn, DJANGO_SETTINGS_MODULE=bench.settings, which only adds the bare
`/bench/ok` view) on a free loopback port with a temporary HUB_DATA_DIR and database, then
drives it with `wrk` (Debian package wrk: `apt-get install -y wrk`; without it a slower
built-in asyncio client is used) at 64 connections, for a fixed time per scenario:

  bare          GET /bench/ok: a Django view that only answers 200 (the ceiling)
  anonymous     GET /token with 2 scopes, no credentials
  access token  the same with basic auth: username + personal access token (repo:write)
  password      the same with basic auth: username + password (the verified-login cache)

The scopes: `repository:publisher/base:pull` (someone else's public repository) and
`repository:alice/app:pull,push` (alice's own private repository). Traffic goes to
127.0.0.1 only, each scenario is bounded in time (and the asyncio client also in requests).
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness import PASSWORD, ROOT, Stack, machine, tree_cpu_seconds

LUA = Path(__file__).with_name("wrk_report.lua")
PUBLIC_SCOPE = "repository:publisher/base:pull"
OWN_SCOPE = "repository:alice/app:pull,push"

# name -> gunicorn options; --matrix runs them all.
CONFIGS = {
    "gthread w3 t4": ["-k", "gthread", "--workers", "3", "--threads", "4", "--keep-alive", "5"],
    "gthread w2 t4": ["-k", "gthread", "--workers", "2", "--threads", "4", "--keep-alive", "5"],
    "gthread w5 t2": ["-k", "gthread", "--workers", "5", "--threads", "2", "--keep-alive", "5"],
    "gthread w3 t1": ["-k", "gthread", "--workers", "3", "--threads", "1", "--keep-alive", "5"],
    "gthread w3 t4 ka0": ["-k", "gthread", "--workers", "3", "--threads", "4", "--keep-alive", "0"],
    "sync w3": ["-k", "sync", "--workers", "3"],
    "sync w5": ["-k", "sync", "--workers", "5"],
}
# What `manage.py runstack` starts, and 2 × cores + 1 workers (compared in bench/README.md).
DEFAULT_CONFIGS = ["gthread w3 t4", "gthread w5 t2"]


def prepare(stack: Stack) -> dict[str, str]:
    """Users, repositories and an access token; returns the Authorization header per scenario."""
    stack.django()
    from accounts.models import AccessToken, Namespace, TokenScope
    from repos.models import Repository

    publisher = stack.make_user("publisher")
    alice = stack.make_user("alice")
    Repository.objects.create(
        namespace=Namespace.objects.get(name="publisher"), name="base", created_by=publisher
    )
    Repository.objects.create(
        namespace=Namespace.objects.get(name="alice"), name="app", is_private=True,
        created_by=alice,
    )  # fmt: skip
    _, secret = AccessToken.issue(alice, "bench", TokenScope.WRITE)

    def basic(secret_: str) -> str:
        return "Basic " + base64.b64encode(f"alice:{secret_}".encode()).decode()

    # What the verified-login cache spares: one password hash, as a cache miss pays it.
    started = time.process_time()
    alice.check_password(PASSWORD)
    hash_ms = (time.process_time() - started) * 1000
    print(f"one password check without the cache: {hash_ms:.0f} ms of CPU", flush=True)

    from django.db import connections

    connections.close_all()
    return {"anonymous": "", "access token": basic(secret), "password": basic(PASSWORD)}


def token_path(stack: Stack) -> str:
    service = stack.registry_host
    return f"/token?service={service}&scope={PUBLIC_SCOPE}&scope={OWN_SCOPE}"


def check_answers(stack: Stack, auth: dict[str, str]) -> None:
    """One request per scenario, to see that each is granted what it should be."""
    expected = {
        "anonymous": [{"type": "repository", "name": "publisher/base", "actions": ["pull"]}],
        "access token": [
            {"type": "repository", "name": "publisher/base", "actions": ["pull"]},
            {"type": "repository", "name": "alice/app", "actions": ["pull", "push"]},
        ],
    }
    expected["password"] = expected["access token"]
    for scenario, header in auth.items():
        request = urllib.request.Request(stack.portal_url + token_path(stack))
        if header:
            request.add_header("Authorization", header)
        with urllib.request.urlopen(request, timeout=30) as response:
            token = json.load(response)["token"]
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if claims["access"] != expected[scenario]:
            raise SystemExit(
                f"{scenario}: granted {claims['access']}, expected {expected[scenario]}"
            )


# -- load generators ---------------------------------------------------------------------------
def run_wrk(url: str, header: str, seconds: float, connections: int, threads: int) -> dict:
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(LUA), url,
    ]  # fmt: skip
    env = {**os.environ, "BENCH_AUTH": header}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    output = done.stdout
    line = next(line for line in output.splitlines() if line.startswith("JSON "))
    data = json.loads(line[5:])
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return {
        "requests": data["requests"],
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "non_2xx": data["status_errors"],
        "errors": errors,
    }


async def _python_load(
    host: str, port: int, path: str, header: str, seconds: float, connections: int, cap: int
) -> dict:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if header:
        request += f"Authorization: {header}\r\n"
    request = (request + "\r\n").encode()
    latencies: list[float] = []
    counters = {"non_2xx": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    async def one_connection() -> None:
        reader = writer = None
        while time.monotonic() < deadline and len(latencies) < cap:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                start = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and "close" in value.lower():
                        close = True
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - start)
                if not status_line.split()[1].startswith(b"2"):
                    counters["non_2xx"] += 1
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, IndexError):
                counters["errors"] += 1
                writer = None
        if writer is not None:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50) if latencies else 0.0,
        "p99_ms": pct(0.99) if latencies else 0.0,
        **counters,
    }


def run_python(url: str, header: str, seconds: float, connections: int, threads: int) -> dict:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    cap = 200_000
    return asyncio.run(
        _python_load(parts.hostname, parts.port, path, header, seconds, connections, cap)
    )


# -- one configuration -------------------------------------------------------------------------
def bench_config(stack: Stack, name: str, auth: dict[str, str], args, load) -> list[dict]:
    options = list(CONFIGS[name])
    if args.access_log:
        options += ["--access-logfile", str(stack.dir / "access.log")]
    master = stack.gunicorn(*options).pid
    stack.wait_for_http(stack.portal_url + "/bench/ok", "portal")
    try:
        check_answers(stack, auth)
        scenarios = [("bare", "/bench/ok", "")] + [
            (scenario, token_path(stack), header) for scenario, header in auth.items()
        ]
        rows = []
        for scenario, path, header in scenarios:
            url = stack.portal_url + path
            # Warm-up: every worker opens its database connection, fills its caches and, for
            # the password scenario, pays the password hash once (then the cache answers).
            load(url, header, args.warmup, args.connections, args.wrk_threads)
            cpu_before = tree_cpu_seconds(master)
            result = load(url, header, args.duration, args.connections, args.wrk_threads)
            cpu = tree_cpu_seconds(master) - cpu_before
            result["cpu_ms"] = cpu * 1000 / result["requests"] if result["requests"] else 0.0
            rows.append({"config": name, "scenario": scenario, **result})
            print(
                f"  {name:<18} {scenario:<13} {result['rps']:8.0f} req/s  "
                f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
                f"server CPU {result['cpu_ms']:.2f} ms/req  "
                f"non-2xx {result['non_2xx']}  errors {result['errors']}",
                flush=True,
            )
        bare = rows[0]["rps"]
        for row in rows:
            row["ratio"] = row["rps"] / bare if bare else 0.0
        return rows
    finally:
        stack.stop("portal")


def print_table(rows: list[dict]) -> None:
    print()
    print(
        "| gunicorn | scenario | req/s | vs bare | p50 ms | p99 ms | server CPU ms/req "
        "| non-2xx | errors |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['config']} | {r['scenario']} | {r['rps']:.0f} | {r['ratio']:.2f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_ms']:.2f} | {r['non_2xx']} "
            f"| {r['errors']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", choices=list(CONFIGS), help="repeatable")
    parser.add_argument("--matrix", action="store_true", help="run every config in CONFIGS")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--access-log", action="store_true", help="gunicorn writes one")
    parser.add_argument("--loader", choices=["wrk", "python"], default="wrk")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.duration > 120 or args.warmup > 60:
        parser.error("keep each scenario bounded: --duration ≤ 120, --warmup ≤ 60")

    load = run_wrk
    if args.loader == "wrk" and not shutil.which("wrk"):
        print(
            "wrk is missing (install it with `apt-get update && apt-get install -y wrk`); "
            "using the built-in asyncio client, which shares the CPU less well.",
            file=sys.stderr,
        )
        args.loader = "python"
    if args.loader == "python":
        load = run_python
    configs = list(CONFIGS) if args.matrix else (args.config or DEFAULT_CONFIGS)

    print(machine())
    stack = Stack("token-bench")
    rows: list[dict] = []
    try:
        auth = prepare(stack)
        print(
            f"database: {stack.database}; cache: "
            f"{'Redis (REDIS_URL)' if os.environ.get('REDIS_URL') else 'local memory'}; "
            f"loader: {args.loader}, {args.connections} connections, {args.duration:g} s per "
            f"scenario after {args.warmup:g} s warm-up; access log: "
            f"{'on' if args.access_log else 'off'}",
            flush=True,
        )
        for name in configs:
            rows += bench_config(stack, name, auth, args, load)
    finally:
        stack.close(keep=args.keep)
    print_table(rows)
    token_rows = [r for r in rows if r["scenario"] != "bare"]
    if token_rows:
        best = max(
            configs,
            key=lambda c: statistics.mean(r["rps"] for r in token_rows if r["config"] == c),
        )
        print(f"\nbest config for tokens: {best}")
        for r in (r for r in token_rows if r["config"] == best):
            goal = "met" if r["ratio"] >= 0.7 and r["rps"] >= 2000 else "NOT met"
            print(
                f"  {r['scenario']:<13} {r['rps']:.0f} tokens/s, {r['ratio']:.2f} of bare: "
                f"goal (≥ 0.7 of bare and ≥ 2,000/s) {goal}"
            )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
