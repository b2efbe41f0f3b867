"""The spool: accepted events are appended to a local file before the answer, then stored in groups.

Why: one database write per hit is what caps the peers (DESIGN.md, "hot tracking path"), and an
event we answered 2xx for must never be lost — not when the database restarts, not when the web
process is killed. So the collector appends each batch to this process's spool file (one
`write()`, no fsync: the kernel keeps the bytes if the process dies) and answers; a writer thread
reads the file every SPOOL_INTERVAL seconds and stores what it finds in one transaction, then
records how far it got in `<file>.offset`.

Each process holds an exclusive `flock` on its own file. A file whose lock is free belongs to a
process that died: any writer (or the worker's periodic job) takes it over and stores the rest.
Every record carries a unique key and the insert skips keys already stored, so replaying a file
after a crash between the commit and the offset never stores an event twice.
"""

import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

from kizuna.tracking import writing

logger = logging.getLogger(__name__)

ROTATE_BYTES = 8 * 1024 * 1024
CHUNK_RECORDS = 2000
RECOVERY_EVERY_SECONDS = 10.0


class Spool:
    def __init__(self, directory: Path, *, background: bool, interval: float, batch: int):
        self.directory = Path(directory)
        self.background = background
        self.interval = interval
        self.batch = batch
        self._append_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._offset = 0
        self._pending = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # --- The request side ------------------------------------------------------------------

    def accept(self, records: list[dict]) -> None:
        """Keep these records (on disk when this returns); the writer stores them soon."""
        if not records:
            return
        data = "".join(
            json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
            for record in records
        ).encode()
        with self._append_lock:
            if self._fd is None:
                self._open()
            os.write(self._fd, data)
            self._pending += len(records)
            pending = self._pending
        if self.background:
            self._ensure_writer()
            if pending >= self.batch:
                self._wake.set()

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            path = self.directory / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a recovering writer took it in the instant between
                os.close(fd)
                continue
            self._fd, self._path, self._offset = fd, path, 0
            return

    # --- The writer side -------------------------------------------------------------------

    def flush(self) -> int:
        """Store what this process accepted so far; returns the number of records read."""
        with self._flush_lock:
            if self._path is None:
                return 0
            path = self._path
            self._offset, count = store_file(path, self._offset)
            with self._append_lock:
                self._pending = max(0, self._pending - count)
                # Start a new file once this one is big and all of it is stored.
                if (
                    self._path == path
                    and self._offset >= ROTATE_BYTES
                    and os.fstat(self._fd).st_size == self._offset
                ):
                    os.close(self._fd)
                    path.unlink(missing_ok=True)
                    _offset_path(path).unlink(missing_ok=True)
                    self._fd = self._path = None
                    self._offset = 0
            return count

    def recover_orphans(self) -> int:
        """Store the files of processes that died; returns the number of records read."""
        if not self.directory.is_dir():
            return 0
        total = 0
        for path in sorted(self.directory.glob("*.jsonl")):
            if path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive and stores it itself
                os.close(fd)
                continue
            try:
                _, count = store_file(path, read_offset(path))
                total += count
                path.unlink(missing_ok=True)
                _offset_path(path).unlink(missing_ok=True)
                logger.info("Stored %d events from the spool of a stopped process", count)
            finally:
                os.close(fd)
        return total

    def _ensure_writer(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._flush_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="kizuna-tracking-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        try:
            self._store_until_stopped()
        finally:
            connection.close()  # this thread's own connection

    def _store_until_stopped(self) -> None:
        backoff = 0.5
        last_recovery = 0.0
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
                if time.monotonic() - last_recovery > RECOVERY_EVERY_SECONDS:
                    last_recovery = time.monotonic()
                    self.recover_orphans()
                backoff = 0.5
            except Exception:
                # The database is down or restarting: the records stay in the file; try again.
                logger.exception("Storing tracked events failed; retrying in %.1f s", backoff)
                connection.close()
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def store_file(path: Path, offset: int) -> tuple[int, int]:
    """Store the complete lines of `path` after `offset`; returns (new offset, records read).

    The offset moves on after each committed chunk. A torn last line (the process died inside a
    write) is left until it is complete — or for ever, if it never will be."""
    count = 0
    with open(path, "rb") as file:
        file.seek(offset)
        while True:
            lines = file.readlines(CHUNK_RECORDS * 512)
            if not lines:
                break
            # A file still being written can give a torn line anywhere in the batch (readlines
            # reads what is there): stop at the first one, it is read whole next time.
            for position, line in enumerate(lines):
                if not line.endswith(b"\n"):
                    del lines[position:]
                    break
            if not lines:
                break
            records = []
            for line in lines:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    logger.error("Skipped an unreadable spool line in %s", path.name)
            writing.store_records(records)
            offset += sum(len(line) for line in lines)
            write_offset(path, offset)
            count += len(records)
            file.seek(offset)
    return offset, count


def _offset_path(path: Path) -> Path:
    return path.with_suffix(".offset")


def read_offset(path: Path) -> int:
    try:
        return int(_offset_path(path).read_text())
    except (FileNotFoundError, ValueError):
        return 0


def write_offset(path: Path, offset: int) -> None:
    temporary = path.with_suffix(".offset.tmp")
    temporary.write_text(str(offset))
    os.replace(temporary, _offset_path(path))


# --- The process's spool ----------------------------------------------------------------------

_spool: Spool | None = None
_spool_lock = threading.Lock()


def get_spool() -> Spool:
    global _spool
    if _spool is None:
        with _spool_lock:
            if _spool is None:
                _spool = Spool(
                    settings.KIZUNA_TRACKING_SPOOL_DIR,
                    background=settings.KIZUNA_TRACKING_WRITER == "thread",
                    interval=settings.KIZUNA_TRACKING_FLUSH_SECONDS,
                    batch=500,
                )
    return _spool


def reset_spool() -> None:
    """Forget the process's spool (after a fork, and between tests)."""
    global _spool
    if _spool is not None:
        _spool._stopping = True
        _spool._wake.set()
    _spool = None


os.register_at_fork(after_in_child=reset_spool)
