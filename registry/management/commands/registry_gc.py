from django.core.management.base import BaseCommand, CommandError

from registry.gc import collect_garbage
from registry.models import GarbageCollection


class Command(BaseCommand):
    help = (
        "Collect the registry's garbage: blobs no manifest uses any more. The registry refuses "
        "pushes meanwhile (read-only mode); the bytes freed are recorded."
    )

    def handle(self, *args, **options) -> None:
        run = collect_garbage()
        if run.status != GarbageCollection.Status.DONE:
            raise CommandError(f"Garbage collection failed:\n{run.output}")
        self.stdout.write(
            f"Freed {run.bytes_freed} bytes: the registry's storage went from "
            f"{run.bytes_before} to {run.bytes_after} bytes."
        )
