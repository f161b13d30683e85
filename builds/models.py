from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from repos.models import Repository

from .rules import (
    is_regex,
    validate_build_args,
    validate_docker_tag_template,
    validate_path_in_checkout,
    validate_source_ref,
)


class BuildSource(models.Model):
    """The GitHub repository whose pushes build a Dockyard repository's images."""

    repository = models.OneToOneField(
        Repository, on_delete=models.CASCADE, related_name="build_source"
    )
    github_id = models.BigIntegerField(help_text="GitHub's id of the repository")
    github_full_name = models.CharField(max_length=200, help_text="owner/name on GitHub")
    clone_url = models.URLField(max_length=500)
    html_url = models.URLField(max_length=500, blank=True)
    default_branch = models.CharField(max_length=255, default="main")
    github_private = models.BooleanField(default=False)
    # GitHub's id of the push webhook installed on the repository, to remove it on disconnect.
    hook_id = models.BigIntegerField(null=True, blank=True)
    # Signs GitHub's deliveries (X-Hub-Signature-256); one per source.
    webhook_secret = models.CharField(max_length=64)
    # Whose linked GitHub account reads the repository: its token clones private ones.
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["github_id"])]

    def __str__(self) -> str:
        return f"{self.github_full_name} → {self.repository}"


class BuildRule(models.Model):
    """Which pushed branches or tags build, and what Docker tag they get (Docker Hub's rules)."""

    class SourceType(models.TextChoices):
        BRANCH = "branch", "Branch"
        TAG = "tag", "Tag"

    source = models.ForeignKey(BuildSource, on_delete=models.CASCADE, related_name="rules")
    source_type = models.CharField(
        max_length=6, choices=SourceType.choices, default=SourceType.BRANCH
    )
    source_ref = models.CharField(
        "source",
        max_length=255,
        validators=[validate_source_ref],
        help_text="A branch or tag name, or a regular expression between slashes: /^v([0-9.]+)$/",
    )
    docker_tag = models.CharField(
        max_length=128,
        default="latest",
        validators=[validate_docker_tag_template],
        help_text="A tag, {sourceref} for the branch or tag name, or {\\1} for a regex group",
    )
    dockerfile = models.CharField(
        "Dockerfile location",
        max_length=255,
        default="Dockerfile",
        validators=[validate_path_in_checkout],
        help_text="Relative to the build context",
    )
    context = models.CharField(
        "build context",
        max_length=255,
        default="/",
        validators=[validate_path_in_checkout],
        help_text="A folder of the repository; / is its root",
    )
    autobuild = models.BooleanField(default=True, help_text="Build on every matching push")
    # {"NAME": "value"}, passed as --build-arg NAME=value.
    build_args = models.JSONField(default=dict, blank=True, validators=[validate_build_args])
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.get_source_type_display()} {self.source_ref} → {self.docker_tag}"

    @property
    def is_regex(self) -> bool:
        return is_regex(self.source_ref)


class Build(models.Model):
    """One build of one commit: what it built, how it went, and its whole log."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        PUSH = "push", "GitHub push"
        MANUAL = "manual", "Trigger button"

    UNFINISHED = (Status.QUEUED, Status.RUNNING)

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="builds")
    rule = models.ForeignKey(
        BuildRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="builds"
    )
    # What was built, copied from the rule and the push: a later edit of the rule changes
    # neither a queued build nor the history.
    source_type = models.CharField(max_length=6, choices=BuildRule.SourceType.choices)
    source_ref = models.CharField(max_length=255, help_text="the branch or tag pushed")
    commit = models.CharField(max_length=40)
    commit_message = models.CharField(max_length=500, blank=True)
    clone_url = models.URLField(max_length=500)
    docker_tag = models.CharField(max_length=128)
    dockerfile = models.CharField(max_length=255)
    context = models.CharField(max_length=255)
    build_args = models.JSONField(default=dict, blank=True)
    trigger = models.CharField(max_length=6, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    # Why it failed or was cancelled, in one line; the log has the rest.
    error = models.CharField(max_length=500, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    log = models.TextField(blank=True)
    log_truncated = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["repository", "-created"])]

    def __str__(self) -> str:
        return f"build {self.pk} of {self.repository}:{self.docker_tag}"

    @property
    def is_finished(self) -> bool:
        return self.status not in self.UNFINISHED

    @property
    def duration(self) -> timedelta | None:
        if self.started is None:
            return None
        if self.finished is None:
            return timezone.now() - self.started
        return self.finished - self.started

    @property
    def short_commit(self) -> str:
        return self.commit[:7]

    def append_log(self, text: str) -> None:
        """Add to the stored log in one UPDATE, so that the build page sees it while it runs."""
        if text:
            Build.objects.filter(pk=self.pk).update(log=Concat(F("log"), Value(text)))
