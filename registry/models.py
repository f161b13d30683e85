import secrets

from django.db import models

from accounts.models import AccessToken, User, hash_secret


class RegistryEvent(models.Model):
    """A notification from the registry, kept by its id so that a repeat changes nothing."""

    event_id = models.CharField(max_length=100, unique=True)
    action = models.CharField(max_length=20)
    repository = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    payload = models.JSONField()
    received = models.DateTimeField(auto_now_add=True)
    processed = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.TextField(blank=True, help_text="why the event could not be applied")

    class Meta:
        indexes = [models.Index(fields=["repository", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.action} {self.repository} ({self.event_id})"


class RefreshToken(models.Model):
    """A registry refresh token (`offline_token`): reusable, never rotated; it ends when the
    access token it came from is revoked or the user's password changes."""

    PREFIX = "dyd_rt_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    access_token = models.ForeignKey(
        AccessToken, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    password_stamp = models.CharField(max_length=64)
    client_id = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"refresh token of {self.user}"

    @classmethod
    def issue(cls, user: User, access_token: AccessToken | None, client_id: str = "") -> str:
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        cls.objects.create(
            user=user,
            access_token=access_token,
            token_hash=hash_secret(secret),
            password_stamp=hash_secret(user.password),
            client_id=client_id[:200],
        )
        return secret

    @classmethod
    def find(cls, secret: str) -> "RefreshToken | None":
        """The token if it still stands: user active, password unchanged, access token usable."""
        token = (
            cls.objects.select_related("user", "access_token")
            .filter(token_hash=hash_secret(secret), user__is_active=True)
            .first()
        )
        if token is None:
            return None
        if token.access_token_id is not None:
            usable = AccessToken.objects.usable().filter(pk=token.access_token_id).exists()
            return token if usable else None
        return token if token.password_stamp == hash_secret(token.user.password) else None


class GarbageCollection(models.Model):
    """A run of the registry's garbage collection, and the storage it freed."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    bytes_before = models.PositiveBigIntegerField(null=True, blank=True)
    bytes_after = models.PositiveBigIntegerField(null=True, blank=True)
    output = models.TextField(blank=True, help_text="the end of garbage-collect's output")

    class Meta:
        ordering = ["-started", "-pk"]

    def __str__(self) -> str:
        return f"garbage collection {self.pk} ({self.status})"

    @property
    def bytes_freed(self) -> int | None:
        if self.bytes_before is None or self.bytes_after is None:
            return None
        return self.bytes_before - self.bytes_after
