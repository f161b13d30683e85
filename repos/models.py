from django.conf import settings
from django.db import models
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Namespace

from .names import validate_repository_name, validate_tag


class RepositoryQuerySet(models.QuerySet):
    def active(self) -> "RepositoryQuerySet":
        return self.filter(state=Repository.State.ACTIVE)

    def by_full_name(self, full_name: str) -> "Repository | None":
        namespace, _, name = full_name.partition("/")
        return self.active().filter(namespace__name=namespace, name=name).first()

    def with_counts(self) -> "RepositoryQuerySet":
        """Annotate tag_count (a subquery: no join multiplies the rows); star_count is a field,
        kept in step by the Star signals below."""

        def count(model: type[models.Model]) -> Coalesce:
            rows = model.objects.filter(repository=OuterRef("pk")).order_by()
            counted = rows.values("repository").annotate(n=Count("pk")).values("n")
            return Coalesce(Subquery(counted), 0)

        return self.annotate(tag_count=count(Tag))


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
    # The number of Star rows, kept by the Star signals below: search ranks by it per hit.
    star_count = models.PositiveIntegerField(default=0)

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


class Star(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="stars")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stars"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "user"], name="unique_star")]

    def __str__(self) -> str:
        return f"{self.user} starred {self.repository}"


@receiver(post_save, sender=Star)
def _starred(sender: type[Star], instance: Star, created: bool, **kwargs: object) -> None:
    if created:
        Repository.objects.filter(pk=instance.repository_id).update(star_count=F("star_count") + 1)


@receiver(post_delete, sender=Star)
def _unstarred(sender: type[Star], instance: Star, **kwargs: object) -> None:
    # Also for the stars of a deleted user; those of a deleted repository go with it.
    Repository.objects.filter(pk=instance.repository_id, star_count__gt=0).update(
        star_count=F("star_count") - 1
    )


class Webhook(models.Model):
    """An address called with Docker Hub's payload after every push to the repository."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64, help_text="signs each delivery (HMAC-SHA256)")
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"


class WebhookDelivery(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.webhook}"


class Activity(models.Model):
    """What happened in a namespace, for the activity pages and /v2/auditlogs/<account>."""

    class Action(models.TextChoices):
        REPO_CREATED = "repo.create", "Repository created"
        REPO_PUSHED = "repo.tag.push", "Pushed"
        TAG_DELETED = "repo.tag.delete", "Tag deleted"
        VISIBILITY_CHANGED = "repo.change_privacy", "Visibility changed"
        PERMISSIONS_CHANGED = "repo.permissions", "Permissions changed"
        REPO_RENAMED = "repo.rename", "Repository renamed"
        REPO_DELETED = "repo.remove", "Repository deleted"
        MEMBER_ADDED = "team.member.add", "Member added"
        MEMBER_REMOVED = "team.member.remove", "Member removed"
        TEAM_CREATED = "team.create", "Team created"
        TEAM_DELETED = "team.delete", "Team deleted"

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="activity")
    repository = models.ForeignKey(
        Repository, null=True, blank=True, on_delete=models.SET_NULL, related_name="activity"
    )
    # Kept as text: the repository may be renamed or deleted later.
    object_name = models.CharField(max_length=255)
    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name_plural = "activity"

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.object_name}"


class RepositoryRedirect(models.Model):
    """An old full name of a renamed or transferred repository; its page URL redirects."""

    full_name = models.CharField(max_length=255, unique=True)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="redirects")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.full_name} → {self.repository}"
