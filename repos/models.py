from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Namespace

from .names import validate_repository_name, validate_tag


class RepositoryQuerySet(models.QuerySet):
    def active(self) -> "RepositoryQuerySet":
        return self.filter(state=Repository.State.ACTIVE)

    def by_full_name(self, full_name: str) -> "Repository | None":
        namespace, _, name = full_name.partition("/")
        return self.active().filter(namespace__name=namespace, name=name).first()


class Repository(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        DELETING = "deleting", "Being deleted"

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(max_length=224, validators=[validate_repository_name])
    description = models.CharField(max_length=100, blank=True)
    full_description = models.TextField(max_length=25000, blank=True)
    is_private = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    last_pushed = models.DateTimeField(null=True, blank=True)
    pull_count = models.PositiveBigIntegerField(default=0)

    objects = RepositoryQuerySet.as_manager()

    class Meta:
        constraints = [
            # A repository being deleted keeps its row until the registry is clean, while a
            # new one with the same name may already start.
            models.UniqueConstraint(
                fields=["namespace", "name"],
                condition=Q(state="active"),
                name="unique_active_repository_name",
            )
        ]
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.namespace.name}/{self.name}"


class Manifest(models.Model):
    """An image manifest or an index, as the registry stores it in a repository."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="manifests")
    digest = models.CharField(max_length=100)
    media_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(help_text="compressed: manifest, config and layers")
    # [{"os", "architecture", "variant", "digest", "size"}]: one for an image, one per child
    # manifest of an index
    platforms = models.JSONField(default=list)
    # [{"digest", "size", "media_type", "instruction"}] for an image manifest
    layers = models.JSONField(default=list)
    config_created = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "digest"], name="unique_manifest")
        ]

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest}"


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=128, validators=[validate_tag])
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="tags")
    pushed_at = models.DateTimeField()
    pushed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_pulled = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="unique_tag")]
        indexes = [models.Index(fields=["repository", "-pushed_at"])]

    def __str__(self) -> str:
        return f"{self.repository}:{self.name}"
