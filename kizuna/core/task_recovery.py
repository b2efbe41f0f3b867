"""What django-tasks-db lacks: worker heartbeats, and running again the tasks of a worker that died.

A worker killed in the middle of a task (a crash, an OOM kill, a pulled plug) leaves the task
"running" for ever. Each worker writes a heartbeat; a running task whose worker has been silent
for KIZUNA_WORKER_HEARTBEAT_TIMEOUT seconds is put back in the queue, up to MAX_WORKER_LOSSES
times (a task that kills its worker every time is marked failed instead of looping).
"""

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kizuna.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

MAX_WORKER_LOSSES = 5


class WorkerLost(Exception):
    """The task's worker stopped while running it, too many times."""


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=settings.KIZUNA_WORKER_HEARTBEAT_TIMEOUT)


def beat(worker_id: str) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "beat_at": timezone.now()},
    )


class Heartbeat(threading.Thread):
    """Beats in the background, so a long task does not make its worker look dead."""

    def __init__(self, worker_id: str):
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.stopped = threading.Event()

    def run(self):
        interval = max(heartbeat_timeout().total_seconds() / 4, 0.5)
        while not self.stopped.is_set():
            close_old_connections()
            try:
                beat(self.worker_id)
            except Exception:
                # A passing database error must not end the beats: the worker would look dead
                # and its running task would be run a second time by another worker.
                logger.exception("Worker %s could not record its heartbeat", self.worker_id)
            finally:
                connection.close()
            self.stopped.wait(interval)

    def stop(self):
        self.stopped.set()
        self.join(timeout=5)
        WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()


def requeue_abandoned_tasks(now: datetime | None = None) -> int:
    """Put back in the queue the running tasks whose worker went silent; returns how many."""
    now = now or timezone.now()
    cutoff = now - heartbeat_timeout()
    alive = set(
        WorkerHeartbeat.objects.filter(beat_at__gte=cutoff).values_list("worker_id", flat=True)
    )
    requeued = 0
    for result in DBTaskResult.objects.running().only("id", "worker_ids", "started_at"):
        if result.worker_ids and result.worker_ids[-1] in alive:
            continue
        if result.started_at and result.started_at >= cutoff:
            continue  # just claimed: its worker may not have beaten yet
        # Conditional on started_at: if a worker claimed it again meanwhile, leave it alone.
        unchanged = DBTaskResult.objects.filter(
            id=result.id, status=TaskResultStatus.RUNNING, started_at=result.started_at
        )
        if len(result.worker_ids) >= MAX_WORKER_LOSSES:
            requeued += unchanged.update(
                status=TaskResultStatus.FAILED,
                finished_at=now,
                exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
                traceback=f"Its worker stopped while running it {len(result.worker_ids)} times.",
            )
        else:
            requeued += unchanged.update(status=TaskResultStatus.READY)
    WorkerHeartbeat.objects.filter(beat_at__lt=now - timedelta(days=1)).delete()
    return requeued
