"""The scale-out path: django.tasks through Huey on Redis, run by `manage.py worker` on Huey."""

import uuid

import pytest
from django.tasks import TaskResultStatus
from huey.contrib.djhuey import HUEY
from huey.storage import RedisStorage

from kizuna.core.tests.example_tasks import (
    background_command,
    process_environment,
    wait_until,
    write_file,
)

HUEY_BACKEND = {
    "BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend",
    "ENQUEUE_ON_COMMIT": True,
}


@pytest.fixture
def huey_queue(redis_url, settings, monkeypatch):
    """A Huey queue of this test's own on the test Redis, used by django.tasks; flushed after."""
    name = f"kizuna_test_{uuid.uuid4().hex}"
    storage = RedisStorage(name, url=redis_url)
    monkeypatch.setattr(HUEY, "name", name)
    monkeypatch.setattr(HUEY, "storage", storage)
    settings.TASKS = {"default": HUEY_BACKEND}
    try:
        yield name
    finally:
        storage.flush_all()
        for key in storage.conn.scan_iter(f"*{name}*"):
            storage.conn.delete(key)
        storage.pool.disconnect()


def test_a_huey_consumer_process_runs_a_task_enqueued_through_redis(
    db, huey_queue, redis_url, tmp_path, django_capture_on_commit_callbacks
):
    greeting = tmp_path / "greeting.txt"
    with django_capture_on_commit_callbacks(execute=True):
        result = write_file.enqueue(str(greeting), "こんにちは")
        assert HUEY.pending_count() == 0  # sent only when the transaction commits
    assert HUEY.pending_count() == 1

    log = tmp_path / "consumer.log"
    environment = process_environment(
        KIZUNA_TASK_BACKEND="huey", KIZUNA_REDIS_URL=redis_url, KIZUNA_HUEY_NAME=huey_queue
    )
    with background_command("worker", "--workers", "1", log=log, env=environment) as consumer:

        def finished():
            result.refresh()
            return result.is_finished

        wait_until(finished, consumer, log)

    assert result.status == TaskResultStatus.SUCCESSFUL, log.read_text()
    assert result.return_value == "こんにちは"
    assert greeting.read_text() == "こんにちは"
    assert HUEY.pending_count() == 0
