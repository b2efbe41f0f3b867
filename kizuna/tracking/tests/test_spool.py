"""An accepted event is never lost and never stored twice: the spool survives kill -9 of its
process and a database that is away, and replaying it stores nothing twice."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from django.db import OperationalError

from kizuna.tracking import ingest, writing
from kizuna.tracking.models import Event
from kizuna.tracking.spool import Spool, read_offset, write_offset

VISITOR = "fedcba9876543210fedcba9876543210"
REPO = Path(__file__).resolve().parents[3]


def records(count: int, start: int = 0) -> list[dict]:
    return [
        ingest.server_record(
            "page_view", visitor=VISITOR, url=f"/page/{n}", key=f"key-{n}", at=1_790_000_000 + n
        )
        for n in range(start, start + count)
    ]


def test_events_of_a_process_killed_before_it_stored_them_are_stored_by_another(db, tmp_path):
    spool_dir = tmp_path / "spool"
    program = textwrap.dedent(
        """
        import os, signal, django
        django.setup()
        from kizuna.tracking import ingest
        from kizuna.tracking.spool import get_spool
        get_spool().accept([
            ingest.server_record("page_view", visitor="fedcba9876543210fedcba9876543210",
                                 url=f"/killed/{n}", key=f"killed-{n}")
            for n in range(250)
        ])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    environment = {
        **os.environ,
        "KIZUNA_DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "kizuna.settings",
        "KIZUNA_TRACKING_SPOOL_DIR": str(spool_dir),
        "KIZUNA_TRACKING_WRITER": "thread",
        "KIZUNA_TRACKING_FLUSH_SECONDS": "3600",  # it dies before its writer runs
    }
    finished = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, env=environment, timeout=60, check=False
    )
    assert finished.returncode == -9
    assert len(list(spool_dir.glob("*.jsonl"))) == 1

    survivor = Spool(spool_dir, background=False, interval=1, batch=500)
    assert survivor.recover_orphans() == 250
    assert Event.objects.filter(url__startswith="/killed/").count() == 250
    assert list(spool_dir.glob("*.jsonl")) == []
    assert survivor.recover_orphans() == 0


def test_a_living_processs_spool_is_left_to_it(db, tmp_path):
    own = Spool(tmp_path, background=False, interval=1, batch=500)
    own.accept(records(3))
    other = Spool(tmp_path, background=False, interval=1, batch=500)
    assert other.recover_orphans() == 0  # the file is locked by `own`
    assert own.flush() == 3 and Event.objects.count() == 3


def test_replaying_after_a_crash_between_commit_and_offset_stores_nothing_twice(db, tmp_path):
    spool = Spool(tmp_path, background=False, interval=1, batch=500)
    spool.accept(records(10))
    spool.flush()
    path = next(tmp_path.glob("*.jsonl"))
    assert read_offset(path) == path.stat().st_size
    spool.accept(records(5, start=10))
    write_offset(path, 0)  # as if the process died before recording how far it got
    spool._offset = 0
    spool.flush()
    assert Event.objects.count() == 15


def test_a_torn_last_line_waits_until_it_is_complete(db, tmp_path):
    spool = Spool(tmp_path, background=False, interval=1, batch=500)
    spool.accept(records(2))
    path = next(tmp_path.glob("*.jsonl"))
    with open(path, "ab") as file:
        file.write(b'{"k": "torn", "t": "page_v')
    assert spool.flush() == 2
    assert Event.objects.count() == 2


def test_while_the_database_is_away_the_writer_keeps_the_events_and_stores_them_later(
    transactional_db, tmp_path, monkeypatch
):
    store = writing.store_records
    failures = []

    def database_away(batch):
        if len(failures) < 3:
            failures.append(len(batch))
            raise OperationalError("server closed the connection unexpectedly")
        store(batch)

    monkeypatch.setattr(writing, "store_records", database_away)
    spool = Spool(tmp_path, background=True, interval=0.05, batch=500)
    try:
        spool.accept(records(20))
        deadline = time.monotonic() + 20
        while Event.objects.count() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        spool.stop()
    assert len(failures) == 3
    assert Event.objects.count() == 20


def test_a_big_spool_file_is_replaced_once_everything_in_it_is_stored(db, tmp_path, monkeypatch):
    monkeypatch.setattr("kizuna.tracking.spool.ROTATE_BYTES", 1000)
    spool = Spool(tmp_path, background=False, interval=1, batch=500)
    spool.accept(records(20))
    first = next(tmp_path.glob("*.jsonl"))
    spool.flush()
    assert not first.exists()
    spool.accept(records(1, start=20))
    assert next(tmp_path.glob("*.jsonl")) != first
    spool.flush()
    assert Event.objects.count() == 21
