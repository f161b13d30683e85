import logging

from celery import shared_task

from accounts.models import User

from . import builder
from .github import remove_hook
from .models import Build

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=None, ignore_result=True)
def run_build(self, build_id: int) -> None:
    """Run a queued build when one of the BUILDS_MAX_CONCURRENT slots is free; until then it
    stays QUEUED and the task comes back every few seconds."""
    claimed = builder.claim(build_id)
    if claimed is builder.Claim.BUSY:
        if self.request.is_eager:
            # No broker, so no worker to come back to it (only tests run tasks in-process).
            log.warning("build %s stays queued: every build slot is taken", build_id)
            return
        raise self.retry(countdown=builder.BUSY_RETRY_SECONDS)
    if claimed is builder.Claim.STARTED:
        builder.execute(Build.objects.get(pk=build_id))


@shared_task(ignore_result=True)
def remove_github_hook(full_name: str, hook_id: int, user_id: int | None) -> None:
    """Remove the push webhook of a source deleted with its repository (best effort)."""
    user = User.objects.filter(pk=user_id).first() if user_id else None
    failure = remove_hook(full_name, hook_id, [user])
    if failure:
        log.warning("the webhook %s on %s stays: %s", hook_id, full_name, failure)
