"""Tasks that say so are tried again after a failure, each time waiting twice as long."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from kizuna.core.retrying import retry_with_backoff
from kizuna.core.tests.example_tasks import (
    fail_with_a_bug,
    fail_without_retries,
    succeed_after_failures,
)

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def run_next_task() -> DBTaskResult | None:
    """Claim and run the next due task as `manage.py worker` does, in this process."""
    with transaction.atomic():
        task = DBTaskResult.objects.ready().get_locked()
        if task is None:
            return None
        task.claim("test-worker")
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    worker.run_task(task)
    task.refresh_from_db()
    return task


def attempts():
    return list(DBTaskResult.objects.order_by("enqueued_at"))


@pytest.mark.django_db
def test_a_failed_task_is_tried_again_after_a_delay_that_doubles(tmp_path):
    counter = str(tmp_path / "runs")
    with time_machine.travel(START, tick=False) as traveller:
        succeed_after_failures.enqueue(counter, failures=3)
        failed_at = START + timedelta(seconds=1)
        traveller.move_to(failed_at)

        first = run_next_task()
        assert first.status == TaskResultStatus.FAILED
        assert first.exception_class_path == "builtins.ConnectionError"
        assert run_next_task() is None  # the second attempt waits 30 s

        traveller.move_to(failed_at + timedelta(seconds=30))
        assert run_next_task().status == TaskResultStatus.FAILED
        traveller.move_to(failed_at + timedelta(seconds=30 + 60))
        assert run_next_task().status == TaskResultStatus.FAILED
        traveller.move_to(failed_at + timedelta(seconds=30 + 60 + 120 - 1))
        assert run_next_task() is None

        traveller.move_to(failed_at + timedelta(seconds=30 + 60 + 120))
        last = run_next_task()

    assert last.status == TaskResultStatus.SUCCESSFUL
    assert last.return_value == 4
    retry_attempts = [attempt.args_kwargs["kwargs"].get("retry_attempt") for attempt in attempts()]
    assert retry_attempts == [None, 2, 3, 4]
    waits = [attempt.run_after - attempt.enqueued_at for attempt in attempts()[1:]]
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]


@pytest.mark.django_db
def test_after_the_last_attempt_fails_no_more_are_enqueued(tmp_path):
    counter = tmp_path / "runs"
    with time_machine.travel(START, tick=False) as traveller:
        succeed_after_failures.enqueue(str(counter), failures=10)
        run_next_task()
        for seconds in (30, 30 + 60, 30 + 60 + 120):
            traveller.move_to(START + timedelta(seconds=seconds))
            assert run_next_task() is not None

        traveller.move_to(START + timedelta(days=1))
        assert run_next_task() is None

    assert counter.read_text() == "4"
    assert [attempt.status for attempt in attempts()] == [TaskResultStatus.FAILED] * 4


@pytest.mark.django_db
def test_a_task_without_the_decorator_is_not_tried_again():
    fail_without_retries.enqueue()

    assert run_next_task().status == TaskResultStatus.FAILED

    with time_machine.travel(timedelta(days=1)):
        assert run_next_task() is None
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db
def test_an_error_outside_retry_on_is_not_tried_again():
    fail_with_a_bug.enqueue()

    failed = run_next_task()

    assert failed.status == TaskResultStatus.FAILED
    assert failed.exception_class_path == "builtins.ValueError"
    with time_machine.travel(timedelta(days=1)):
        assert run_next_task() is None
    assert DBTaskResult.objects.count() == 1


def test_retrying_needs_at_least_two_attempts():
    with pytest.raises(ValueError, match="at least 2 attempts"):
        retry_with_backoff(attempts=1)
