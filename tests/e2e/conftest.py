"""Real processes for end-to-end tests: a gunicorn portal, an SMTP server, Chromium.

The portal runs in its own process, on a free port, against the test database of this
pytest session (tests here use `transactional_db`, so what they write is committed and the
portal sees it, and what the portal writes is visible here).
"""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from hub.workers import celery_workers
from tests.support.github_double import GitHubDouble
from tests.support.mailbox import Mailbox
from tests.support.processes import free_port, wait_for_http

# Playwright's sync API runs an event loop; the ORM calls in these tests are plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def database_url() -> str:
    """The URL of the test database pytest-django created for this session."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def mail_server() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    mailbox.start()
    yield mailbox
    mailbox.stop()


@pytest.fixture
def mailbox(mail_server: Mailbox) -> Mailbox:
    mail_server.clear()
    return mail_server


class Portal:
    """The whole hub on free ports: the distribution registry, its nginx front, the portal
    under gunicorn and the Celery workers (on CELERY_BROKER_URL, which `env` must name)."""

    def __init__(self, data_dir: Path, env: dict[str, str]):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.registry_host = f"127.0.0.1:{free_port()}"
        self.registry_url = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "HUB_URL": self.url,
            "HUB_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "REGISTRY_HOST": self.registry_host,
            "REGISTRY_URL": self.registry_url,
            "PORTAL_INTERNAL_URL": self.url,
            # Its own queue, so that a `make run` on the same broker takes none of its tasks.
            "CELERY_QUEUE": f"dockyard-test-{self.port}",
            "AVATAR_GRAVATAR": "0",
            "DEBUG": "0",
            **env,
        }
        for name in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            self.env.pop(name, None)
        self.processes: dict[str, subprocess.Popen] = {}

    def _manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        with open(self.data_dir / f"{name}.log", "w") as log:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes[name] = process
        return process

    def start(self) -> None:
        for program in ("docker-registry", "nginx"):
            if not shutil.which(program):
                pytest.fail(f"{program} is missing: `make test` installs the Debian packages")
        self._manage("collectstatic", "--noinput", "-v0")
        self._manage("registry_config", "-v0")
        nginx_config = self.data_dir / "nginx" / "nginx.conf"
        # Under registry_serve, which restarts it: garbage collection restarts it read-only.
        registry = self._spawn("registry", [sys.executable, "manage.py", "registry_serve"])
        self._spawn("nginx", ["nginx", "-c", str(nginx_config), "-g", "daemon off;"])
        portal = self._spawn(
            "portal",
            [
                sys.executable, "-m", "gunicorn", "hub.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", "2", "--threads", "4", "--access-logfile", "-",
            ],
        )  # fmt: skip
        # Builds never run in a web request: there are always workers, as `make run` has.
        workers = celery_workers(self.env["CELERY_QUEUE"], settings.BUILDS_MAX_CONCURRENT)
        for name, argv in workers.items():
            self._spawn(name, argv)
        wait_for_http(f"{self.url}/", process=portal, log=self.data_dir / "portal.log")
        wait_for_http(
            f"{self.registry_url}/v2/", process=registry, log=self.data_dir / "registry.log"
        )

    def stop_registry(self) -> None:
        """Stop the registry and what restarts it, as an outage would."""
        registry = self.processes["registry"]
        registry.terminate()
        registry.wait(timeout=10)

    def start_registry(self) -> None:
        registry = self._spawn("registry", [sys.executable, "manage.py", "registry_serve"])
        wait_for_http(
            f"{self.registry_url}/v2/", process=registry, log=self.data_dir / "registry.log"
        )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=10, **kwargs)


@pytest.fixture(scope="session")
def github_server() -> Iterator[GitHubDouble]:
    double = GitHubDouble(app_name=settings.HUB_NAME)
    double.start()
    yield double
    double.stop()


@pytest.fixture
def github(github_server: GitHubDouble) -> GitHubDouble:
    """The GitHub double with no users, sign-ins, tokens or recorded requests."""
    github_server.reset()
    return github_server


@pytest.fixture(scope="session")
def cache_server() -> Iterator[str]:
    """A Redis of the hub's own for cache, sessions and rate limits, that tests may empty."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def hub_cache(cache_server: str) -> redis.Redis:
    """The hub's cache, emptied: every test starts with no rate limit used."""
    client = redis.Redis.from_url(cache_server)
    client.flushdb()
    return client


@pytest.fixture(scope="session")
def portal_env(
    mail_server: Mailbox, github_server: GitHubDouble, cache_server: str
) -> dict[str, str]:
    """Settings for the portal process; a test package may override this fixture to add more."""
    return {
        "REDIS_URL": cache_server,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_server.port),
        "GITHUB_URL": github_server.url,
        "GITHUB_CLIENT_ID": github_server.app.client_id,
        "GITHUB_CLIENT_SECRET": github_server.app.client_secret,
    }


def broker_url(cache_server: str) -> str:
    """CELERY_BROKER_URL when set (CI's Redis), else another database of the session's own
    Redis than its cache: tests empty the cache."""
    return os.environ.get("CELERY_BROKER_URL") or cache_server.rpartition("/")[0] + "/1"


@pytest.fixture(scope="session")
def portal(
    django_db_setup,
    django_db_blocker,
    tmp_path_factory,
    portal_env: dict[str, str],
    cache_server: str,
) -> Iterator[Portal]:
    env = {"CELERY_BROKER_URL": broker_url(cache_server), **portal_env}
    server = Portal(tmp_path_factory.mktemp("portal"), env)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def wait_until_registry_settles(timeout: float = 120.0, quiet: float = 2.0) -> None:
    """Deleting a repository queues its clean-up, then garbage collection, which restarts the
    registry twice: wait until none is under way, and none has been for `quiet` seconds."""
    from registry.models import GarbageCollection
    from repos.models import Repository

    deadline = time.monotonic() + timeout
    settled_since = None
    while time.monotonic() < deadline:
        busy = (
            Repository.objects.filter(state=Repository.State.DELETING).exists()
            or GarbageCollection.objects.filter(status=GarbageCollection.Status.RUNNING).exists()
        )
        if busy:
            settled_since = None
        elif settled_since is None:
            settled_since = time.monotonic()
        elif time.monotonic() - settled_since >= quiet:
            return
        time.sleep(0.2)
    raise AssertionError(f"the registry was still being cleaned up after {timeout}s")


@pytest.fixture
def registry_settles(portal):
    """Leave no clean-up or garbage collection running into the next test."""
    yield
    wait_until_registry_settles()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request, hub_cache):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=artifacts / f"{request.node.name}.png", full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
