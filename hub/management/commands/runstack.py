"""Start every Dockyard process in the foreground; Ctrl-C stops them all."""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.management.base import BaseCommand

from hub.workers import celery_workers
from registry.config import nginx_config_path, write_configs


def _embedded_broker() -> str:
    local_redis = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(local_redis, socket_connect_timeout=1).ping()
        return local_redis
    except redis.RedisError:
        return f"sqla+sqlite:///{settings.HUB_DATA_DIR / 'celery-broker.sqlite3'}"


class Command(BaseCommand):
    help = "Run the registry, its nginx front, the portal (gunicorn) and a Celery worker."

    def add_arguments(self, parser) -> None:
        hub = urlsplit(settings.HUB_URL)
        parser.add_argument(
            "--bind",
            default=os.environ.get("BIND", f"{hub.hostname}:{hub.port or 80}"),
            help="address:port for the portal (default: from HUB_URL, or $BIND)",
        )
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", 3)))

    def handle(self, *args, bind: str, workers: int, **options) -> None:
        write_configs()
        # Garbage collection and builds are too long for a web request: there is always a
        # worker. With no broker configured, the local Redis if one answers, else a broker in
        # a SQLite file. Children inherit the choice through the environment.
        os.environ["CELERY_BROKER_URL"] = self.broker = (
            os.environ.get("CELERY_BROKER_URL") or _embedded_broker()
        )
        commands = {
            # registry_serve restarts the registry, which garbage collection needs (registry.gc).
            "registry": [sys.executable, "-m", "django", "registry_serve"],
            "nginx": ["nginx", "-c", str(nginx_config_path()), "-g", "daemon off;"],
            "portal": [
                sys.executable, "-m", "gunicorn", "hub.wsgi", "--bind", bind,
                "--workers", str(workers), "--threads", "4", "--access-logfile", "-",
            ],
        }  # fmt: skip
        commands.update(
            celery_workers(settings.CELERY_TASK_DEFAULT_QUEUE, settings.BUILDS_MAX_CONCURRENT)
        )
        processes = {name: subprocess.Popen(argv) for name, argv in commands.items()}
        self._announce(processes)
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("Dockyard stopped.")

    def _announce(self, processes: dict) -> None:
        if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
            mail = "printed here, in this terminal (set EMAIL_URL to send real mail)"
        else:
            mail = f"sent through SMTP at {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        worker = (
            f"running, broker {urlsplit(self.broker).scheme}; builds on their own worker "
            f"({settings.BUILDS_MAX_CONCURRENT} at once)"
        )
        self.stdout.write(
            self.style.SUCCESS(f"\n{settings.HUB_NAME} is up at {settings.HUB_URL}/\n")
            + f"  Registry:            {settings.REGISTRY_HOST}  (podman login --tls-verify=false "
            + f"{settings.REGISTRY_HOST})\n"
            + f"  Verification emails: {mail}\n"
            + f"  Celery workers:      {worker}\n"
            + "  Press Ctrl-C to stop everything.\n"
        )
