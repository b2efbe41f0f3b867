"""Run the background worker for the configured task backend.

On the database backend this is django-tasks-db's db_worker plus a heartbeat, so tasks of a
worker that dies are run again (kizuna.core.task_recovery). On Huey it is Huey's consumer.
"""

import os
import sys

from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from kizuna.core.task_recovery import Heartbeat


class HeartbeatWorker(db_worker.Worker):
    def run(self) -> None:
        heartbeat = Heartbeat(self.worker_id)
        heartbeat.start()
        try:
            super().run()
        finally:
            heartbeat.stop()


class Command(db_worker.Command):
    help = "Run the background task worker (database backend or Huey, as configured)."

    def run_from_argv(self, argv):
        if settings.TASK_BACKEND == "huey":
            # Huey's consumer has its own options; pass ours through unchanged.
            call_command("run_huey", *argv[2:])
            return
        super().run_from_argv(argv)

    def handle(
        self,
        *,
        verbosity,
        queue_name,
        interval,
        batch,
        backend_name,
        startup_delay,
        reload,
        max_tasks,
        worker_id,
        exclude_queues,
        **options,
    ):
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        if exclude_queues and "*" not in queue_names:
            # As db_worker: without it, the excluded queues would be ignored in silence.
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = HeartbeatWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=exclude_queues.split(",") if exclude_queues else [],
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()  # only the reloaded child handles Ctrl-C
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
        sys.stdout.flush()
