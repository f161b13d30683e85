"""Registry garbage collection (DESIGN §7), run while the registry refuses writes.

The 2.8 registry reads its config once, at start. On one machine the registry runs under
`manage.py registry_serve`, which restarts it whenever it exits and writes its pid to
`registry_pid_path()`. Collecting garbage then is: take the lock, write the config read-only,
stop the registry (it comes back read-only), measure the storage, run
`docker-registry garbage-collect CONFIG` (never `--delete-untagged`, which in 2.8 can delete the
children of multi-arch indexes), measure again, write the normal config, stop the registry
again (it comes back writable), and record the bytes freed. Pushes during those seconds are
refused with the registry's read-only error; pulls go on, but for the moments of a restart.
"""

import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests
from django.conf import settings
from django.utils import timezone

from .config import registry_config, registry_config_path, registry_dir, write_configs
from .models import GarbageCollection

RESTART_TIMEOUT = 60.0
OUTPUT_KEPT = 10_000


class GarbageCollectionError(RuntimeError):
    pass


def registry_pid_path() -> Path:
    """Where `registry_serve` keeps the pid of the registry it runs."""
    return registry_dir() / "registry.pid"


def storage_bytes() -> int:
    """The size of every file of the registry's filesystem storage."""
    root = Path(registry_config()["storage"]["filesystem"]["rootdirectory"])
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def collect_garbage() -> GarbageCollection:
    """Collect the registry's garbage in read-only mode; the recorded run, done or failed."""
    run = GarbageCollection.objects.create()
    try:
        with _lock(), _read_only():
            run.bytes_before = storage_bytes()
            result = subprocess.run(
                ["docker-registry", "garbage-collect", str(registry_config_path())],
                capture_output=True,
                text=True,
                timeout=3600,
            )
            run.output = (result.stdout + result.stderr)[-OUTPUT_KEPT:]
            if result.returncode != 0:
                raise GarbageCollectionError(f"garbage-collect exited with {result.returncode}")
            run.bytes_after = storage_bytes()
            run.status = GarbageCollection.Status.DONE
    except (GarbageCollectionError, OSError, subprocess.SubprocessError) as error:
        run.status = GarbageCollection.Status.FAILED
        run.output = f"{run.output}\n{type(error).__name__}: {error}".strip()[-OUTPUT_KEPT:]
    run.finished = timezone.now()
    run.save()
    return run


@contextmanager
def _lock() -> Iterator[None]:
    """One collection at a time on this machine; a second one waits for the first."""
    registry_dir().mkdir(parents=True, exist_ok=True)
    with open(registry_dir() / "gc.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def _read_only() -> Iterator[None]:
    write_configs(read_only=True)
    try:
        restart_registry()
        yield
    finally:
        write_configs(read_only=False)
        restart_registry()


def restart_registry(timeout: float = RESTART_TIMEOUT) -> None:
    """Stop the registry that `registry_serve` runs and wait until it answers again."""
    old = _registry_pid()
    if old is None:
        raise GarbageCollectionError(
            f"no registry pid in {registry_pid_path()}: run the registry with "
            "`manage.py registry_serve` (make run does)"
        )
    # Already gone, registry_serve is starting another.
    with suppress(ProcessLookupError):
        os.kill(old, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _registry_pid()
        if pid is not None and pid != old and _answers():
            return
        time.sleep(0.1)
    raise GarbageCollectionError(f"the registry did not come back within {timeout}s")


def _registry_pid() -> int | None:
    try:
        return int(registry_pid_path().read_text())
    except (FileNotFoundError, ValueError):
        return None


def _answers() -> bool:
    try:
        requests.get(f"{settings.REGISTRY_URL}/v2/", timeout=2)
    except requests.RequestException:
        return False
    return True
