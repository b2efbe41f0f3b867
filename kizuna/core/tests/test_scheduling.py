"""Periodic jobs: enqueued once per tick, even by two schedulers; missed ticks are not replayed."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from kizuna.core import scheduling
from kizuna.core.models import ScheduledJob
from kizuna.core.scheduling import register_periodic_job, run_due_jobs
from kizuna.core.tests.example_tasks import do_nothing, manage

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class UnreachableTask:
    """A job's task whose backend is away (Redis down, say)."""

    def enqueue(self):
        raise ConnectionError("The task backend is away.")


@pytest.fixture
def jobs(monkeypatch):
    """A registry of its own for each test, with one job a minute."""
    monkeypatch.setattr(scheduling, "periodic_jobs", {})
    register_periodic_job("do_nothing", do_nothing, every=MINUTE)
    return scheduling.periodic_jobs


def enqueued_count() -> int:
    return DBTaskResult.objects.filter(task_path=do_nothing.module_path).count()


@pytest.mark.django_db
def test_a_new_job_runs_at_once_then_once_per_tick(jobs):
    assert run_due_jobs(START) == ["do_nothing"]
    assert run_due_jobs(START + timedelta(seconds=59)) == []
    assert run_due_jobs(START + MINUTE) == ["do_nothing"]
    assert enqueued_count() == 2


@pytest.mark.django_db
def test_a_tick_that_is_not_due_enqueues_nothing(jobs):
    run_due_jobs(START)

    for seconds in (1, 30, 59):
        assert run_due_jobs(START + timedelta(seconds=seconds)) == []

    assert enqueued_count() == 1
    schedule = ScheduledJob.objects.get(name="do_nothing")
    assert schedule.next_run_at == START + MINUTE
    assert schedule.last_run_at == START


@pytest.mark.django_db
def test_missed_ticks_are_skipped_not_replayed(jobs):
    run_due_jobs(START)

    assert run_due_jobs(START + timedelta(minutes=5, seconds=30)) == ["do_nothing"]
    assert run_due_jobs(START + timedelta(minutes=5, seconds=45)) == []
    assert enqueued_count() == 2
    assert ScheduledJob.objects.get(name="do_nothing").next_run_at == START + 6 * MINUTE
    assert run_due_jobs(START + 6 * MINUTE) == ["do_nothing"]


@pytest.mark.django_db
def test_a_job_that_cannot_be_enqueued_is_tried_again_and_does_not_stop_the_others(monkeypatch):
    monkeypatch.setattr(scheduling, "periodic_jobs", {})
    register_periodic_job("unreachable", UnreachableTask(), every=MINUTE)
    register_periodic_job("do_nothing", do_nothing, every=MINUTE)

    assert run_due_jobs(START) == ["do_nothing"]

    assert ScheduledJob.objects.get(name="unreachable").next_run_at == START  # not claimed
    assert ScheduledJob.objects.get(name="do_nothing").next_run_at == START + MINUTE


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_enqueue_each_tick_once(jobs, monkeypatch):
    # Both schedulers read the schedule before either claims the tick: the race the conditional
    # UPDATE is there for, made certain instead of left to chance.
    both_have_read = threading.Barrier(2, timeout=10)
    read_schedule = scheduling._schedule_for

    def read_then_wait_for_the_other(job, now):
        schedule = read_schedule(job, now)
        both_have_read.wait()
        return schedule

    monkeypatch.setattr(scheduling, "_schedule_for", read_then_wait_for_the_other)

    def scheduler(now):
        try:
            return run_due_jobs(now)
        finally:
            connection.close()

    ticks = [START + number * MINUTE for number in range(5)]
    for tick in ticks:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(scheduler, [tick, tick])
        assert sorted([first, second]) == [[], ["do_nothing"]]

    assert enqueued_count() == len(ticks)
    assert ScheduledJob.objects.get(name="do_nothing").next_run_at == ticks[-1] + MINUTE


def test_a_job_runs_at_most_once_a_second(jobs):
    with pytest.raises(ValueError, match="once a second"):
        register_periodic_job("too_often", do_nothing, every=timedelta(milliseconds=500))


@pytest.mark.django_db(transaction=True)
def test_manage_py_scheduler_once_enqueues_the_due_jobs_and_exits():
    first = manage("scheduler", "--once", "--verbosity", "2")

    assert first.returncode == 0, first.stdout + first.stderr
    assert "Enqueued requeue_abandoned_tasks" in first.stdout
    requeue = DBTaskResult.objects.filter(task_path="kizuna.core.tasks.requeue_abandoned_tasks")
    assert requeue.count() == 1
    schedule = ScheduledJob.objects.get(name="requeue_abandoned_tasks")
    assert schedule.next_run_at == schedule.last_run_at + MINUTE

    second = manage("scheduler", "--once", "--verbosity", "2")

    assert second.returncode == 0, second.stdout + second.stderr
    assert "Enqueued" not in second.stdout
    assert requeue.count() == 1
