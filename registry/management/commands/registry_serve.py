import signal
import subprocess
import time

from django.core.management.base import BaseCommand

from registry.config import registry_config_path
from registry.gc import registry_pid_path

# A registry that exits this soon after starting is not restarted in a busy loop.
MIN_UPTIME = 1.0


class Command(BaseCommand):
    help = (
        "Run the distribution registry and start it again whenever it exits, so that garbage "
        "collection can restart it read-only and back (its pid is in registry/registry.pid)."
    )

    def handle(self, *args, **options) -> None:
        argv = ["docker-registry", "serve", str(registry_config_path())]
        stopping = False
        registry: subprocess.Popen | None = None

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True
            if registry is not None and registry.poll() is None:
                registry.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        pid_path = registry_pid_path()
        try:
            while not stopping:
                started = time.monotonic()
                registry = subprocess.Popen(argv)
                pid_path.write_text(str(registry.pid))
                if stopping:
                    registry.terminate()
                code = registry.wait()
                if not stopping:
                    self.stderr.write(f"registry exited with {code}; starting it again.")
                    time.sleep(max(0.0, MIN_UPTIME - (time.monotonic() - started)))
        finally:
            pid_path.unlink(missing_ok=True)
