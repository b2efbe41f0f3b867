import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from kizuna.core.scheduling import periodic_jobs, run_due_jobs


class Command(BaseCommand):
    help = (
        "Enqueue periodic jobs when they are due (each app registers its own). "
        "Two schedulers running by mistake still enqueue each tick once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between checks (default 1)."
        )
        parser.add_argument("--once", action="store_true", help="Check once and exit.")

    def handle(self, *, interval, once, verbosity, **options):
        if interval <= 0:
            self.stderr.write("--interval must be greater than zero.")
            raise SystemExit(2)
        stopping = threading.Event()
        if not once:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stopping.set())
            names = ", ".join(sorted(periodic_jobs)) or "-"
            self.stdout.write(f"Scheduler started; jobs: {names}")
        while True:
            close_old_connections()
            for name in run_due_jobs():
                if verbosity > 1:
                    self.stdout.write(f"Enqueued {name}")
            if once or stopping.wait(interval):
                break
        close_old_connections()
