"""`manage.py worker` on the database backend: a real worker process runs what the site enqueues."""

import pytest
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from kizuna.core.models import WorkerHeartbeat
from kizuna.core.tests.example_tasks import manage, write_file

WORKER = ("worker", "--no-startup-delay", "--no-reload", "--interval", "0.1")


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_runs_an_enqueued_task(tmp_path):
    greeting = tmp_path / "greeting.txt"
    result = write_file.enqueue(str(greeting), "こんにちは")
    assert result.status == TaskResultStatus.READY

    worker = manage(*WORKER, "--batch", "--worker-id", "worker-1")

    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert greeting.read_text() == "こんにちは"
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "こんにちは"
    assert result.worker_ids == ["worker-1"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_stops_cleanly_removes_its_heartbeat(tmp_path):
    write_file.enqueue(str(tmp_path / "done.txt"), "done")

    worker = manage(*WORKER, "--batch", "--worker-id", "worker-1")

    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert (tmp_path / "done.txt").exists()
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_with_max_tasks_stops_after_that_many(tmp_path):
    first = write_file.enqueue(str(tmp_path / "first.txt"), "1")
    second = write_file.enqueue(str(tmp_path / "second.txt"), "2")

    worker = manage(*WORKER, "--max-tasks", "1")

    assert worker.returncode == 0, worker.stdout + worker.stderr
    statuses = set(DBTaskResult.objects.values_list("status", flat=True))
    assert statuses == {TaskResultStatus.SUCCESSFUL, TaskResultStatus.READY}
    first.refresh()
    second.refresh()
    assert first.status == TaskResultStatus.SUCCESSFUL  # oldest first
    assert (tmp_path / "first.txt").exists()
    assert not (tmp_path / "second.txt").exists()


def test_the_worker_refuses_excluded_queues_without_all_queues():
    with pytest.raises(CommandError, match="--exclude-queues"):
        call_command("worker", "--batch", "--no-reload", "--exclude-queues", "mail")
