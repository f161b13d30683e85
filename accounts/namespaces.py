"""Names of namespaces: users and organizations share one space (DESIGN §3 "Names")."""

import re

from django.core.exceptions import ValidationError

NAMESPACE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,28}[a-z0-9])$")
NAMESPACE_RULE = (
    "Use 2 to 30 characters: lowercase letters a-z and digits 0-9, "
    "with '-' or '_' allowed between them."
)

# Words that would collide with URLs, registry paths or well-known images.
RESERVED_NAMESPACES = frozenset(
    """
    about account accounts admin administrator api apps auth billing blog builds dashboard docs
    docker dockerhub dockyard explore help hub library login logout me new official org orgs
    organization organizations r registry repositories repository root search security settings
    signup static status support system team teams token u user users v1 v2 webhooks www
    """.split()
)


def validate_namespace_name(name: str) -> None:
    """Refuse names outside the namespace grammar or on the reserved list."""
    if not NAMESPACE_RE.match(name or ""):
        raise ValidationError(f"'{name}' is not a valid name. {NAMESPACE_RULE}", code="invalid")
    if name in RESERVED_NAMESPACES:
        raise ValidationError(f"'{name}' is reserved. Please choose another name.", code="reserved")


def is_namespace_taken(name: str) -> bool:
    from .models import Namespace

    return Namespace.objects.filter(name=name.lower()).exists()
