from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Namespace, User


@receiver(post_save, sender=User)
def claim_user_namespace(sender, instance: User, created: bool, **kwargs) -> None:
    if created:
        # Unique on name: a clash with an organization aborts the whole transaction.
        Namespace.objects.create(name=instance.username, kind=Namespace.Kind.USER)
