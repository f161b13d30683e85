import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse

from .namespaces import NAMESPACE_RULE, validate_namespace_name


class Namespace(models.Model):
    """One row per user or organization name, so the two can never share a name."""

    class Kind(models.TextChoices):
        USER = "user", "User"
        ORG = "org", "Organization"

    name = models.CharField(max_length=30, unique=True, validators=[validate_namespace_name])
    kind = models.CharField(max_length=8, choices=Kind.choices)
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
