"""A task left running by a worker that died is run again; a live worker's long task is not."""

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import OperationalError
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kizuna.core import task_recovery
from kizuna.core.models import WorkerHeartbeat
from kizuna.core.task_recovery import (
    MAX_WORKER_LOSSES,
    Heartbeat,
    WorkerLost,
    beat,
    requeue_abandoned_tasks,
)
from kizuna.core.tests.example_tasks import (
    background_command,
    hang_on_first_run,
    manage,
    wait_until,
    write_file,
)

WORKER = ("worker", "--no-startup-delay", "--no-reload", "--interval", "0.1")


def running_task(*, worker_ids: list[str], started_at) -> DBTaskResult:
    """A task as a worker leaves it while running it."""
    result = write_file.enqueue(os.devnull, "")
    DBTaskResult.objects.filter(id=result.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=worker_ids, started_at=started_at
    )
    return DBTaskResult.objects.get(id=result.id)


@pytest.mark.django_db(transaction=True)
def test_a_task_left_running_by_a_killed_worker_is_run_again_by_another(tmp_path, settings):
    settings.KIZUNA_WORKER_HEARTBEAT_TIMEOUT = 60
    result = hang_on_first_run.enqueue(str(tmp_path))
    log = tmp_path / "doomed.log"
    with background_command(*WORKER, "--worker-id", "doomed", log=log) as doomed:
        wait_until(
            lambda: (
                (tmp_path / "started").exists()
                and WorkerHeartbeat.objects.filter(worker_id="doomed").exists()
            ),
            doomed,
            log,
        )
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)

    result.refresh()
    assert result.status == TaskResultStatus.RUNNING
    assert requeue_abandoned_tasks() == 0  # its worker beat moments ago

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert requeue_abandoned_tasks() == 1
    result.refresh()
    assert result.status == TaskResultStatus.READY

    rescuer = manage(*WORKER, "--batch", "--worker-id", "rescuer")

    assert rescuer.returncode == 0, rescuer.stdout + rescuer.stderr
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "finished"
    assert result.worker_ids == ["doomed", "rescuer"]
    assert (tmp_path / "finished").exists()


@pytest.mark.django_db(transaction=True)
def test_a_long_task_of_a_live_worker_is_not_run_again(tmp_path, settings):
    settings.KIZUNA_WORKER_HEARTBEAT_TIMEOUT = 2  # the worker beats every half second
    result = hang_on_first_run.enqueue(str(tmp_path))
    log = tmp_path / "busy.log"
    with background_command(*WORKER, "--worker-id", "busy", log=log) as busy:
        wait_until(lambda: (tmp_path / "started").exists(), busy, log)
        time.sleep(2.5)  # the task has now run for longer than the heartbeat timeout
        result.refresh()
        assert result.started_at < timezone.now() - timedelta(seconds=2)

        assert requeue_abandoned_tasks() == 0

        result.refresh()
        assert result.status == TaskResultStatus.RUNNING
        assert busy.poll() is None


@pytest.mark.django_db
def test_a_task_whose_worker_died_max_worker_losses_times_is_marked_failed():
    an_hour_ago = timezone.now() - timedelta(hours=1)
    lost = [f"lost-{number}" for number in range(MAX_WORKER_LOSSES)]
    task = running_task(worker_ids=lost, started_at=an_hour_ago)

    assert requeue_abandoned_tasks() == 1

    result = DBTaskResult.objects.get(id=task.id).task_result
    assert result.status == TaskResultStatus.FAILED
    assert result.finished_at is not None
    assert result.errors[0].exception_class is WorkerLost


@pytest.mark.django_db
def test_a_task_whose_worker_died_fewer_times_is_put_back_in_the_queue():
    an_hour_ago = timezone.now() - timedelta(hours=1)
    lost = [f"lost-{number}" for number in range(MAX_WORKER_LOSSES - 1)]
    task = running_task(worker_ids=lost, started_at=an_hour_ago)

    assert requeue_abandoned_tasks() == 1

    task.refresh_from_db()
    assert task.status == TaskResultStatus.READY
    assert DBTaskResult.objects.ready().get() == task


@pytest.mark.django_db
def test_a_task_just_claimed_by_a_worker_that_has_not_beaten_yet_is_left_running():
    task = running_task(worker_ids=["new-worker"], started_at=timezone.now())

    assert requeue_abandoned_tasks() == 0

    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING


@pytest.mark.django_db
def test_a_task_of_a_worker_that_beats_is_left_running_however_long_it_takes():
    task = running_task(worker_ids=["busy"], started_at=timezone.now() - timedelta(hours=3))
    beat("busy")

    assert requeue_abandoned_tasks() == 0

    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING


@pytest.mark.django_db
def test_heartbeats_silent_for_a_day_are_removed():
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        beat("gone")
    beat("here")

    requeue_abandoned_tasks()

    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["here"]


@pytest.mark.django_db
def test_the_heartbeat_keeps_beating_after_a_database_error(monkeypatch, settings):
    settings.KIZUNA_WORKER_HEARTBEAT_TIMEOUT = 1  # a beat every half second
    beats = []
    beat_again = threading.Event()

    def beat_failing_once(worker_id):
        beats.append(worker_id)
        if len(beats) == 1:
            raise OperationalError("database is locked")
        beat_again.set()

    monkeypatch.setattr(task_recovery, "beat", beat_failing_once)
    heartbeat = Heartbeat("worker-1")
    heartbeat.start()
    try:
        assert beat_again.wait(timeout=5)
    finally:
        heartbeat.stop()
    assert not heartbeat.is_alive()
