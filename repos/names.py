"""Repository and tag names (DESIGN §3 "Names", the distribution grammar)."""

import re

from django.core.exceptions import ValidationError

PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
REPOSITORY_NAME_RE = re.compile(rf"^{PATH_COMPONENT}(?:/{PATH_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REPOSITORY_NAME_RULE = (
    "Use lowercase letters, digits and separators ('.', '_', '__' or '-') between them, "
    "with '/' between path parts; at most 255 characters with the namespace."
)
TAG_RULE = "Use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'."


def validate_repository_name(name: str) -> None:
    if not REPOSITORY_NAME_RE.match(name or "") or len(name) > 224:
        raise ValidationError(f"'{name}' is not a valid repository name. {REPOSITORY_NAME_RULE}")


def validate_tag(tag: str) -> None:
    if not TAG_RE.match(tag or ""):
        raise ValidationError(f"'{tag}' is not a valid tag. {TAG_RULE}")
