"""What both benchmarks share: a throw-away Dockyard on free loopback ports.

A temporary HUB_DATA_DIR; its own SQLite database, or, when DATABASE_URL names a PostgreSQL
server, a fresh database on that server that is dropped at the end; Celery tasks run eagerly
(CELERY_BROKER_URL is ignored) so nothing leaks to a shared broker. REDIS_URL, when set, is
kept: it is the cache that production shares between gunicorn workers.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PASSWORD = "correct-horse-battery-staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require(*programs: str, packages: str = "") -> None:
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        hint = f"apt-get update && apt-get install -y {packages or ' '.join(missing)}"
        sys.exit(f"missing {', '.join(missing)}: install with `{hint}`")


def tree_cpu_seconds(*pids: int) -> float:
    """User + system CPU time used so far by these processes and their children."""
    ticks = 0
    for pid in pids:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        for each in [str(pid), *children.stdout.split()]:
            try:
                fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    cpu = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"nproc {os.cpu_count()}, {total_kib / 2**20:.1f} GiB memory, {cpu}; "
        f"load average before the run: {load}"
    )


class Stack:
    """Settings, database and processes of one benchmark run; `close()` undoes all of it."""

    def __init__(self, name: str):
        self.dir = Path(tempfile.mkdtemp(prefix=f"dockyard-{name}-"))
        self.portal_port = free_port()
        self.portal_url = f"http://127.0.0.1:{self.portal_port}"
        self.registry_host = f"127.0.0.1:{free_port()}"
        self.registry_url = f"http://127.0.0.1:{free_port()}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.pg_admin_url = ""
        self.pg_database = ""
        database_url = os.environ.get("DATABASE_URL", "")
        if database_url.startswith(("postgres://", "postgresql://")):
            database_url = self._create_pg_database(database_url)
        elif database_url:
            sys.exit("DATABASE_URL: only PostgreSQL is supported here; unset it to use SQLite")
        self.env = {
            **os.environ,
            "HUB_URL": self.portal_url,
            "HUB_DATA_DIR": str(self.dir / "data"),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "REGISTRY_HOST": self.registry_host,
            "REGISTRY_URL": self.registry_url,
            "PORTAL_INTERNAL_URL": self.portal_url,
            "DEBUG": "0",
            "AVATAR_GRAVATAR": "0",
            "LOG_LEVEL": "WARNING",
            # The bare view for comparison lives in bench/; production settings are untouched.
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONPATH": str(ROOT),
        }
        for name_ in ("CELERY_BROKER_URL", "REGISTRY_SERVICE", "CELERY_QUEUE"):
            self.env.pop(name_, None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        else:
            self.env.pop("DATABASE_URL", None)

    # -- database --------------------------------------------------------------------------
    def _create_pg_database(self, url: str) -> str:
        import psycopg

        parts = urlsplit(url)
        self.pg_database = f"dockyard_bench_{secrets.token_hex(4)}"
        self.pg_admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.pg_database}"')
        return urlunsplit(parts._replace(path=f"/{self.pg_database}"))

    def _drop_pg_database(self) -> None:
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')

    @property
    def database(self) -> str:
        if self.pg_database:
            return f"PostgreSQL (fresh database {self.pg_database})"
        return "SQLite (in the temporary data directory)"

    def django(self) -> None:
        """Set up Django in this process with the stack's settings, and migrate."""
        os.chdir(ROOT)  # Celery's Django fix-up puts the working directory first on sys.path
        os.environ.update(self.env)
        for name_ in ("CELERY_BROKER_URL", "DATABASE_URL"):
            if name_ not in self.env:
                os.environ.pop(name_, None)
        sys.path.insert(0, str(ROOT))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)

    def make_user(self, username: str):
        from allauth.account.models import EmailAddress

        from accounts.models import User

        user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        return user

    # -- processes -------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        with open(self.dir / f"{name}.log", "w") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def gunicorn(self, *options: str) -> subprocess.Popen:
        return self.spawn(
            "portal",
            [
                PYTHON, "-m", "gunicorn", "hub.wsgi", "--bind", f"127.0.0.1:{self.portal_port}",
                "--log-level", "warning", *options,
            ],
        )  # fmt: skip

    def wait_for_http(self, url: str, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        process = self.processes[name]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (self.dir / f"{name}.log").read_text()
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{url} did not answer within {timeout}s")

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self, keep: bool = False) -> None:
        for name_ in list(self.processes):
            self.stop(name_)
        if self.pg_database:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:
                pass
            self._drop_pg_database()
        if keep:
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
