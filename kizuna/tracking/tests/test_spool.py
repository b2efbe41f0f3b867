"""An accepted event is never lost and never stored twice: the spool survives kill -9 of its
process and a database that is away, and replaying it stores nothing twice."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from django.db import OperationalError, connection

from kizuna.core.models import SiteSettings
from kizuna.tracking import ingest, writing
from kizuna.tracking.collector import site_settings
from kizuna.tracking.models import Event
from kizuna.tracking.spool import Spool, get_spool, read_offset, reset_spool, write_offset

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


def _drop_connections_or_lock(hold_seconds: float) -> int:
    """What a database restart does to the writer: PostgreSQL drops every other connection;
    SQLite is held locked by another process for a while. Returns the connections dropped."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.rowcount
    locker = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    locker.execute("BEGIN EXCLUSIVE")
    time.sleep(hold_seconds)
    locker.rollback()
    locker.close()
    return 1


def test_connections_dropped_under_load_lose_no_event_and_refuse_no_hit(
    transactional_db, tmp_path, settings, client
):
    settings.KIZUNA_TRACKING_SPOOL_DIR = tmp_path
    settings.KIZUNA_TRACKING_WRITER = "thread"
    settings.KIZUNA_TRACKING_FLUSH_SECONDS = 0.05
    settings.KIZUNA_COLLECT_LIMIT_PER_MINUTE = 0
    reset_spool()
    site_settings.forget()  # the collector reads the settings row (and survives losing it)
    SiteSettings.objects.update_or_create(pk=1, defaults={"tracking_domains": "example.co.jp"})
    answers, dropped = [], 0
    try:
        for round_ in range(6):
            for n in range(20):
                body = {
                    "v": VISITOR,
                    "events": [{"type": "page_view", "url": f"https://example.co.jp/{round_}/{n}"}],
                }
                answers.append(
                    client.generic(
                        "POST",
                        "/t/collect",
                        json.dumps(body),
                        content_type="text/plain",
                        headers={"Origin": "https://example.co.jp"},
                    ).status_code
                )
            site_settings.forget()
            time.sleep(0.8)  # the writer (back from its pause after an error) stores again
            dropped += _drop_connections_or_lock(0.3)
        deadline = time.monotonic() + 30
        while Event.objects.count() < 120 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        get_spool().stop()
        reset_spool()
    assert dropped >= 3
    assert set(answers) == {204}
    assert Event.objects.count() == 120
    assert Event.objects.values("url").distinct().count() == 120
