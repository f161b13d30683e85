"""Running one build: clone the commit, `buildah bud`, `buildah push` to the hub's registry.

`claim()` starts a queued build when fewer than BUILDS_MAX_CONCURRENT builds run on all
workers; `execute()` then runs it in a workspace under BUILDS_DIR/work/<build id>, with buildah
on an image storage of its own under BUILDS_DIR/containers (vfs, chroot isolation: no daemon,
no privileges beyond the worker's). The log gets each command line, then its output, appended
to the Build row every half second; the same loop notices a cancel (the view sets CANCELLED)
and the timeout, and then kills the command's process group.

Every change of status is a conditional UPDATE from the status the worker expects, so a cancel
written by the portal meanwhile is never overwritten.

The pushed image reaches the portal like any other push: the registry sends its event, which
makes the tag, the activity entry and the outgoing webhooks.
"""

import base64
import codecs
import contextlib
import fcntl
import json
import logging
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from registry.robots import ROBOT_LOGIN, issue_robot_secret
from repos.models import Repository

from .models import Build
from .rules import paths_in_checkout

log = logging.getLogger(__name__)

# How often the log is written and the status read while a command runs.
TICK = 0.5
# A build waiting for a free slot is tried again after this many seconds.
BUSY_RETRY_SECONDS = 5
# What the builder itself writes (command lines, the outcome) may go past the output's cap.
LOG_NOTES_RESERVE = 2000
# After SIGTERM, buildah removes its working containers; after this long it gets SIGKILL.
KILL_GRACE = 10.0
# A build RUNNING this long past its timeout lost its worker (killed with the machine).
STALE_MARGIN = timedelta(minutes=5)
# Any number; PostgreSQL's advisory lock that one worker at a time holds to start a build.
START_LOCK_KEY = 0x646F636B7962
IMAGE_PREFIX = "localhost/dockyard-build"
BUILD_STEP_ERROR_RE = re.compile(r'building at STEP "(?P<step>.*?)": (?P<reason>.*)$')
ERROR_LINE_RE = re.compile(r"^(?:Error|error|fatal|FATAL)(?:\[\d+\])?: (?P<reason>.+)$")


class Claim(Enum):
    STARTED = "started"
    BUSY = "busy"  # BUILDS_MAX_CONCURRENT builds are running: try again later
    GONE = "gone"  # cancelled, deleted, or started by another worker already


def claim(build_id: int) -> Claim:
    """Mark a queued build RUNNING if a slot is free, in one transaction that a single
    worker at a time holds."""
    with transaction.atomic():
        _lock_starts()
        _fail_stale_builds()
        if not Build.objects.filter(pk=build_id, status=Build.Status.QUEUED).exists():
            return Claim.GONE
        running = Build.objects.filter(status=Build.Status.RUNNING).count()
        if running >= settings.BUILDS_MAX_CONCURRENT:
            return Claim.BUSY
        started = Build.objects.filter(pk=build_id, status=Build.Status.QUEUED).update(
            status=Build.Status.RUNNING, started=timezone.now()
        )
        return Claim.STARTED if started else Claim.GONE


def _lock_starts() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [START_LOCK_KEY])
    # SQLite: the transaction began IMMEDIATE (hub.settings), so it already holds the
    # database's only write lock, and the count below cannot change under it.


def _fail_stale_builds() -> None:
    """A build still RUNNING long after its timeout had its worker die under it: it would hold
    its slot for ever."""
    too_old = timezone.now() - timedelta(seconds=settings.BUILD_TIMEOUT) - STALE_MARGIN
    Build.objects.filter(status=Build.Status.RUNNING, started__lt=too_old).update(
        status=Build.Status.FAILED,
        error="The worker running this build stopped before it finished.",
        finished=timezone.now(),
    )


# -- buildah's storage and configuration ---------------------------------------------------


def containers_home() -> Path:
    return settings.BUILDS_DIR / "containers"


def workspace_of(build_id: int) -> Path:
    return settings.BUILDS_DIR / "work" / str(build_id)


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)  # atomic: another worker may be reading it


def prepare_containers_home() -> Path:
    """buildah's own storage and configuration under BUILDS_DIR, never the machine's: vfs
    image storage, no unqualified names but Docker Hub's (as `docker build` resolves them),
    and the hub's registry as an insecure one when it is served over plain HTTP."""
    home = containers_home()
    for sub in ("storage", "run", "tmp", "libpod", "config"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    _write_if_changed(
        home / "storage.conf",
        f'[storage]\ndriver = "vfs"\ngraphroot = "{home / "storage"}"\n'
        f'runroot = "{home / "run"}"\n',
    )
    _write_if_changed(
        home / "containers.conf",
        f'[engine]\ntmp_dir = "{home / "libpod"}"\nevents_logger = "none"\n'
        'cgroup_manager = "cgroupfs"\n',
    )
    registries = 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n'
    if not settings.REGISTRY_TLS:
        registries += f'\n[[registry]]\nlocation = "{settings.REGISTRY_HOST}"\ninsecure = true\n'
    _write_if_changed(home / "registries.conf", registries)
    return home


def tool_env(home: Path) -> dict[str, str]:
    """The environment of git and buildah: theirs only, none of the worker's settings and
    secrets."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "TMPDIR": str(home / "tmp"),
        "CONTAINERS_STORAGE_CONF": str(home / "storage.conf"),
        "CONTAINERS_CONF": str(home / "containers.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(home / "registries.conf"),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


@contextlib.contextmanager
def storage_in_use(home: Path) -> Iterator[None]:
    """Held (shared) by each build on this machine's storage. The last one to finish prunes
    what builds leave behind: intermediate images of failed steps, containers of killed ones."""
    with open(home / "builds.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another build is running on this storage
        env = tool_env(home)
        for argv in (["buildah", "rm", "--all"], ["buildah", "rmi", "--prune"]):
            subprocess.run(argv, env=env, capture_output=True, timeout=300)


# -- the log ---------------------------------------------------------------------------------


class BuildLog:
    """The build's log, buffered and appended to its row at each flush. Command output stops
    being kept at BUILD_LOG_LIMIT characters (minus a reserve for the builder's own lines)."""

    def __init__(self, build: Build, limit: int):
        self.build = build
        self.limit = limit
        self.output_limit = max(0, limit - min(LOG_NOTES_RESERVE, limit // 4))
        self.written = 0
        self.pending: list[str] = []
        self.truncated = False

    def note(self, text: str) -> None:
        """A line of the builder's own: a command line, the outcome."""
        self._add(text[: max(0, self.limit - self.written)])

    def output(self, text: str) -> None:
        if self.truncated:
            return
        room = self.output_limit - self.written
        if len(text) > room:
            self._add(text[: max(0, room)])
            self.truncated = True
            Build.objects.filter(pk=self.build.pk).update(log_truncated=True)
            self.note(f"\n[The log is cut here: it is kept up to {self.limit:,} characters.]\n")
            return
        self._add(text)

    def _add(self, text: str) -> None:
        if text:
            self.pending.append(text)
            self.written += len(text)

    def flush(self) -> None:
        if self.pending:
            text, self.pending = "".join(self.pending), []
            self.build.append_log(text)


# -- running the steps -----------------------------------------------------------------------


class BuildStopped(Exception):
    """Cancelled or timed out: the command was killed."""

    def __init__(self, cancelled: bool, reason: str):
        super().__init__(reason)
        self.cancelled = cancelled
        self.reason = reason


class StepFailed(Exception):
    """A step failed; the message is the one-line reason kept in Build.error."""


@dataclass
class Output:
    returncode: int
    tail: str  # the last lines, to find the error in


def describe_seconds(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def failure_reason(label: str, output: Output) -> str:
    """One line for Build.error: buildah's failing step (`step RUN false failed: exit status
    1`), else the tool's last error line, else the exit status."""
    lines = [line.strip() for line in output.tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if found := BUILD_STEP_ERROR_RE.search(line):
            return f"step {found['step']} failed: {found['reason']}"[:500]
    for position in range(len(lines) - 1, -1, -1):
        if found := ERROR_LINE_RE.match(lines[position]):
            # "…: errors:" goes on with the registry's answers on the lines below.
            reason = " ".join([found["reason"], *lines[position + 1 :]])
            return f"{label} failed: {reason}"[:500]
    return f"{label} failed: exit status {output.returncode}"[:500]


class Runner:
    """Runs a build's commands in its workspace, streaming their output to the log."""

    def __init__(self, build: Build, build_log: BuildLog, env: dict[str, str], deadline: float):
        self.build = build
        self.log = build_log
        self.env = env
        self.deadline = deadline
        self.next_check = 0.0

    def check(self) -> None:
        """Raise BuildStopped if the build was cancelled (or deleted) or ran out of time."""
        if time.monotonic() >= self.deadline:
            raise BuildStopped(
                False, f"Timed out after {describe_seconds(settings.BUILD_TIMEOUT)}."
            )
        status = Build.objects.filter(pk=self.build.pk).values_list("status", flat=True).first()
        if status != Build.Status.RUNNING:
            raise BuildStopped(True, "Cancelled.")

    def tick(self) -> None:
        """Every TICK: write the log, then look for a cancel or the timeout."""
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + TICK
            self.log.flush()
            self.check()

    def run(
        self,
        label: str,
        argv: list[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        shown: list[str] | None = None,
    ) -> Output:
        """Run a command, its output into the log (its command line as `shown`, when that
        differs); StepFailed when it exits non-zero."""
        self.log.note(f"$ {shlex.join(shown or argv)}\n")
        self.log.flush()
        self.check()
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
        )
        tail = ""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                open_pipe = True
                while open_pipe or process.poll() is None:
                    if open_pipe and selector.select(timeout=TICK):
                        data = os.read(process.stdout.fileno(), 65536)
                        if data:
                            text = decoder.decode(data)
                            tail = (tail + text)[-8192:]
                            self.log.output(text)
                        else:
                            open_pipe = False
                            selector.unregister(process.stdout)
                    elif not open_pipe:
                        time.sleep(0.05)
                    self.tick()
        except BaseException:
            _kill_group(process)
            raise
        finally:
            process.stdout.close()
        self.log.output(decoder.decode(b"", final=True))
        output = Output(process.returncode, tail)
        if output.returncode != 0:
            raise StepFailed(failure_reason(label, output))
        return output


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM to the command's process group (buildah then removes its working container),
    SIGKILL to what is left after KILL_GRACE."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived buildah


# -- the build -------------------------------------------------------------------------------


def execute(build: Build) -> None:
    """Run a build that claim() marked RUNNING, and record how it ended."""
    deadline = time.monotonic() + settings.BUILD_TIMEOUT
    build_log = BuildLog(build, settings.BUILD_LOG_LIMIT)
    try:
        home = prepare_containers_home()
    except OSError as error:
        _builder_error(build, build_log, error)
        return
    workspace = workspace_of(build.pk)
    image = f"{IMAGE_PREFIX}:{build.pk}"
    runner = Runner(build, build_log, tool_env(home), deadline)
    with storage_in_use(home):
        try:
            shutil.rmtree(workspace, ignore_errors=True)
            workspace.mkdir(parents=True)
            reference, digest = _build_and_push(build, runner, workspace, image)
        except BuildStopped as stopped:
            if stopped.cancelled:
                build_log.note(f"\n{stopped.reason}\n")
                build_log.flush()
            else:
                _end(build, build_log, Build.Status.FAILED, stopped.reason, error=stopped.reason)
        except StepFailed as failed:
            note = f"Build failed: {failed}"
            _end(build, build_log, Build.Status.FAILED, note, error=str(failed))
        except Exception as error:
            _builder_error(build, build_log, error)
        else:
            note = f"Pushed {reference}\nDigest: {digest}"
            if not _end(build, build_log, Build.Status.SUCCESS, note, digest=digest):
                build_log.note("Cancelled after the image was pushed.\n")
        finally:
            build_log.flush()
            shutil.rmtree(workspace, ignore_errors=True)
            subprocess.run(
                ["buildah", "rmi", image], env=runner.env, capture_output=True, timeout=300
            )


def _builder_error(build: Build, build_log: BuildLog, error: Exception) -> None:
    log.exception("build %s failed in the builder", build.pk)
    note = f"Build failed: the builder stopped on an error ({error})."
    _end(build, build_log, Build.Status.FAILED, note, error=f"Builder error: {error}"[:500])


def _end(build: Build, build_log: BuildLog, status: str, note: str, **outcome: str) -> bool:
    """Write the last lines, then record the outcome (the build page stops reading the log
    once the build has finished) unless the build was cancelled meanwhile. Whether it was
    recorded."""
    build_log.note(f"\n{note}\n")
    build_log.flush()
    return bool(
        Build.objects.filter(pk=build.pk, status=Build.Status.RUNNING).update(
            status=status, finished=timezone.now(), **outcome
        )
    )


def _build_and_push(build: Build, runner: Runner, workspace: Path, image: str) -> tuple[str, str]:
    """Clone, build and push; the pushed reference and its manifest digest."""
    repository = Repository.objects.select_related("namespace").get(pk=build.repository_id)
    if repository.state != Repository.State.ACTIVE:
        raise StepFailed(f"The repository {repository.full_name} is being deleted.")
    source = getattr(repository, "build_source", None)
    checkout = workspace / "src"
    checkout.mkdir()
    clone_commit(build, source, runner, checkout)

    try:
        context, dockerfile = paths_in_checkout(checkout, build.context, build.dockerfile)
    except ValueError as error:
        raise StepFailed(str(error)) from None

    # The robot pushes to this repository only, and pulls the FROM images its user may pull.
    acting_user_id = build.triggered_by_id or (source.connected_by_id if source else None)
    secret = issue_robot_secret(repository.pk, acting_user_id, settings.BUILD_TIMEOUT + 300)
    # The credentials go to the hub's registry only (never to docker.io for a public FROM),
    # and never on a command line, which the log shows and `ps` lists.
    auth_file = workspace / "auth.json"
    auth_file.touch(mode=0o600)
    login = base64.b64encode(f"{ROBOT_LOGIN}:{secret}".encode()).decode()
    auth_file.write_text(json.dumps({"auths": {settings.REGISTRY_HOST: {"auth": login}}}))

    def bud(build_args: list[str]) -> list[str]:
        return [
            "buildah", "bud", "--isolation", "chroot", "--format", "docker", "--layers",
            "--force-rm", "--authfile", "auth.json", *build_args,
            "--file", str(dockerfile.relative_to(workspace)),
            "--tag", image, str(context.relative_to(workspace)),
        ]  # fmt: skip

    # Readers of the repository read the log; build argument values are for its admins.
    runner.run(
        "buildah bud",
        bud([f"--build-arg={name}={value}" for name, value in build.build_args.items()]),
        cwd=workspace,
        shown=bud([f"--build-arg={name}=…" for name in build.build_args]),
    )

    reference = f"{settings.REGISTRY_HOST}/{repository.full_name}:{build.docker_tag}"
    runner.run(
        "buildah push",
        [
            "buildah", "push", "--authfile", "auth.json", "--digestfile", "digest",
            image, f"docker://{reference}",
        ],
        cwd=workspace,
    )  # fmt: skip
    return reference, (workspace / "digest").read_text().strip()


def clone_commit(build: Build, source, runner: Runner, checkout: Path) -> None:
    """The exact commit, and nothing else: git init, a shallow fetch of the sha, checkout."""
    env = {**runner.env, "GIT_CONFIG_COUNT": "1"}
    env["GIT_CONFIG_KEY_0"], env["GIT_CONFIG_VALUE_0"] = "init.defaultBranch", "main"
    runner.run("git init", ["git", "init", "--quiet"], cwd=checkout, env=env)
    runner.run("git remote add", ["git", "remote", "add", "origin", build.clone_url], cwd=checkout)
    if source is not None and source.github_private:
        token = _github_token(source)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        # Through the environment: a `-c` option would show the token in the log and in `ps`.
        env["GIT_CONFIG_COUNT"] = "2"
        env["GIT_CONFIG_KEY_1"] = f"http.{build.clone_url}.extraHeader"
        env["GIT_CONFIG_VALUE_1"] = f"Authorization: Basic {basic}"
    runner.run(
        "git fetch",
        ["git", "fetch", "--depth", "1", "--no-tags", "origin", build.commit],
        cwd=checkout,
        env=env,
    )
    runner.run(
        "git checkout",
        ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", "FETCH_HEAD"],
        cwd=checkout,
    )


def _github_token(source) -> str:
    from .github import github_token_for

    token = github_token_for(source.connected_by) if source.connected_by else None
    if not token:
        raise StepFailed(
            f"{source.github_full_name} is private and the GitHub account that connected it "
            "is no longer linked: connect the source again."
        )
    return token
