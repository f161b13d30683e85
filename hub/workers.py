"""The Celery workers a hub runs, for `make run` (runstack) and the end-to-end tests alike."""

import sys


def builds_queue(default_queue: str) -> str:
    """Builds have a queue of their own: a build holds a worker process for minutes, and
    registry events, emails and webhooks must not wait behind it."""
    return f"{default_queue}-builds"


def celery_workers(default_queue: str, build_slots: int) -> dict[str, list[str]]:
    """Command lines of the two workers: short tasks, and builds (one process a build slot)."""

    def worker(queue: str, concurrency: int) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "hub", "worker", "--loglevel", "INFO",
            "-Q", queue, "-n", f"{queue}@%h", "--concurrency", str(concurrency),
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip

    return {
        "worker": worker(default_queue, 2),
        "builder": worker(builds_queue(default_queue), build_slots),
    }
