"""Push and pull of a 500 MiB image through Dockyard (nginx front + token auth) and through
the same registry without auth, side by side.

    .venv/bin/python bench/push_pull.py                # 4 runs (ABBA order), medians
    .venv/bin/python bench/push_pull.py --runs 2 --size-mb 200

Needs the Debian packages docker-registry, nginx, buildah and skopeo (`apt-get install -y
docker-registry nginx buildah skopeo`). Everything runs on free loopback ports in a temporary
directory: the portal (gunicorn with 3 workers × 4 threads, as `manage.py runstack` starts
it), nginx and the registry with the configs `manage.py registry_config` generates, and a
second registry with the same config less its `auth` and `notifications` sections (same
filesystem storage driver, its own directory, reached directly).

The image is built once with buildah (`from scratch`, vfs storage in the temporary directory):
one layer per 100 MiB file of random, incompressible bytes. Each run starts both registries on
empty storage (so no blob is already there), pushes a 1 MiB image to each (untimed), then for
each registry, in hub-plain-plain-hub order over the runs:

  push       skopeo copy containers-storage:… docker://HOST/alice/big:runN   (gzip on the fly)
  pull       skopeo copy docker://… containers-storage:…   into an empty vfs store (deleted
             after each pull), as `podman pull` would
  pull dir   skopeo copy docker://… dir:…   (blobs written as they come: the transfer alone)

MB/s is the sum of the compressed blob sizes (10^6 bytes) over the wall time of skopeo. The
hub side authenticates as alice with her password; before the first run every gunicorn worker
is made to check it once (each pays one slow password hash, then its cache answers). Server
CPU is the user+system time of nginx, registry and portal (hub) or of the registry (plain)
during the operation.
"""

import argparse
import base64
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import PASSWORD, ROOT, Stack, free_port, machine, require, tree_cpu_seconds

LAYER_MB = 100
OPERATIONS = ("push", "pull", "pull dir")


class Images:
    """buildah and skopeo on private vfs stores and configuration in one directory."""

    def __init__(self, base: Path):
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.source = (base / "source", base / "source-run")
        policy = base / "policy.json"
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        registries = base / "registries.conf"
        registries.write_text("unqualified-search-registries = []\n")
        self.env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(registries)}
        self.policy = str(policy)

    def storage(self, store: tuple[Path, Path]) -> list[str]:
        return ["--storage-driver", "vfs", "--root", str(store[0]), "--runroot", str(store[1])]

    def reference(self, store: tuple[Path, Path], name: str) -> str:
        return f"containers-storage:[vfs@{store[0]}+{store[1]}]{name}"

    def buildah(self, *args: str) -> str:
        argv = ["buildah", *self.storage(self.source), *args]
        return subprocess.run(
            argv, env=self.env, check=True, capture_output=True, text=True, timeout=600
        ).stdout.strip()

    def build(self, name: str, size_mb: int) -> str:
        """localhost/NAME:latest, one layer per LAYER_MB (MiB) of random bytes; its reference."""
        image = "scratch"
        for index in range((size_mb + LAYER_MB - 1) // LAYER_MB):
            blob = self.base / f"random-{index}.bin"
            with open(blob, "wb") as handle:
                for _ in range(min(LAYER_MB, size_mb - index * LAYER_MB)):
                    handle.write(os.urandom(2**20))
            container = self.buildah("from", image)
            self.buildah("copy", container, str(blob), f"/data/random-{index}.bin")
            image = f"localhost/{name}:layer{index}"
            self.buildah("commit", "--quiet", container, image)
            self.buildah("rm", container)
            blob.unlink()
        self.buildah("tag", image, f"localhost/{name}:latest")
        return self.reference(self.source, f"localhost/{name}:latest")

    def skopeo(self, *args: str) -> float:
        """Run `skopeo copy …`; its wall time in seconds."""
        argv = ["skopeo", "--policy", self.policy, "copy", "--retry-times", "0", *args]
        started = time.perf_counter()
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
        return time.perf_counter() - started

    def blob_bytes(self, reference: str, *options: str) -> int:
        argv = ["skopeo", "--policy", self.policy, "inspect", "--raw", *options, reference]
        # The portal learns of a pushed repository from the registry's push event, which comes
        # a moment after the push: until then a pull of it is denied. Wait for it (bounded).
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
            if done.returncode == 0 or time.monotonic() > deadline or "denied" not in done.stderr:
                break
            time.sleep(0.2)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
        raw = done.stdout
        manifest = json.loads(raw)
        return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def warm_password_cache(stack: Stack) -> None:
    """Concurrent token requests with alice's password, so that every gunicorn worker has
    paid its one password hash (each keeps its own cache unless REDIS_URL is set)."""
    request = urllib.request.Request(f"{stack.portal_url}/token?account=alice")
    secret = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {secret}")

    def one(_: int) -> None:
        urllib.request.urlopen(request, timeout=60).close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(one, range(24)))


def registry_configs(stack: Stack, storage: Path, run: int, plain_port: int) -> dict[str, Path]:
    """This run's configs: Dockyard's generated one and the same without auth, each on its
    own empty storage directory."""
    from registry.config import registry_config_path

    generated = json.loads(registry_config_path().read_text())
    paths = {}
    for target in ("hub", "plain"):
        config = json.loads(json.dumps(generated))
        config["storage"]["filesystem"]["rootdirectory"] = str(storage / f"{target}-{run}")
        if target == "plain":
            del config["auth"]
            del config["notifications"]
            config["http"]["addr"] = f"127.0.0.1:{plain_port}"
        path = stack.dir / f"registry-{target}-{run}.json"
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        paths[target] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="even: ABBA order")
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument(
        "--nginx-buffers",
        metavar="SIZE",
        help="experiment: proxy_buffer_size, proxy_buffers 4, proxy_busy_buffers_size and "
        "client_body_buffer_size SIZE (e.g. 256k) in the generated nginx config's /v2/ location",
    )
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not (1 <= args.runs <= 8 and 1 <= args.size_mb <= 2000):
        parser.error("bounded: 1–8 runs of 1–2000 MiB")
    require(
        "docker-registry", "nginx", "buildah", "skopeo",
        packages="docker-registry nginx buildah skopeo",
    )  # fmt: skip

    print(machine())
    stack = Stack("push-pull")
    stack.env["WEB_WORKERS"] = "3"
    images = Images(stack.dir / "images")
    results: dict[str, dict[str, list[float]]] = {op: {"hub": [], "plain": []} for op in OPERATIONS}
    server_cpu: dict[str, dict[str, list[float]]] = {
        op: {"hub": [], "plain": []} for op in OPERATIONS
    }
    size: dict[str, int] = {}
    try:
        stack.django()
        stack.make_user("alice")
        from django.core.management import call_command
        from django.db import connections

        from registry.config import nginx_config_path

        call_command("registry_config", stdout=io.StringIO())
        if args.nginx_buffers:
            # An experiment, not Dockyard's config: bigger reads and writes for blobs.
            conf = nginx_config_path().read_text()
            buffers = args.nginx_buffers
            extra = "\n            ".join(
                [
                    "proxy_buffering off;",
                    f"proxy_buffer_size {buffers};",
                    f"proxy_buffers 4 {buffers};",
                    f"proxy_busy_buffers_size {buffers};",
                    f"client_body_buffer_size {buffers};",
                ]
            )
            nginx_config_path().write_text(conf.replace("proxy_buffering off;", extra, 1))
        connections.close_all()
        # The portal as `manage.py runstack` starts it; nginx with the generated config.
        stack.gunicorn(
            "--workers", "3", "--threads", "4", "--access-logfile", str(stack.dir / "access.log"),
            "--access-logformat", '%(t)s "%(r)s" %(s)s %(D)sus',
        )  # fmt: skip
        stack.spawn("nginx", ["nginx", "-c", str(nginx_config_path()), "-g", "daemon off;"])
        stack.wait_for_http(stack.portal_url + "/token", "portal")
        print(
            f"database: {stack.database}; nginx buffers: {args.nginx_buffers or 'as generated'}; "
            f"building a {args.size_mb} MiB image …",
            flush=True,
        )
        started = time.perf_counter()
        source = images.build("bench", args.size_mb)
        warm = images.build("warm", 1)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)

        plain_port = free_port()
        hosts = {"hub": stack.registry_host, "plain": f"127.0.0.1:{plain_port}"}
        creds = {"hub": f"alice:{PASSWORD}", "plain": ""}
        for run in range(1, args.runs + 1):
            configs = registry_configs(stack, stack.dir / "storage", run, plain_port)
            for target, config in configs.items():
                stack.spawn(f"registry-{target}", ["docker-registry", "serve", str(config)])
            stack.wait_for_http(stack.registry_url + "/v2/", "registry-hub")
            stack.wait_for_http(f"http://{hosts['plain']}/v2/", "registry-plain")
            stack.wait_for_http(f"http://{hosts['hub']}/v2/", "nginx")
            # Untimed: a 1 MiB push to each, so that the first timed operation does not also
            # pay for starting up (the portal's first password check per worker, for one).
            for target in ("hub", "plain"):
                options = ["--dest-tls-verify=false"]
                options += ["--dest-creds", creds[target]] if creds[target] else []
                images.skopeo(*options, warm, f"docker://{hosts[target]}/alice/warm:run{run}")
            if run == 1:
                warm_password_cache(stack)
            servers = {
                "hub": [stack.processes[n].pid for n in ("nginx", "registry-hub", "portal")],
                "plain": [stack.processes["registry-plain"].pid],
            }
            # Which registry goes first: hub, plain, plain, hub, … (ABBA), so that with an even
            # number of runs neither is favoured by going first or second.
            order = ["hub", "plain"] if run % 4 in (0, 1) else ["plain", "hub"]
            line = [f"run {run}:"]
            for op in OPERATIONS:
                for target in order:
                    remote = f"docker://{hosts[target]}/alice/big:run{run}"
                    login = ["--creds", creds[target]] if creds[target] else []
                    cpu_before = tree_cpu_seconds(*servers[target])
                    if op == "push":
                        options = ["--dest-tls-verify=false"]
                        options += ["--dest-creds", creds[target]] if creds[target] else []
                        seconds = images.skopeo(*options, source, remote)
                        size[target] = images.blob_bytes(remote, "--tls-verify=false", *login)
                    else:
                        options = ["--src-tls-verify=false"]
                        options += ["--src-creds", creds[target]] if creds[target] else []
                        where = stack.dir / "pulled"
                        where.mkdir()
                        if op == "pull":
                            store = (where / "root", where / "run")
                            destination = images.reference(store, "localhost/pulled:latest")
                        else:
                            destination = f"dir:{where / 'dir'}"
                        seconds = images.skopeo(*options, remote, destination)
                        shutil.rmtree(where)  # delete the local copy before the next pull
                    cpu = tree_cpu_seconds(*servers[target]) - cpu_before
                    mbps = size[target] / 1e6 / seconds
                    results[op][target].append(mbps)
                    server_cpu[op][target].append(cpu)
                    line.append(
                        f"{op} {target} {mbps:.0f} MB/s ({seconds:.1f} s, server {cpu:.1f} s CPU)"
                    )
            print("  ".join(line), flush=True)
            for target in ("hub", "plain"):
                stack.stop(f"registry-{target}")
            shutil.rmtree(stack.dir / "storage", ignore_errors=True)
    finally:
        stack.close(keep=args.keep)  # the vfs stores are plain directories in it

    print(f"\nimage: {size['hub'] / 1e6:.0f} MB of compressed blobs; median of {args.runs} runs")
    print(
        "| operation | Dockyard (nginx + token auth) MB/s | registry without auth MB/s "
        "| ratio of medians | ratio per run | server CPU s, Dockyard / plain |"
    )
    print("| --- | ---: | ---: | ---: | --- | --- |")
    summary = {}
    for op in OPERATIONS:
        hubs, plains = results[op]["hub"], results[op]["plain"]
        hub, plain = statistics.median(hubs), statistics.median(plains)
        per_run = " ".join(f"{h / p:.2f}" for h, p in zip(hubs, plains, strict=True))
        summary[op] = {"hub": hub, "plain": plain, "ratio": hub / plain}
        cpu_hub = statistics.median(server_cpu[op]["hub"])
        cpu_plain = statistics.median(server_cpu[op]["plain"])
        print(
            f"| {op} | {hub:.0f} ({min(hubs):.0f}–{max(hubs):.0f}) | {plain:.0f} "
            f"({min(plains):.0f}–{max(plains):.0f}) | {hub / plain:.2f} | {per_run} "
            f"| {cpu_hub:.1f} / {cpu_plain:.1f} |"
        )
    met = all(s["ratio"] >= 0.95 for s in summary.values())
    print(f"\ngoal (ratio ≥ 0.95 for every operation): {'met' if met else 'NOT met'}")
    if args.json:
        data = {
            "machine": machine(),
            "bytes": size,
            "runs": results,
            "server_cpu_seconds": server_cpu,
            "median": summary,
        }
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
