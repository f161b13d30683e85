from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from repos.models import Repository

from .models import BuildSource
from .tasks import remove_github_hook


@receiver(post_delete, sender=BuildSource)
def _source_deleted(sender: type[BuildSource], instance: BuildSource, origin, **kwargs) -> None:
    # Deleted with its repository (the end of a repository's deletion): its push webhook on
    # GitHub would go on calling. The Disconnect button removes the hook itself.
    if instance.hook_id and isinstance(origin, Repository):
        arguments = (instance.github_full_name, instance.hook_id, instance.connected_by_id)
        transaction.on_commit(lambda: remove_github_hook.delay(*arguments), robust=True)
