"""Tasks for the background-work tests, and how those tests start real worker processes.

The tasks leave their mark in files named by the test (under its tmp_path), so that the work of
another process - a worker, a Huey consumer - can be seen from the test.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.tasks import task

from kizuna.core.retrying import retry_with_backoff

MANAGE_PY = settings.BASE_DIR / "manage.py"
HANG_SECONDS = 30


@task
def write_file(path: str, text: str) -> str:
    Path(path).write_text(text)
    return text


@task
def do_nothing() -> None:
    """A periodic job's task."""


@task
def hang_on_first_run(directory: str) -> str:
    """Hangs the first time, so that a test can kill its worker mid-task; finishes the next."""
    started = Path(directory) / "started"
    if not started.exists():
        started.write_text(str(os.getpid()))
        time.sleep(HANG_SECONDS)
    (Path(directory) / "finished").write_text(str(os.getpid()))
    return "finished"


@task
@retry_with_backoff(attempts=4, first_delay=timedelta(seconds=30))
def succeed_after_failures(counter_path: str, failures: int) -> int:
    """Fails its first `failures` runs, then returns how many runs it took (counted in a file)."""
    counter = Path(counter_path)
    runs = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(runs))
    if runs <= failures:
        raise ConnectionError(f"Run {runs} failed on purpose.")
    return runs


@task
def fail_without_retries() -> None:
    raise ConnectionError("Failed on purpose.")


@task
@retry_with_backoff(attempts=4, retry_on=(ConnectionError,))
def fail_with_a_bug() -> None:
    raise ValueError("A bug, which no retry will fix.")


# --- Worker processes ---------------------------------------------------------------------------


def database_url() -> str:
    """The test database as a DATABASE_URL, so that another process works on the same data."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        if connection.is_in_memory_db():
            raise RuntimeError("Another process cannot open an in-memory test database.")
        return f"sqlite:///{database['NAME']}"
    password = f":{quote(database['PASSWORD'], safe='')}" if database["PASSWORD"] else ""
    return (
        f"postgres://{quote(database['USER'], safe='')}{password}"
        f"@{quote(database['HOST'] or 'localhost', safe='')}:{database['PORT'] or 5432}"
        f"/{database['NAME']}"
    )


def process_environment(**variables: str) -> dict[str, str]:
    """The environment of a manage.py process working on the test database, with our settings."""
    return {
        **os.environ,
        "KIZUNA_DEBUG": "true",
        "DATABASE_URL": database_url(),
        "KIZUNA_TASK_BACKEND": "database",
        "KIZUNA_WORKER_HEARTBEAT_TIMEOUT": str(settings.KIZUNA_WORKER_HEARTBEAT_TIMEOUT),
        "KIZUNA_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        **variables,
    }


def manage(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a manage.py command to its end (killed if it outlives the timeout)."""
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), *args],
        cwd=settings.BASE_DIR,
        env=process_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def background_command(
    *args: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Start a manage.py command in the background; it is killed when the block ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), *args],
            cwd=settings.BASE_DIR,
            env=env or process_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            with suppress(ProcessLookupError):  # it ended just now
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until(
    condition: Callable[[], bool], process: subprocess.Popen, log: Path, timeout: float = 20
) -> None:
    """Wait for what a background process should do; fail early if it ends or takes too long."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"The process ended ({process.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"Still waiting after {timeout} s; the process said:\n{log.read_text()}")
        time.sleep(0.05)
