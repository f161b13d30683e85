"""The real buildah, skopeo and podman for tests, on a container storage of their own.

`ContainerTools.create(home)` keeps everything under `home`: image storage (vfs), podman's
state, temporary files and the tools' configuration, which allows no unqualified image names,
so that nothing is ever looked up on a public registry. Logins go to `auth_file`; give each
test its own with `with_auth_file` so that they do not leak between tests or onto the machine.
Registries are reached over plain HTTP (`--tls-verify=false`): the test registry is on loopback.

Images are made without a network: `make_base_image` puts Debian's busybox-static into an
empty image.
"""

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
NO_TLS_VERIFY = "--tls-verify=false"


class ToolError(RuntimeError):
    """A tool exited non-zero; the message holds its command line and stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str):
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"{' '.join(argv)} exited with {returncode}:\n{stderr.strip()}")


def _empty_auth_file(path: Path) -> Path:
    # buildah refuses to start when REGISTRY_AUTH_FILE names a file that does not exist.
    if not path.exists():
        path.write_text('{"auths": {}}')
    return path


@dataclass(frozen=True)
class ContainerTools:
    """buildah, skopeo and podman on the storage under `home`, logged in through `auth_file`."""

    home: Path
    auth_file: Path

    @classmethod
    def create(cls, home: Path) -> "ContainerTools":
        """Tools storing images and state under `home` (created if missing)."""
        home.mkdir(parents=True, exist_ok=True)
        for sub in ("tmp", "libpod", "run"):
            (home / sub).mkdir(exist_ok=True)
        (home / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{home / "storage"}"\n'
            f'runroot = "{home / "run"}"\n'
        )
        (home / "containers.conf").write_text(
            f'[engine]\ntmp_dir = "{home / "libpod"}"\nevents_logger = "none"\n'
            'cgroup_manager = "cgroupfs"\n'
        )
        (home / "registries.conf").write_text(
            'unqualified-search-registries = []\nshort-name-mode = "enforcing"\n'
        )
        return cls(home=home, auth_file=_empty_auth_file(home / "auth.json"))

    def with_auth_file(self, auth_file: Path) -> "ContainerTools":
        """The same storage, with logins kept in `auth_file`."""
        return replace(self, auth_file=_empty_auth_file(auth_file))

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            # HOME too: the tools also read ~/.docker/config.json and ~/.config/containers.
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_RUNTIME_DIR": str(self.home / "run"),
            "TMPDIR": str(self.home / "tmp"),
            "CONTAINERS_STORAGE_CONF": str(self.home / "storage.conf"),
            "CONTAINERS_CONF": str(self.home / "containers.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(self.home / "registries.conf"),
            "REGISTRY_AUTH_FILE": str(self.auth_file),
        }

    def run(self, *argv: str, input: str | None = None) -> str:
        """Run a tool; its stdout, or ToolError with its stderr."""
        result = subprocess.run(
            list(argv), env=self.env, input=input, capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            raise ToolError(list(argv), result.returncode, result.stderr)
        return result.stdout

    def buildah(self, *args: str, input: str | None = None) -> str:
        return self.run("buildah", *args, input=input)

    def skopeo(self, *args: str, input: str | None = None) -> str:
        return self.run("skopeo", *args, input=input)

    def podman(self, *args: str, input: str | None = None) -> str:
        return self.run("podman", *args, input=input)

    # Working containers and local images

    def from_image(self, image: str) -> str:
        """A working container of a local image (never pulled); its name."""
        return self.buildah("from", "--pull=never", image).strip()

    def run_in(self, container: str, *command: str) -> str:
        """Run a command in a working container; its stdout."""
        return self.buildah("run", "--isolation", "chroot", container, "--", *command)

    def configure(self, container: str, *options: str) -> None:
        """`buildah config` options, e.g. "--cmd", "/bin/sh" or "--arch", "arm64"."""
        self.buildah("config", *options, container)

    def commit(self, container: str, image: str) -> str:
        """Commit a working container as a local image; the image id."""
        return self.buildah("commit", "--quiet", container, image).strip()

    def remove_container(self, container: str) -> None:
        self.buildah("rm", container)

    @contextmanager
    def container(self, image: str) -> Iterator[str]:
        """A working container of `image`, removed afterwards."""
        container = self.from_image(image)
        try:
            yield container
        finally:
            self.remove_container(container)

    def run_image(self, image: str, *command: str) -> str:
        """Run a command in a fresh container of a local image (what `docker run` does)."""
        with self.container(image) as container:
            return self.run_in(container, *command)

    def make_base_image(self, image: str, *, arch: str = "", variant: str = "") -> str:
        """A small image with busybox and its applets in /bin, shell as command; its id.

        `arch` and `variant` set the platform recorded in the image's config."""
        if not BUSYBOX.exists():
            raise FileNotFoundError(f"{BUSYBOX} is missing: install Debian's busybox-static")
        with self.container("scratch") as container:
            self.buildah("copy", container, str(BUSYBOX), "/bin/busybox")
            self.run_in(container, "/bin/busybox", "--install", "-s", "/bin")
            options = ["--cmd", "/bin/sh", "--created-by", "COPY busybox, busybox --install"]
            if arch:
                options += ["--arch", arch]
            if variant:
                options += ["--variant", variant]
            self.configure(container, *options)
            return self.commit(container, image)

    def build(self, context: Path, image: str, *, format: str = "oci") -> str:
        """`buildah bud` of context/Dockerfile with a layer per instruction, as `docker build`
        makes; the image id. `format` is "oci" or "docker"; base images must be local."""
        output = self.buildah(
            "bud", "--isolation", "chroot", "--pull=never", "--layers", "--quiet",
            "--format", format, "--tag", image, str(context),
        )  # fmt: skip
        return output.strip().splitlines()[-1]

    def image_exists(self, image: str) -> bool:
        try:
            self.buildah("inspect", "--type", "image", image)
        except ToolError:
            return False
        return True

    def remove_image(self, image: str) -> None:
        self.buildah("rmi", image)

    def create_manifest_list(self, name: str, images: list[str]) -> None:
        """A local manifest list (index) of local images, each under its config's platform."""
        self.buildah("manifest", "create", name)
        for image in images:
            self.buildah("manifest", "add", name, f"containers-storage:{image}")

    # Registries

    def login(self, registry: str, username: str, secret: str) -> str:
        """`podman login` with a password or an access token; podman's output."""
        return self.podman(
            "login", NO_TLS_VERIFY, "--username", username, "--password-stdin", registry,
            input=secret,
        )  # fmt: skip

    def logout(self, registry: str) -> None:
        self.podman("logout", registry)

    def push(self, image: str, reference: str) -> str:
        """Push a local image to `reference` (host/ns/name[:tag]); the manifest digest."""
        digest_file = self.home / "tmp" / "push.digest"
        self.buildah(
            "push", NO_TLS_VERIFY, "--retry", "0", "--digestfile", str(digest_file),
            image, f"docker://{reference}",
        )  # fmt: skip
        return digest_file.read_text().strip()

    def push_manifest_list(self, name: str, reference: str) -> str:
        """Push a local manifest list and all its images; the index digest."""
        digest_file = self.home / "tmp" / "push.digest"
        self.buildah(
            "manifest", "push", NO_TLS_VERIFY, "--all", "--digestfile", str(digest_file),
            name, f"docker://{reference}",
        )  # fmt: skip
        return digest_file.read_text().strip()

    def pull(self, reference: str, *, creds: str | None = None) -> str:
        """`podman pull`, with the logins of `auth_file` unless `creds` ("user:secret") is
        given; the image id."""
        args = ["pull", NO_TLS_VERIFY, "--quiet"]
        if creds is not None:
            args += ["--creds", creds]
        return self.podman(*args, reference).strip()

    def inspect(
        self,
        reference: str,
        *,
        raw: bool = False,
        config: bool = False,
        creds: str | None = None,
        anonymous: bool = False,
    ) -> dict:
        """`skopeo inspect` of an image in a registry, with the logins of `auth_file` unless
        `creds` ("user:secret") or `anonymous` is given."""
        args = ["inspect", NO_TLS_VERIFY, "--retry-times", "0"]
        if raw:
            args.append("--raw")
        if config:
            args.append("--config")
        if anonymous:
            args.append("--no-creds")
        elif creds is not None:
            args += ["--creds", creds]
        return json.loads(self.skopeo(*args, f"docker://{reference}"))
