"""Automated builds: a GitHub push webhook → the image in the registry, side by side with a bare
`buildah bud` + `buildah push` of the same context.

    .venv/bin/python bench/builds.py                 # the issue's Dockerfile, 4 runs (ABBA)
    .venv/bin/python bench/builds.py --runs 6 --layer-mb 100

Needs the Debian packages docker-registry, nginx, buildah, busybox-static, git and
redis-server. Everything runs on free loopback ports in a temporary directory: the registry and
its nginx front as `manage.py registry_config` writes them, the portal (gunicorn, 3 workers × 4
threads, as `runstack`), runstack's Celery workers (tasks; builds on their own queue) on a
redis-server of its own, and the GitHub test double (tests/support/github_double.py: git
over smart HTTP, signed webhook deliveries).

Set-up: alice's Dockyard account is linked to the double's user octo; alice/bench is connected
to octo/bench (the push webhook installed through the double's REST API) with Docker Hub's
default rule (main → latest); busybox-static is pushed to the hub as alice/busybox, which the
Dockerfile starts FROM. One untimed round of each side first, so that both have the base image
in their storage, as a worker that has built before has.

Each run, in hub-bare-bare-hub order:

  hub   commit the Dockerfile (and a file that changes each run) to octo/bench, `repo.push()`
        (the double POSTs the signed push event to /webhooks/github) → the Build row's
        `finished`: the webhook, the queue, the worker's clone, bud and push, as users wait.
  bare  the same context, already on disk: `buildah bud` with the builder's options, then
        `buildah push` to alice/bare with alice's password, on a vfs storage configured as the
        builder's (its own directory, base image already there).

Both sides then remove the built image (untimed for the bare side; the builder does it after
recording `finished`). The hub side is split from the Build row's timestamps (created,
started, finished) and a bare shallow fetch of the same commit with git.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from harness import PASSWORD, ROOT, Stack, free_port, machine, require

MESSAGE = "this is my new container to make image and then push to hub"
BASE = "localhost/bench/busybox"


def dockerfile(base: str, layer_mb: int) -> str:
    lines = [
        f"FROM {base}",
        "RUN mkdir /mynewdir",
        "RUN touch /mynewdir/mynewfile",
        f"RUN echo '{MESSAGE}' > /mynewdir/mynewfile",
    ]
    if layer_mb:
        lines.append(f"RUN head -c {layer_mb}m /dev/urandom > /mynewdir/random.bin")
    lines.append("COPY run.txt /run.txt")
    return "\n".join(lines) + "\n"


def timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def start_redis(stack: Stack) -> str:
    port = free_port()
    stack.spawn(
        "redis",
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no"],
    )  # fmt: skip
    for _ in range(100):
        if (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode
            == 0
        ):
            break
        time.sleep(0.1)
    return f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="even: ABBA order")
    parser.add_argument(
        "--layer-mb", type=int, default=0, help="also add a layer of this many MiB of random bytes"
    )
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not (1 <= args.runs <= 10 and 0 <= args.layer_mb <= 1000):
        parser.error("bounded: 1–10 runs, a layer of 0–1000 MiB")
    require(
        "docker-registry", "nginx", "buildah", "git", "redis-server", "redis-cli",
        packages="docker-registry nginx buildah busybox-static git redis-server",
    )  # fmt: skip

    from tests.support.github_double import GitHubDouble, link_account
    from tests.support.images import ContainerTools

    print(machine())
    stack = Stack("builds")
    github = GitHubDouble(app_name="Dockyard")
    github.start()
    stack.env.update(
        {
            "CELERY_BROKER_URL": start_redis(stack),
            "CELERY_QUEUE": f"bench-builds-{stack.portal_port}",
            "GITHUB_URL": github.url,
            "REGISTRY_TLS": "0",
        }
    )
    hub_seconds: list[float] = []
    bare_seconds: list[float] = []
    parts: dict[str, list[float]] = {"webhook": [], "queue": [], "worker": [], "git": []}
    try:
        stack.django()
        from django.core.management import call_command
        from django.db import connections

        from accounts.models import Namespace
        from builds.models import Build
        from builds.views_source import connect_source
        from registry.config import nginx_config_path
        from repos.models import Repository, Tag

        alice = stack.make_user("alice")
        link_account(github, alice, "octo")
        repo = github.add_repository("octo", "bench")
        repository = Repository.objects.create(
            namespace=Namespace.objects.get(name="alice"), name="bench"
        )
        # As the Source page does: the push webhook installed through the REST API, and Docker
        # Hub's default rule (the default branch builds `latest`).
        connect_source(alice, repository, repo.full_name)

        from django.conf import settings

        from hub.workers import celery_workers

        call_command("registry_config", verbosity=0)
        connections.close_all()
        stack.spawn("registry", [sys.executable, "manage.py", "registry_serve"])
        stack.spawn("nginx", ["nginx", "-c", str(nginx_config_path()), "-g", "daemon off;"])
        stack.gunicorn("--workers", "3", "--threads", "4")
        workers = celery_workers(settings.CELERY_TASK_DEFAULT_QUEUE, settings.BUILDS_MAX_CONCURRENT)
        for name, argv in workers.items():
            stack.spawn(name, argv)
        stack.wait_for_http(stack.portal_url + "/", "portal")
        stack.wait_for_http(f"{stack.registry_url}/v2/", "registry")
        stack.wait_for_http(f"http://{stack.registry_host}/v2/", "nginx")

        # The client side: the base image, pushed to the hub; the bare builder's storage.
        client = ContainerTools.create(stack.dir / "client")
        client.make_base_image(BASE)
        client.login(stack.registry_host, "alice", PASSWORD)
        client.push(BASE, f"{stack.registry_host}/alice/busybox:latest")
        # Pulls of it are allowed once the portal has applied the registry's push event.
        deadline = time.monotonic() + 60
        while not Tag.objects.filter(repository__name="busybox", name="latest").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the portal did not apply the base image's push event")
            time.sleep(0.1)
        base = f"{stack.registry_host}/alice/busybox:latest"
        bare = ContainerTools.create(stack.dir / "bare")
        (bare.home / "registries.conf").write_text(
            'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n'
            f'\n[[registry]]\nlocation = "{stack.registry_host}"\ninsecure = true\n'
        )
        bare = bare.with_auth_file(stack.dir / "bare-auth.json")
        bare.login(stack.registry_host, "alice", PASSWORD)
        context = stack.dir / "context"
        context.mkdir()
        text = dockerfile(base, args.layer_mb)
        (context / "Dockerfile").write_text(text)
        print(
            f"database: {stack.database}; BUILDS_DIR {settings.BUILDS_DIR}; Dockerfile:\n{text}",
            flush=True,
        )

        def hub_round(label: str) -> float:
            repo.commit({"Dockerfile": text, "run.txt": f"{label}\n"}, f"Run {label}")
            before = Build.objects.count()
            started = time.time()
            deliveries = repo.push("refs/heads/main")
            assert [d.status for d in deliveries] == [202], [d.body for d in deliveries]
            deadline = time.monotonic() + 900
            while True:
                build = Build.objects.order_by("-pk").first()
                if build and Build.objects.count() > before and build.finished:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the build did not finish within 900 s")
                time.sleep(0.05)
            if build.status != Build.Status.SUCCESS:
                raise RuntimeError(f"build {build.pk} {build.status}: {build.error}\n{build.log}")
            total = build.finished.timestamp() - started
            if label.startswith("run"):
                parts["webhook"].append(build.created.timestamp() - started)
                parts["queue"].append((build.started - build.created).total_seconds())
                parts["worker"].append((build.finished - build.started).total_seconds())
                fetch = stack.dir / "fetch"
                shutil.rmtree(fetch, ignore_errors=True)
                fetch.mkdir()
                git_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
                seconds = timed(["git", "init", "--quiet"], git_env, fetch)
                seconds += timed(
                    ["git", "fetch", "--depth", "1", repo.clone_url, build.commit], git_env, fetch
                )
                seconds += timed(["git", "checkout", "--quiet", "FETCH_HEAD"], git_env, fetch)
                parts["git"].append(seconds)
            return total

        def bare_round(label: str) -> float:
            (context / "run.txt").write_text(f"{label}\n")
            image = f"localhost/bare:{label}"
            seconds = timed(
                ["buildah", "bud", "--isolation", "chroot", "--format", "docker", "--layers",
                 "--force-rm", "--authfile", str(bare.auth_file), "--file",
                 str(context / "Dockerfile"), "--tag", image, str(context)],
                bare.env,
            )  # fmt: skip
            seconds += timed(
                ["buildah", "push", "--authfile", str(bare.auth_file), "--digestfile",
                 str(stack.dir / "bare.digest"), image,
                 f"docker://{stack.registry_host}/alice/bare:latest"],
                bare.env,
            )  # fmt: skip
            bare.buildah("rmi", image)
            bare.buildah("rmi", "--prune")
            return seconds

        print(
            f"warm-up (untimed): hub {hub_round('warm-up'):.1f} s, "
            f"bare {bare_round('warm-up'):.1f} s",
            flush=True,
        )
        for run in range(1, args.runs + 1):
            order = ["hub", "bare"] if run % 4 in (0, 1) else ["bare", "hub"]
            line = [f"run {run}:"]
            for side in order:
                if side == "hub":
                    hub_seconds.append(hub_round(f"run{run}"))
                    line.append(
                        f"hub {hub_seconds[-1]:.2f} s (webhook {parts['webhook'][-1]:.2f}, "
                        f"queue {parts['queue'][-1]:.2f}, worker {parts['worker'][-1]:.2f}; "
                        f"bare git fetch {parts['git'][-1]:.2f})"
                    )
                else:
                    bare_seconds.append(bare_round(f"run{run}"))
                    line.append(f"bare {bare_seconds[-1]:.2f} s")
            print("  ".join(line), flush=True)
    finally:
        github.stop()
        stack.close(keep=args.keep)

    hub, plain = statistics.median(hub_seconds), statistics.median(bare_seconds)
    print(f"\nmedian of {args.runs} runs ({datetime.now():%Y-%m-%d})")
    print("| | seconds (min–max) |")
    print("| --- | ---: |")

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    print(f"| webhook → image pushed (Build.finished) | {spread(hub_seconds)} |")
    print(f"| bare buildah bud + push | {spread(bare_seconds)} |")
    for name, values in parts.items():
        print(f"| of the hub's: {name} | {statistics.median(values):.2f} |")
    ratio = hub / plain
    per_run = " ".join(f"{h / b:.2f}" for h, b in zip(hub_seconds, bare_seconds, strict=True))
    print(f"\nratio of medians {ratio:.2f} (per run: {per_run}); goal ≤ 1.2: "
          f"{'met' if ratio <= 1.2 else 'NOT met'}")  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "hub": hub_seconds,
                    "bare": bare_seconds,
                    "parts": parts,
                    "ratio": ratio,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
