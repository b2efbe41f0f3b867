"""Periodic jobs: apps register them in ready(); `manage.py scheduler` enqueues each when due.

Safe when two schedulers run by mistake: a tick is claimed by moving the job's next_run_at forward
with a conditional UPDATE, so exactly one scheduler enqueues each tick.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.tasks import Task
from django.utils import timezone

from kizuna.core.models import ScheduledJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task
    every: timedelta


periodic_jobs: dict[str, PeriodicJob] = {}


def register_periodic_job(name: str, task: Task, *, every: timedelta) -> None:
    """Run `task` (a django.tasks Task taking no arguments) once per `every`."""
    if every < timedelta(seconds=1):
        raise ValueError("A periodic job runs at most once a second.")
    periodic_jobs[name] = PeriodicJob(name=name, task=task, every=every)


def _schedule_for(job: PeriodicJob, now: datetime) -> ScheduledJob:
    try:
        schedule, _ = ScheduledJob.objects.get_or_create(
            name=job.name, defaults={"next_run_at": now}
        )
    except IntegrityError:  # another scheduler created it at the same moment
        schedule = ScheduledJob.objects.get(name=job.name)
    return schedule


def _following_tick(due_at: datetime, every: timedelta, now: datetime) -> datetime:
    """The first tick after now on the job's grid (missed ticks are skipped, not replayed)."""
    missed = (now - due_at) // every
    return due_at + every * (missed + 1)


def run_due_jobs(now: datetime | None = None) -> list[str]:
    """Enqueue every job whose time has come; returns the names this call enqueued."""
    now = now or timezone.now()
    enqueued = []
    for job in periodic_jobs.values():
        schedule = _schedule_for(job, now)
        if schedule.next_run_at > now:
            continue
        try:
            with transaction.atomic():
                claimed = ScheduledJob.objects.filter(
                    pk=schedule.pk, next_run_at=schedule.next_run_at
                ).update(
                    next_run_at=_following_tick(schedule.next_run_at, job.every, now),
                    last_run_at=now,
                )
                if claimed:
                    # Inside the claim's transaction: with the database backend the task row
                    # commits together with the claim, or neither does.
                    job.task.enqueue()
        except Exception:
            # The claim is rolled back, so the tick is tried again at the next check; one job
            # that cannot be enqueued must not stop the others (nor the scheduler).
            logger.exception("Could not enqueue the periodic job %s", job.name)
            continue
        if claimed:
            enqueued.append(job.name)
    return enqueued
