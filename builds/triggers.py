"""Queueing builds, as readthedocs does: prepare_build() makes the Build row and the task
signature, trigger_build() sends the task once the row is committed."""

from dataclasses import dataclass

from celery.canvas import Signature
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .models import Build, BuildRule, BuildSource
from .rules import matching_tag
from .tasks import run_build


@dataclass(frozen=True)
class PushedRef:
    """A branch or tag at a commit, as a GitHub push event or the Trigger button names it."""

    ref_type: str  # BuildRule.SourceType
    name: str
    commit: str
    message: str = ""

    @classmethod
    def from_git_ref(cls, ref: str, commit: str, message: str = "") -> "PushedRef | None":
        """refs/heads/<branch> or refs/tags/<tag>; None for anything else (notes, pull refs)."""
        for prefix, ref_type in (
            ("refs/heads/", BuildRule.SourceType.BRANCH),
            ("refs/tags/", BuildRule.SourceType.TAG),
        ):
            if ref.startswith(prefix) and len(ref) > len(prefix):
                return cls(ref_type, ref.removeprefix(prefix), commit, message)
        return None


def prepare_build(
    rule: BuildRule,
    pushed: PushedRef,
    docker_tag: str,
    trigger: str,
    triggered_by: User | None = None,
) -> tuple[Build, Signature]:
    """A queued Build of `pushed` under `rule`, and the task that will run it."""
    source = rule.source
    build = Build.objects.create(
        repository=source.repository,
        rule=rule,
        source_type=pushed.ref_type,
        source_ref=pushed.name,
        commit=pushed.commit,
        commit_message=pushed.message[:500],
        clone_url=source.clone_url,
        docker_tag=docker_tag,
        dockerfile=rule.dockerfile,
        context=rule.context,
        build_args=rule.build_args,
        trigger=trigger,
        triggered_by=triggered_by,
    )
    return build, run_build.si(build.pk)


def trigger_build(
    rule: BuildRule,
    pushed: PushedRef,
    docker_tag: str,
    trigger: str,
    triggered_by: User | None = None,
) -> Build:
    build, task = prepare_build(rule, pushed, docker_tag, trigger, triggered_by)
    transaction.on_commit(task.delay)
    return build


def builds_for_push(source: BuildSource, pushed: PushedRef) -> list[Build]:
    """Queue a build for each autobuild rule of the source that the push matches."""
    builds = []
    for rule in source.rules.filter(autobuild=True):
        tag = matching_tag(
            rule.source_type, rule.source_ref, rule.docker_tag, pushed.ref_type, pushed.name
        )
        if tag is not None:
            builds.append(trigger_build(rule, pushed, tag, Build.Trigger.PUSH))
    return builds


def cancel_build(build: Build) -> bool:
    """Mark a queued or running build cancelled; its worker stops it. False if it had ended."""
    return bool(
        Build.objects.filter(pk=build.pk, status__in=Build.UNFINISHED).update(
            status=Build.Status.CANCELLED,
            error="Cancelled.",
            finished=timezone.now(),
        )
    )
