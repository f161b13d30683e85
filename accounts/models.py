import hashlib
import secrets
import uuid
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse
from django.utils import timezone

from .namespaces import NAMESPACE_RULE, validate_namespace_name


class Namespace(models.Model):
    """One row per user or organization name, so the two can never share a name."""

    class Kind(models.TextChoices):
        USER = "user", "User"
        ORG = "org", "Organization"

    name = models.CharField(max_length=30, unique=True, validators=[validate_namespace_name])
    kind = models.CharField(max_length=8, choices=Kind.choices)
    default_private = models.BooleanField(
        default=False, help_text="Repositories created by a push start private."
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    username = models.CharField(
        max_length=30,
        unique=True,
        validators=[validate_namespace_name],
        help_text=NAMESPACE_RULE,
        error_messages={"unique": "This name is already taken."},
    )
    full_name = models.CharField(max_length=100, blank=True)
    company = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=100, blank=True)
    website = models.URLField(max_length=200, blank=True)
    bio = models.TextField(max_length=1000, blank=True)

    def __str__(self) -> str:
        return self.username

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile", args=[self.username])

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @property
    def email_hash(self) -> str:
        return hashlib.sha256(self.email.strip().lower().encode()).hexdigest()


def hash_secret(secret: str) -> str:
    """Access and refresh tokens are high-entropy: a plain SHA-256 is enough and fast."""
    return hashlib.sha256(secret.encode()).hexdigest()


class AccessTokenQuerySet(models.QuerySet):
    def usable(self) -> "AccessTokenQuerySet":
        now = timezone.now()
        return self.filter(is_active=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class TokenScope(models.TextChoices):
    """Docker Hub's access token scopes; repos.access maps each to what it allows."""

    READ = "repo:read", "Read-only"
    WRITE = "repo:write", "Read & Write"
    DELETE = "repo:delete", "Read, Write & Delete"
    ADMIN = "repo:admin", "Read, Write, Delete & Admin"


class AccessToken(models.Model):
    """A personal access token: a password substitute with a scope, shown once."""

    PREFIX = "dyd_pat_"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    label = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=TokenScope.choices, default=TokenScope.READ)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=16, editable=False)
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by_client = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.user}: {self.label}"

    @classmethod
    def issue(cls, user: User, label: str, scope: str, **fields) -> tuple["AccessToken", str]:
        """Create a token; the secret is returned once and only its hash is kept."""
        secret = cls.PREFIX + secrets.token_urlsafe(27)
        token = cls.objects.create(
            user=user,
            label=label,
            scope=scope,
            token_hash=hash_secret(secret),
            token_hint=secret[-4:],
            **fields,
        )
        return token, secret

    @classmethod
    def find(cls, secret: str) -> "AccessToken | None":
        if not secret.startswith(cls.PREFIX):
            return None
        return (
            cls.objects.usable()
            .select_related("user")
            .filter(token_hash=hash_secret(secret))
            .first()
        )

    def touch(self) -> None:
        """Record use, at most once a minute, so that pulls do not all write."""
        now = timezone.now()
        if self.last_used is None or now - self.last_used > timedelta(minutes=1):
            AccessToken.objects.filter(pk=self.pk).update(last_used=now)
            self.last_used = now
