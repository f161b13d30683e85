from django.core.management.base import BaseCommand, CommandError

from registry.client import RegistryError
from registry.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Rebuild the portal's repositories, manifests and tags from the registry's own API "
        "(after lost notifications), and finish deletions left unfinished."
    )

    def handle(self, *args, **options) -> None:
        try:
            report = reconcile()
        except RegistryError as error:
            raise CommandError(f"Could not read the registry: {error}") from error
        for line in report.lines():
            self.stdout.write(line)
