"""Start every Dockyard process in the foreground; Ctrl-C stops them all."""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from registry.config import nginx_config_path, registry_config_path, write_configs


class Command(BaseCommand):
    help = (
        "Run the registry, its nginx front, the portal (gunicorn) and, when a broker is "
        "configured, a Celery worker."
    )

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
        commands = {
            "registry": ["docker-registry", "serve", str(registry_config_path())],
            "nginx": ["nginx", "-c", str(nginx_config_path()), "-g", "daemon off;"],
            "portal": [
                sys.executable, "-m", "gunicorn", "hub.wsgi", "--bind", bind,
                "--workers", str(workers), "--threads", "4", "--access-logfile", "-",
            ],
        }  # fmt: skip
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            commands["worker"] = [
                sys.executable, "-m", "celery", "-A", "hub", "worker",
                "--loglevel", "INFO", "--concurrency", "2",
            ]  # fmt: skip
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
        worker = "running" if "worker" in processes else "not needed: tasks run in the portal"
        self.stdout.write(
            self.style.SUCCESS(f"\n{settings.HUB_NAME} is up at {settings.HUB_URL}/\n")
            + f"  Registry:            {settings.REGISTRY_HOST}  (podman login --tls-verify=false "
            + f"{settings.REGISTRY_HOST})\n"
            + f"  Verification emails: {mail}\n"
            + f"  Celery worker:       {worker}\n"
            + "  Press Ctrl-C to stop everything.\n"
        )
