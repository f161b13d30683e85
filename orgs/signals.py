from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.models import Namespace
from repos.models import Repository


@receiver(post_delete, sender=Repository)
def release_deleted_organization_name(sender, instance: Repository, **kwargs) -> None:
    """A deleted organization keeps its name until the clean-up of its last repository removes
    the row (see orgs.views._delete_organization); then the name is free again."""
    Namespace.objects.filter(
        pk=instance.namespace_id, kind=Namespace.Kind.ORG, organization__isnull=True
    ).exclude(repositories__isnull=False).delete()
