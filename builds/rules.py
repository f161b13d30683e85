"""Build rules as Docker Hub writes them: which pushed refs build, under which Docker tag.

A rule's source is a branch or tag name (`main`, `v1`) or a regular expression between slashes
(`/^v([0-9.]+)$/`, searched in the ref name, so anchors mean what they say). Its Docker tag is a
tag, `{sourceref}` (the pushed branch or tag name) or regex groups `{\\1}`, alone or mixed
(`release-{\\1}`). The Dockerfile location and build context are paths inside the checkout.
"""

import re
from pathlib import Path, PurePosixPath

from django.core.exceptions import ValidationError

from repos.names import TAG_RE, TAG_RULE

PLACEHOLDER_RE = re.compile(r"\{(sourceref|\\([0-9]))\}")
BUILD_ARG_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# git check-ref-format's rules, in short: what a branch or tag name may not contain.
BAD_REF_RE = re.compile(r"(^[./-])|(\.\.)|([\x00-\x20~^:?*\[\\\x7f])|(@\{)|(/\.)|(//)|([./]$)")
MAX_BUILD_ARGS = 50
MAX_BUILD_ARG_LENGTH = 4096


def is_regex(source_ref: str) -> bool:
    return len(source_ref) > 2 and source_ref.startswith("/") and source_ref.endswith("/")


def pattern(source_ref: str) -> re.Pattern:
    return re.compile(source_ref[1:-1])


def validate_source_ref(source_ref: str) -> None:
    if is_regex(source_ref):
        try:
            pattern(source_ref)
        except re.error as error:
            raise ValidationError(
                f"{source_ref} is not a valid regular expression ({error}). "
                "Write one between slashes, such as /^v([0-9.]+)$/."
            ) from None
        return
    if not source_ref or BAD_REF_RE.search(source_ref) or source_ref.endswith(".lock"):
        raise ValidationError(
            f"'{source_ref}' is not a branch or tag name git accepts (no spaces, '..', '~', '^', "
            "':', '?', '*', '[' or '\\'); for a pattern, write a regular expression between "
            "slashes, such as /^v([0-9.]+)$/."
        )


def validate_docker_tag_template(template: str) -> None:
    example = PLACEHOLDER_RE.sub("x", template)
    if "{" in example or "}" in example:
        raise ValidationError(
            f"'{template}' uses a placeholder Dockyard does not know: use {{sourceref}} or a "
            "regex group such as {\\1}."
        )
    if not TAG_RE.match(example):
        raise ValidationError(f"'{template}' cannot make a valid tag. {TAG_RULE}")


def validate_path_in_checkout(path: str) -> None:
    """A relative path that stays in the checkout (a leading / means its root, as on Docker Hub)."""
    if "\x00" in path or "\\" in path:
        raise ValidationError("Use a path with / between folders, without \\ or NUL characters.")
    if ".." in PurePosixPath(path).parts:
        raise ValidationError(
            f"'{path}' leaves the repository: use a path inside it, without '..'."
        )


def validate_build_args(build_args: object) -> None:
    if not isinstance(build_args, dict):
        raise ValidationError("Build arguments are NAME=value pairs.")
    if len(build_args) > MAX_BUILD_ARGS:
        raise ValidationError(f"Use at most {MAX_BUILD_ARGS} build arguments.")
    for name, value in build_args.items():
        if not isinstance(name, str) or not BUILD_ARG_NAME_RE.match(name):
            raise ValidationError(
                f"'{name}' is not a build argument name: use letters, digits and '_', "
                "not starting with a digit."
            )
        if not isinstance(value, str) or len(value) > MAX_BUILD_ARG_LENGTH or "\x00" in value:
            raise ValidationError(
                f"The value of {name} must be text of at most {MAX_BUILD_ARG_LENGTH} characters."
            )


def matching_tag(
    source_type: str, source_ref: str, docker_tag: str, pushed_type: str, pushed_ref: str
) -> str | None:
    """The Docker tag a push of `pushed_ref` (a branch or tag) builds under this rule, or None
    when the rule does not match it or cannot make a valid tag from it."""
    if source_type != pushed_type:
        return None
    groups: tuple[str, ...] = ()
    if is_regex(source_ref):
        found = pattern(source_ref).search(pushed_ref)
        if found is None:
            return None
        groups = tuple(group or "" for group in found.groups())
    elif source_ref != pushed_ref:
        return None

    def fill(placeholder: re.Match) -> str:
        if placeholder.group(1) == "sourceref":
            return pushed_ref
        number = int(placeholder.group(2))
        if number == 0:
            return found.group(0)
        return groups[number - 1] if number <= len(groups) else ""

    # A branch such as feature/login makes the tag feature-login.
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", PLACEHOLDER_RE.sub(fill, docker_tag))
    return tag if TAG_RE.match(tag) else None


def paths_in_checkout(checkout: Path, context: str, dockerfile: str) -> tuple[Path, Path]:
    """The build context folder and the Dockerfile, resolved (symbolic links too) and checked
    to stay inside the checkout; ValueError says which one leaves it or is missing."""
    root = checkout.resolve()
    context_dir = (root / context.lstrip("/")).resolve()
    dockerfile_path = (context_dir / dockerfile.lstrip("/")).resolve()
    for label, path in (("build context", context_dir), ("Dockerfile location", dockerfile_path)):
        if path != root and root not in path.parents:
            raise ValueError(f"The {label} leaves the repository's checkout.")
    if not context_dir.is_dir():
        raise ValueError(f"The build context {context!r} is not a folder of the repository.")
    if not dockerfile_path.is_file():
        raise ValueError(f"There is no Dockerfile at {dockerfile!r} in the build context.")
    return context_dir, dockerfile_path
