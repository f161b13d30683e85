from django.core.management.base import BaseCommand

from registry.config import write_configs


class Command(BaseCommand):
    help = "Write the token signing key, the registry's config and the nginx front's config."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--read-only", action="store_true", help="registry refuses writes (maintenance)"
        )

    def handle(self, *args, read_only: bool, **options) -> None:
        for path in write_configs(read_only=read_only):
            self.stdout.write(f"wrote {path}")
