"""The builder with real git and buildah: a bare repository on disk as the source, a plain
distribution registry (no auth) to push to, the task called as the worker calls it."""

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.utils import timezone

from accounts.models import Namespace
from builds import builder
from builds.models import Build, BuildRule
from builds.tasks import run_build
from builds.triggers import PushedRef, cancel_build, prepare_build
from repos.models import Repository
from tests.factories import BuildFactory, BuildRuleFactory, BuildSourceFactory
from tests.support.images import ContainerTools
from tests.support.processes import free_port, wait_for_http

BASE_IMAGE = "localhost/dockyard-tests/busybox"
MESSAGE = "this is my new container to make image and then push to hub"
DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN mkdir /mynewdir
RUN touch /mynewdir/mynewfile
RUN echo '{MESSAGE}' > /mynewdir/mynewfile
"""
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Octo Cat",
    "GIT_AUTHOR_EMAIL": "octo@example.com",
    "GIT_COMMITTER_NAME": "Octo Cat",
    "GIT_COMMITTER_EMAIL": "octo@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}


class Origin:
    """A bare git repository, as GitHub keeps one, and a working copy that commits to it."""

    def __init__(self, root: Path):
        self.bare = root / "origin.git"
        self.work = root / "work"
        self.url = f"file://{self.bare}"
        root.mkdir(parents=True)
        self._git("init", "--quiet", "--bare", str(self.bare), cwd=root)
        self._git("init", "--quiet", "--initial-branch", "main", str(self.work), cwd=root)

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(
            ["git", *args], cwd=cwd or self.work, env=GIT_ENV, check=True, capture_output=True
        )
        return result.stdout.decode().strip()

    def commit(self, files: dict[str, str], message: str = "Change") -> str:
        for name, content in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        self._git("add", "--all")
        self._git("commit", "--quiet", "--message", message)
        self._git("push", "--quiet", str(self.bare), "HEAD:refs/heads/main")
        return self._git("rev-parse", "HEAD")

    def symlink(self, name: str, target: str) -> str:
        (self.work / name).symlink_to(target)
        self._git("add", "--all")
        self._git("commit", "--quiet", "--message", f"Link {name}")
        self._git("push", "--quiet", str(self.bare), "HEAD:refs/heads/main")
        return self._git("rev-parse", "HEAD")


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The distribution registry with no auth on a free port; its host:port."""
    root = tmp_path_factory.mktemp("plain-registry")
    host = f"127.0.0.1:{free_port()}"
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root / "storage")}},
        "http": {"addr": host},
    }
    (root / "config.yml").write_text(json.dumps(config))
    with open(root / "registry.log", "w") as log:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(root / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://{host}/v2/", process=process, log=root / "registry.log")
        yield host
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def storage(settings, tmp_path: Path, plain_registry: str) -> ContainerTools:
    """The builder's own image storage under this test's BUILDS_DIR, holding the base image
    that Dockerfiles start FROM; pushes go to the plain registry."""
    settings.BUILDS_DIR = tmp_path / "builds"
    settings.REGISTRY_HOST = plain_registry
    settings.REGISTRY_TLS = False
    tools = ContainerTools.create(settings.BUILDS_DIR / "containers")
    tools.make_base_image(BASE_IMAGE)
    return tools


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return Origin(tmp_path / "github")


@pytest.fixture
def rule(alice, origin: Origin) -> BuildRule:
    repository = Repository.objects.create(
        namespace=Namespace.objects.get(name="alice"), name="app"
    )
    source = BuildSourceFactory(repository=repository, clone_url=origin.url, connected_by=alice)
    return BuildRuleFactory(source=source)


def queue(rule: BuildRule, commit: str, tag: str = "latest") -> Build:
    build, _ = prepare_build(
        rule, PushedRef("branch", "main", commit, "Change"), tag, Build.Trigger.PUSH
    )
    return build


def run(build: Build) -> Build:
    """Run the task as the worker would, and read the build back."""
    run_build(build.pk)
    return Build.objects.get(pk=build.pk)


def registry_digest(tools: ContainerTools, reference: str) -> str:
    return tools.inspect(reference)["Digest"]


def cat_in_image(tools: ContainerTools, reference: str, path: str) -> str:
    """Pull an image from the registry and print one of its files."""
    tools.buildah("pull", "--tls-verify=false", "--quiet", f"docker://{reference}")
    return tools.run_image(reference, "cat", path)


def test_a_build_clones_the_commit_builds_and_pushes_it(storage, origin, rule, plain_registry):
    commit = origin.commit({"Dockerfile": DOCKERFILE, "README.md": "# app\n"})
    build = run(queue(rule, commit))

    assert build.status == Build.Status.SUCCESS, build.log
    assert build.error == ""
    assert build.started <= build.finished
    reference = f"{plain_registry}/alice/app:latest"
    assert build.digest == registry_digest(storage, reference)
    assert f"$ git fetch --depth 1 --no-tags origin {commit}\n" in build.log
    assert "STEP 4/4: RUN echo" in build.log
    assert f"Pushed {reference}\nDigest: {build.digest}\n" in build.log
    # Nothing of the build stays on the worker.
    assert not builder.workspace_of(build.pk).exists()
    assert not storage.image_exists(f"{builder.IMAGE_PREFIX}:{build.pk}")
    assert storage.buildah("containers", "--all", "--quiet").strip() == ""
    assert cat_in_image(storage, reference, "/mynewdir/mynewfile") == f"{MESSAGE}\n"


def test_the_build_uses_the_pushed_commit_not_the_branch_tip(storage, origin, rule):
    pushed = origin.commit({"Dockerfile": f"FROM {BASE_IMAGE}\nRUN echo first > /version\n"})
    origin.commit({"Dockerfile": f"FROM {BASE_IMAGE}\nRUN echo second > /version\n"})
    build = run(queue(rule, pushed))

    assert build.status == Build.Status.SUCCESS, build.log
    assert "RUN echo first > /version" in build.log
    assert "second" not in build.log


def test_build_args_dockerfile_location_and_context_come_from_the_rule(
    storage, origin, rule, plain_registry
):
    commit = origin.commit(
        {
            "docker/app/build.Dockerfile": (
                f"FROM {BASE_IMAGE}\nARG GREETING\nCOPY hello.txt /hello.txt\n"
                'RUN echo "$GREETING" >> /hello.txt\n'
            ),
            "docker/app/hello.txt": "hello from the context\n",
        }
    )
    rule.context, rule.dockerfile = "/docker/app", "build.Dockerfile"
    rule.build_args = {"GREETING": "and from a build argument"}
    rule.save()
    build = run(queue(rule, commit, tag="1.0"))

    assert build.status == Build.Status.SUCCESS, build.log
    # The value is for admins: readers see the log.
    assert "'--build-arg=GREETING=…'" in build.log
    assert "and from a build argument" not in build.log
    output = cat_in_image(storage, f"{plain_registry}/alice/app:1.0", "/hello.txt")
    assert output == "hello from the context\nand from a build argument\n"


def test_a_failing_step_fails_the_build_with_that_step(storage, origin, rule):
    commit = origin.commit({"Dockerfile": f"FROM {BASE_IMAGE}\nRUN echo before\nRUN exit 3\n"})
    build = run(queue(rule, commit))

    assert build.status == Build.Status.FAILED
    assert build.error == "step RUN exit 3 failed: exit status 3"
    assert "STEP 3/3: RUN exit 3" in build.log
    assert build.log.endswith("Build failed: step RUN exit 3 failed: exit status 3\n")
    assert build.digest == ""
    assert build.finished is not None
    assert not builder.workspace_of(build.pk).exists()
    assert storage.buildah("containers", "--all", "--quiet").strip() == ""


def test_a_commit_the_repository_does_not_have_fails_the_clone(storage, origin, rule):
    origin.commit({"Dockerfile": DOCKERFILE})
    build = run(queue(rule, "0123456789abcdef0123456789abcdef01234567"))

    assert build.status == Build.Status.FAILED
    assert build.error.startswith("git fetch failed: ")
    assert "$ buildah" not in build.log


@pytest.mark.parametrize(
    ("context", "dockerfile", "error"),
    [
        (
            "/missing",
            "Dockerfile",
            "The build context '/missing' is not a folder of the repository.",
        ),
        ("/", "app/Dockerfile", "There is no Dockerfile at 'app/Dockerfile' in the build context."),
        ("/", "escape", "The Dockerfile location leaves the repository's checkout."),
    ],
)
def test_paths_outside_the_checkout_or_missing_fail_before_building(
    storage, origin, rule, context, dockerfile, error
):
    origin.commit({"Dockerfile": DOCKERFILE})
    commit = origin.symlink("escape", "/etc/passwd")
    rule.context, rule.dockerfile = context, dockerfile
    rule.save()
    build = run(queue(rule, commit))

    assert build.status == Build.Status.FAILED
    assert build.error == error
    assert "$ buildah" not in build.log
    assert not builder.workspace_of(build.pk).exists()


def test_the_log_is_capped_and_the_build_goes_on(settings, storage, origin, rule):
    settings.BUILD_LOG_LIMIT = 4000
    commit = origin.commit({"Dockerfile": f"FROM {BASE_IMAGE}\nRUN seq 1 20000\n"})
    build = run(queue(rule, commit))

    assert build.status == Build.Status.SUCCESS
    assert build.log_truncated
    assert len(build.log) <= 4000
    assert "[The log is cut here: it is kept up to 4,000 characters.]" in build.log
    assert "19999" not in build.log
    assert build.log.endswith(f"Digest: {build.digest}\n")


def test_a_build_that_runs_too_long_is_stopped(settings, storage, origin, rule):
    settings.BUILD_TIMEOUT = 4
    commit = origin.commit({"Dockerfile": f"FROM {BASE_IMAGE}\nRUN sleep 60\n"})
    build = run(queue(rule, commit))

    assert build.status == Build.Status.FAILED
    assert build.error == "Timed out after 4 s."
    assert build.log.endswith("\nTimed out after 4 s.\n")
    assert not builder.workspace_of(build.pk).exists()
    assert storage.buildah("containers", "--all", "--quiet").strip() == ""


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_build_stops_it_and_cleans_up(storage, origin, rule):
    commit = origin.commit({"Dockerfile": f"FROM {BASE_IMAGE}\nRUN sleep 60\n"})
    build = queue(rule, commit)

    def work() -> None:
        try:
            run_build(build.pk)
        finally:
            connection.close()  # the thread's own

    worker = threading.Thread(target=work)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while "STEP 2/2: RUN sleep 60" not in Build.objects.get(pk=build.pk).log:
            assert time.monotonic() < deadline, Build.objects.get(pk=build.pk).log
            time.sleep(0.1)
        assert cancel_build(build)
    finally:
        worker.join(timeout=60)
    assert not worker.is_alive()

    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED
    assert build.error == "Cancelled."
    assert build.log.endswith("\nCancelled.\n")
    assert not builder.workspace_of(build.pk).exists()
    assert storage.buildah("containers", "--all", "--quiet").strip() == ""
    assert not storage.image_exists(f"{builder.IMAGE_PREFIX}:{build.pk}")


def test_a_build_cancelled_while_queued_never_starts(storage, origin, rule):
    build = queue(rule, origin.commit({"Dockerfile": DOCKERFILE}))
    assert cancel_build(build)
    build = run(build)

    assert build.status == Build.Status.CANCELLED
    assert build.started is None
    assert build.log == ""
    assert not builder.workspace_of(build.pk).exists()


def test_a_build_waits_while_every_slot_is_taken(settings, alice, rule):
    settings.BUILDS_MAX_CONCURRENT = 2
    repository = rule.source.repository
    for _ in range(2):
        BuildFactory(repository=repository, status=Build.Status.RUNNING, started=timezone.now())
    waiting = BuildFactory(repository=repository)

    with pytest.raises(Retry):
        run_build(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == Build.Status.QUEUED
    assert waiting.started is None

    # Without a broker (tests only) there is no worker to come back to it: it stays queued.
    run_build.delay(waiting.pk)
    assert Build.objects.get(pk=waiting.pk).status == Build.Status.QUEUED


def test_finished_builds_free_their_slot(settings, rule):
    settings.BUILDS_MAX_CONCURRENT = 1
    repository = rule.source.repository
    BuildFactory(repository=repository, status=Build.Status.SUCCESS, started=timezone.now())
    BuildFactory(repository=repository, status=Build.Status.CANCELLED, started=timezone.now())
    waiting = BuildFactory(repository=repository)

    assert builder.claim(waiting.pk) is builder.Claim.STARTED
    assert Build.objects.get(pk=waiting.pk).status == Build.Status.RUNNING


def test_a_build_whose_worker_died_frees_its_slot(settings, rule):
    settings.BUILDS_MAX_CONCURRENT = 1
    settings.BUILD_TIMEOUT = 600
    repository = rule.source.repository
    lost = BuildFactory(
        repository=repository,
        status=Build.Status.RUNNING,
        started=timezone.now() - timedelta(seconds=600) - builder.STALE_MARGIN * 2,
    )
    waiting = BuildFactory(repository=repository)

    assert builder.claim(waiting.pk) is builder.Claim.STARTED
    lost.refresh_from_db()
    assert lost.status == Build.Status.FAILED
    assert lost.error == "The worker running this build stopped before it finished."


def test_a_build_is_started_once(rule):
    build = BuildFactory(repository=rule.source.repository)
    assert builder.claim(build.pk) is builder.Claim.STARTED
    assert builder.claim(build.pk) is builder.Claim.GONE


def test_the_error_is_the_failing_step_or_the_tools_last_error():
    step = builder.Output(
        1, 'STEP 3/3: RUN false\nError: building at STEP "RUN false": exit status 1\n'
    )
    assert builder.failure_reason("buildah bud", step) == "step RUN false failed: exit status 1"
    denied = builder.Output(
        125,
        "Trying to pull 127.0.0.1:5000/alice/base:latest...\n"
        "Error: initializing source docker://127.0.0.1:5000/alice/base:latest: errors:\n"
        "denied: requested access to the resource is denied\n",
    )
    assert builder.failure_reason("buildah bud", denied) == (
        "buildah bud failed: initializing source docker://127.0.0.1:5000/alice/base:latest: "
        "errors: denied: requested access to the resource is denied"
    )
    quiet = builder.Output(128, "")
    assert builder.failure_reason("git fetch", quiet) == "git fetch failed: exit status 128"
