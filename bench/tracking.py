"""Benchmark: the tracking collector against the limit and against the peer design (issue 4).

    python -m bench.tracking [--seconds 15] [--connections 32] [--identify-events 10,1000,100000]
        [--events 1000000] [--contact-events 100000] [--workers 2] [--threads 4]
        [--database kizuna_bench_tracking]

One run, on loopback, on a freshly migrated bench database (never the developer's data;
PostgreSQL when DATABASE_URL points at one, else a temporary SQLite file). Three servers run side
by side under granian (the same workers and threads) and a load generator in this process (raw
keep-alive HTTP/1.1 on asyncio, --connections connections) sends them the same events - one page
view a hit, 9 in 10 by POST /t/collect and 1 in 10 by the pixel, over thousands of visitors and
pages - in short rounds that alternate between them, so that drift affects each alike:
1. ours: kizuna.wsgi:application as in production (the collector before Django, the spool and its
   writer thread) - events/s, p50 / p99 latency, and how long after sending a marked event (sent
   during the load) is in tracking_event, where segment queries see it (another process polls);
2. the limit: a bare WSGI app (in this module) buffering the same events in memory and writing
   them every 500 with COPY (SQLite: executemany) into a plain table;
3. the peer design (Mautic, listmonk): a Django view behind the full MIDDLEWARE of kizuna.settings
   doing one Event.objects.create per hit;
4. identity: stitching.identify_visitor of a visitor with 10, 1,000 and 100,000 earlier events
   (p99), and how long the background fold of the largest one takes;
5. size: tracking_event filled to --events rows, one contact holding --contact-events of them:
   that contact's newest 50 (its activity page's query) against a primary-key page of 50.
Prints a table; the last line is one JSON object with the figures.
"""

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, quote

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.benchdb import bench_database_url

REPOSITORY = Path(__file__).resolve().parent.parent
SITES = {"ours": "www.example.jp", "limit": "limit.example.jp", "peer": "peer.example.jp"}
PROBE_SITE = "probe.example.jp"
PROBE_VISITOR = "bench0probe0visitor0000000000000"
PROBE_INTERVAL = 0.05
# After a round, what a writer that keeps up needs to store the last events: a flush interval
# (0.2 s) and one group's write. Longer is backlog, counted against ours' rate.
CATCH_UP_SECONDS = 0.5
LIMIT_GROUP = 500
PIXEL = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
PIXEL += b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x01D\x00;"
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 15.6; rv:143.0) Gecko/20100101 Firefox/143.0",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Mobile Safari/537.36",
]
EVENT_COLUMNS = (
    "event_id, type, occurred_at, contact_id, visitor_id, session, host, url, referrer, ip, "
    "browser, os, device_type, is_machine, props"
)


# --- What the load generator sends ---------------------------------------------------------------


def hit_requests(port: int, site: str, count: int, seed: int, pixel_share: float) -> list[bytes]:
    """`count` ready-made requests: page views of 500 pages by visitors drawn from 20,000."""
    rng = random.Random(seed)
    visitors = [f"{rng.getrandbits(128):032x}" for _ in range(20_000)]
    requests = []
    for _ in range(count):
        visitor, page, agent = rng.choice(visitors), rng.randrange(500), rng.choice(AGENTS)
        url = f"https://{site}/products/{page}?utm_source=mail&utm_campaign=autumn"
        referrer = rng.choice(["https://www.google.com/", f"https://{site}/", ""])
        if rng.random() < pixel_share:
            query = f"v={visitor}&u={quote(url, safe='')}&r={quote(referrer, safe='')}"
            head = f"GET /t/p.gif?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            head += f"User-Agent: {agent}\r\nReferer: {url}\r\n\r\n"
            requests.append(head.encode())
            continue
        event = {"type": "page_view", "url": url, "title": f"製品 {page} | 絆ストア"}
        event.update({"referrer": referrer or None, "lang": "ja-JP"})
        body = json.dumps({"v": visitor, "consent": True, "events": [event]}, ensure_ascii=False)
        requests.append(collect_request(port, site, body.encode(), agent))
    return requests


def collect_request(port: int, site: str, body: bytes, agent: str = AGENTS[0]) -> bytes:
    head = (
        f"POST /t/collect HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: https://{site}\r\n"
        f"User-Agent: {agent}\r\nContent-Type: text/plain;charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def probe_request(port: int, number: int) -> bytes:
    event = {"type": "page_view", "url": f"https://{PROBE_SITE}/probe/{number}", "lang": "ja-JP"}
    event["id"] = f"probe{number:06d}"
    body = json.dumps({"v": PROBE_VISITOR, "consent": True, "events": [event]}).encode()
    return collect_request(port, PROBE_SITE, body)


# --- The load generator: raw keep-alive HTTP/1.1 on asyncio, one request in flight a connection --


class _Run:
    def __init__(self, clients: int, deadline: float):
        self.clients, self.deadline = clients, deadline
        self.latencies: list[float] = []
        self.ok = 0
        self.failed: dict[int, int] = {}
        self.finished = 0
        self.done = asyncio.get_running_loop().create_future()

    def finish_one(self) -> None:
        self.finished += 1
        if self.finished == self.clients and not self.done.done():
            self.done.set_result(time.perf_counter())


class _Client(asyncio.Protocol):
    def __init__(self, run: _Run, requests: list[bytes], offset: int):
        self.run, self.requests, self.index = run, requests, offset
        self.buffer = b""
        self.sent_at = 0.0
        self.transport = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def send(self) -> None:
        request = self.requests[self.index % len(self.requests)]
        self.index += 1
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data):
        self.buffer += data
        while not self.closed:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            start = head.find(b"\r\ncontent-length:")
            if start >= 0:
                stop = head.find(b"\r\n", start + 2)
                size = end + 4 + int(head[start + 17 : stop if stop > 0 else None])
            elif b"chunked" in head:
                last = self.buffer.find(b"0\r\n\r\n", end + 4)
                if last < 0:
                    return
                size = last + 5
            else:
                size = end + 4
            if len(self.buffer) < size:
                return
            now = time.perf_counter()
            status = int(head[9:12])
            self.buffer = self.buffer[size:]
            self.run.latencies.append(now - self.sent_at)
            if 200 <= status < 300:
                self.run.ok += 1
            else:
                self.run.failed[status] = self.run.failed.get(status, 0) + 1
            if now < self.run.deadline:
                self.send()
            else:
                self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()
            self.run.finish_one()

    def connection_lost(self, exc):
        if not self.closed:
            self.run.failed[0] = self.run.failed.get(0, 0) + 1
            self.closed = True
            self.run.finish_one()


async def _probe(port: int, sent: list, stop: asyncio.Event) -> None:
    """A marked event every PROBE_INTERVAL on a connection of its own; sent = [(number, time)]."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            number = len(sent)
            request = probe_request(port, number)
            sent.append((number, time.time()))
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            match = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
            await reader.readexactly(int(match.group(1)) if match else 0)
            if not head.startswith((b"http/1.1 2", b"http/1.0 2")):
                raise SystemExit(f"the marked event was refused: {head[:200]!r}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROBE_INTERVAL)
    finally:
        writer.close()


async def _load(port: int, requests: list[bytes], connections: int, seconds: float, probes=None):
    loop = asyncio.get_running_loop()
    run = _Run(connections, float("inf"))
    clients = []
    for number in range(connections):  # all connections open first, then all start at once
        _, client = await loop.create_connection(
            lambda number=number: _Client(run, requests, number * 7919), "127.0.0.1", port
        )
        clients.append(client)
    stop = asyncio.Event()
    probing = asyncio.ensure_future(_probe(port, probes, stop)) if probes is not None else None
    started = time.perf_counter()
    run.deadline = started + seconds
    for client in clients:
        client.send()
    try:
        ended = await asyncio.wait_for(run.done, seconds + 30)
    finally:
        stop.set()
        for client in clients:
            client.close()
        if probing is not None:
            await probing
    return {
        "ok": run.ok,
        "failed": run.failed,
        "seconds": ended - started,
        "latencies": run.latencies,
    }


def load(port, requests, connections, seconds, probes=None) -> dict:
    cpu = time.process_time()
    figures = asyncio.run(_load(port, requests, connections, seconds, probes))
    figures["client_cpu"] = time.process_time() - cpu
    return figures


# --- The limit: a bare WSGI app, events buffered in memory and written every 500 -----------------


class _LimitStore:
    def __init__(self, database_url: str):
        self.database_url = database_url
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.rows: list[tuple] = []
        self.connection = None

    def add(self, row: tuple) -> None:
        with self.lock:
            self.rows.append(row)
            if len(self.rows) < LIMIT_GROUP:
                return
            rows, self.rows = self.rows, []
        with self.write_lock:
            if self.connection is None:
                self.connection = connect(self.database_url, autocommit=False)
            columns = "event_id, type, occurred_at, visitor_id, url, referrer, ip, user_agent, "
            columns += "language, props"
            if isinstance(self.connection, sqlite3.Connection):
                marks = ", ".join(["?"] * 10)
                sql = f"INSERT INTO bench_limit_event ({columns}) VALUES ({marks})"  # noqa: S608 - constants
                self.connection.executemany(sql, rows)
            else:
                sql = f"COPY bench_limit_event ({columns}) FROM STDIN"
                with self.connection.cursor() as cursor, cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            self.connection.commit()


_limit_store: _LimitStore | None = None
_limit_store_lock = threading.Lock()
LIMIT_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Vary", "Origin"),
    ("Content-Length", "0"),
]


def limit_application(environ, start_response):
    """granian --interface wsgi bench.tracking:limit_application (BENCH_LIMIT_DATABASE_URL)."""
    global _limit_store
    if _limit_store is None:
        with _limit_store_lock:
            if _limit_store is None:
                _limit_store = _LimitStore(os.environ["BENCH_LIMIT_DATABASE_URL"])
    sqlite = _limit_store.database_url.startswith("sqlite:")
    now = datetime.datetime.now(datetime.UTC)
    at = now.isoformat() if sqlite else now
    ip, agent = environ.get("REMOTE_ADDR", ""), environ.get("HTTP_USER_AGENT", "")
    if environ.get("PATH_INFO") == "/t/p.gif":
        params = {key: values[0] for key, values in parse_qs(environ["QUERY_STRING"]).items()}
        row = (uuid.uuid4().hex, "page_view", at, params.get("v", ""), params.get("u", ""))
        _limit_store.add((*row, params.get("r", ""), ip, agent, "", "{}"))
        start_response(
            "200 OK", [("Content-Type", "image/gif"), ("Content-Length", str(len(PIXEL)))]
        )
        return [PIXEL]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    payload = json.loads(body)
    for event in payload["events"]:
        props = json.dumps({"title": event.get("title", "")}, ensure_ascii=False)
        row = (uuid.uuid4().hex, event["type"], at, payload["v"], event.get("url", ""))
        row += (event.get("referrer") or "", ip, agent, event.get("lang", ""), props)
        _limit_store.add(row)
    start_response("204 No Content", LIMIT_HEADERS)
    return [b""]


# --- The peer design: a Django view, full middleware stack, one INSERT per hit -------------------


def _peer_store(request, body: bytes) -> None:
    from kizuna.tracking import ingest  # noqa: PLC0415 - Django is set up by peer_application
    from kizuna.tracking.models import Event  # noqa: PLC0415
    from kizuna.tracking.useragents import parse_user_agent  # noqa: PLC0415

    hit = ingest.Hit(
        ip=ingest.client_ip(request.META.get("REMOTE_ADDR", ""), "", False),
        user_agent=request.headers.get("User-Agent", "")[:1024],
        received_at=time.time(),
    )
    for record in ingest.parse_batch(body, hit, consent_required=False):
        agent = parse_user_agent(record["ua"])
        if agent.is_bot:
            continue
        Event.objects.create(
            event_id=record["k"],
            type=record["t"],
            occurred_at=datetime.datetime.fromtimestamp(record["at"], datetime.UTC),
            visitor_id=record["v"],
            host=record["h"],
            url=record["u"],
            referrer=record["r"],
            ip=record["ip"] or None,
            browser=agent.browser,
            os=agent.os,
            device_type=agent.device_type,
            props=record["p"],
        )


@csrf_exempt
def peer_collect(request):
    from kizuna.tracking import ingest  # noqa: PLC0415

    try:
        _peer_store(request, request.body)
    except ingest.Refused as refusal:
        return JsonResponse({"error": str(refusal)}, status=refusal.status)
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Origin"] = request.headers.get("Origin", "")
    return response


def peer_pixel(request):
    from kizuna.tracking import ingest  # noqa: PLC0415

    params = {key: values[0] for key, values in parse_qs(request.META["QUERY_STRING"]).items()}
    event = {"type": "page_view", "url": params.get("u", ""), "referrer": params.get("r") or None}
    with contextlib.suppress(ingest.Refused):
        _peer_store(request, json.dumps({"v": params.get("v", ""), "events": [event]}).encode())
    return HttpResponse(PIXEL, content_type="image/gif")


urlpatterns = [path("t/collect", peer_collect), path("t/p.gif", peer_pixel)]


def peer_application():
    """granian --interface wsgi --factory bench.tracking:peer_application: kizuna.settings with
    this module as ROOT_URLCONF (MIDDLEWARE unchanged)."""
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415
    from django.core.wsgi import get_wsgi_application  # noqa: PLC0415

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kizuna.settings")
    django.setup()
    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()


# --- The bench database ------------------------------------------------------------------------


def connect(database_url: str, autocommit: bool = True):
    """A plain DB-API connection (no Django): psycopg, or sqlite3 in WAL mode."""
    if database_url.startswith("sqlite:"):
        connection = sqlite3.connect(
            database_url.removeprefix("sqlite://"),
            timeout=30,
            check_same_thread=False,
            isolation_level=None if autocommit else "DEFERRED",
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection
    import psycopg  # noqa: PLC0415

    return psycopg.connect(database_url, autocommit=autocommit)


def scalar(connection, sql: str, params=()):
    if isinstance(connection, sqlite3.Connection):
        sql = sql.replace("%s", "?")
    cursor = connection.execute(sql, params)
    try:
        return cursor.fetchone()[0]
    finally:
        cursor.close()  # SQLite: an open statement would pin this connection's snapshot


# --- Child processes: each measurement that needs Django runs in its own process ---------------


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kizuna.settings")
    import django  # noqa: PLC0415 - settings must see the bench DATABASE_URL first

    django.setup()


def child_setup() -> dict:
    """Empty the bench database, migrate, allow example.jp to send events, add the limit's table."""
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415

    from kizuna.core.models import SiteSettings  # noqa: PLC0415

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)
    row = SiteSettings.current()
    row.tracking_domains = "example.jp"
    row.save()
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_limit_event (event_id text, type text, occurred_at "
            f"{'timestamptz' if postgres else 'text'}, visitor_id text, url text, referrer text, "
            f"ip {'inet' if postgres else 'text'}, user_agent text, language text, "
            f"props {'jsonb' if postgres else 'text'})"
        )
    return {"vendor": connection.vendor}


def child_poll(database_url: str, stop_file: str) -> dict:
    """Note when each marked event first shows in tracking_event, until `stop_file` exists."""
    connection = connect(database_url)
    seen: dict[str, float] = {}
    sql = "SELECT url FROM tracking_event WHERE visitor_id = %s"
    if isinstance(connection, sqlite3.Connection):
        sql = sql.replace("%s", "?")
    while True:
        stopping = os.path.exists(stop_file)
        rows = connection.execute(sql, [PROBE_VISITOR]).fetchall()
        now = time.time()
        for (url,) in rows:
            seen.setdefault(url, now)
        if stopping:
            return seen
        time.sleep(0.01)


def insert_events(rows: int, sql_columns: str, start_number: int = 1) -> None:
    """Insert `rows` generated events in the database itself (n from start_number on);
    `sql_columns` are SQL expressions of n in EVENT_COLUMNS' order."""
    from django.db import connection  # noqa: PLC0415

    chunk = 1_000_000
    sql_columns = sql_columns.replace("%", "%%")  # the driver's placeholders are %s
    if connection.vendor == "postgresql":
        sql = f"INSERT INTO tracking_event ({EVENT_COLUMNS}) SELECT {sql_columns} "  # noqa: S608
        sql += "FROM generate_series(%s::bigint, %s::bigint) AS n"
    else:
        sql = "WITH RECURSIVE s(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
        sql += f"INSERT INTO tracking_event ({EVENT_COLUMNS}) SELECT {sql_columns} FROM s"  # noqa: S608
    with connection.cursor() as cursor:
        for first in range(start_number, start_number + rows, chunk):
            cursor.execute(sql, [first, min(first + chunk, start_number + rows) - 1])


def _time_of(n: str, vendor: str) -> str:
    """An SQL timestamp `n` seconds after 2026-01-01 (UTC), in the column's stored form."""
    if vendor == "postgresql":
        return f"TIMESTAMPTZ '2026-01-01 00:00:00+00' + {n} * INTERVAL '1 second'"
    return f"datetime('2026-01-01 00:00:00', '+' || {n} || ' seconds')"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def child_identify(sizes: list[int], repeats: int) -> dict:
    """identify_visitor of visitors with `sizes` earlier events, timed; then the fold of the
    largest (the background task's work)."""
    from django.db import connection  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    from kizuna.crm.models import Contact  # noqa: PLC0415
    from kizuna.tracking import folding, stitching  # noqa: PLC0415
    from kizuna.tracking.models import Event, Visitor  # noqa: PLC0415

    contacts = [
        Contact.objects.create(
            email=f"identify{i}@example.jp", family_name="識別", given_name=f"{i}"
        )
        for i in range(2)
    ]
    results = {}
    for size in sizes:
        visitor = Visitor.objects.create(
            id=f"bench-identify-{size}", first_seen_at=timezone.now(), last_seen_at=timezone.now()
        )
        columns = (
            f"'i{size}-' || n, 'page_view', {_time_of('n', connection.vendor)}, NULL, "
            f"'{visitor.id}', '', 'www.example.jp', '/products/' || (n % 500), '', NULL, "
            "'Chrome', 'Windows', 'desktop', false, '{}'"
        )
        insert_events(size, columns)
        timings = []
        for attempt in range(repeats + 20):  # the first 20 warm the caches, untimed
            contact = contacts[attempt % 2]
            started = time.perf_counter()
            stitching.identify_visitor(visitor.id, contact)
            if attempt >= 20:
                timings.append(time.perf_counter() - started)
        # Until the fold has run, the contact finds the earlier events through the alias.
        found = Event.objects.of_contact(contact).filter(visitor_id=visitor.id).count()
        if found != size:
            raise SystemExit(f"identify of {size}: the contact sees {found} of its events")
        results[size] = {
            "p50_ms": _percentile(timings, 0.5) * 1000,
            "p99_ms": _percentile(timings, 0.99) * 1000,
        }
    largest = max(sizes)
    started = time.perf_counter()
    moved = folding.fold_visitor_events(f"bench-identify-{largest}")
    fold_seconds = time.perf_counter() - started
    if moved != largest:
        raise SystemExit(f"the fold moved {moved} of {largest} events")
    return {"sizes": results, "fold_events": largest, "fold_s": fold_seconds}


def child_size(total: int, contact_events: int, repeats: int = 40) -> dict:
    """Fill tracking_event to `total` rows, `contact_events` of them one contact's (spread over
    the time range, the rest anonymous or of 200 other contacts); time that contact's newest 50
    against a primary-key page of 50."""
    from django.db import connection  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    from kizuna.crm.models import Contact  # noqa: PLC0415
    from kizuna.tracking.models import Event, Visitor  # noqa: PLC0415

    contact = Contact.objects.create(email="size@example.jp", family_name="大量", given_name="花子")
    now = timezone.now()
    visitor = Visitor.objects.create(
        id="bench-size-contact", contact=contact, first_seen_at=now, last_seen_at=now
    )
    others = [Contact.objects.create(email=f"other{i}@example.jp").pk for i in range(200)]
    if others != list(range(others[0], others[0] + 200)):
        raise SystemExit("the other contacts' ids are not consecutive")
    add = max(contact_events, total - Event.objects.count())
    step = max(1, add // max(1, contact_events))
    vendor = connection.vendor
    columns = (
        f"'s' || n, 'page_view', {_time_of('n', vendor)}, "
        f"CASE WHEN n % {step} = 0 AND n / {step} <= {contact_events} THEN {contact.pk} "
        f"WHEN n % 3 = 0 THEN {others[0]} + n % 200 ELSE NULL END, "
        f"CASE WHEN n % {step} = 0 AND n / {step} <= {contact_events} THEN '{visitor.id}' "
        f"ELSE 'bench-v' || (n % 200000) END, '', 'www.example.jp', "
        f"'/products/' || (n % 500), '', NULL, 'Chrome', 'Windows', 'desktop', false, '{{}}'"
    )
    started = time.perf_counter()
    insert_events(add, columns)
    fill_seconds = time.perf_counter() - started
    if vendor == "postgresql":
        with connection.cursor() as cursor:  # autovacuum would, soon after such a load
            cursor.execute("VACUUM ANALYZE tracking_event")
    held = Event.objects.count()
    of_contact = Event.objects.filter(contact=contact).count()

    def newest():
        """Ours: the activity page's read (two index-ordered queries, merged)."""
        return Event.objects.newest_of_contact(contact, 50)

    def newest_in_one_query():
        """For comparison: of_contact() with its OR, in one query."""
        return list(Event.objects.of_contact(contact).order_by("-occurred_at", "-id")[:50])

    highest = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
    rng = random.Random(7)

    def pk_page():
        cursor = rng.randrange(max(51, highest // 10), highest + 1)
        return list(Event.objects.filter(pk__lt=cursor).order_by("-pk")[:50])

    if [event.pk for event in newest()] != [event.pk for event in newest_in_one_query()]:
        raise SystemExit("newest_of_contact() does not find the same newest 50 as of_contact()")
    queries = {"newest": newest, "one_query": newest_in_one_query, "pk_page": pk_page}
    timings = {name: [] for name in queries}
    for _ in range(repeats):
        for name, query in queries.items():
            started = time.perf_counter()
            rows = query()
            timings[name].append(time.perf_counter() - started)
            if len(rows) != 50:
                raise SystemExit(f"{name}: {len(rows)} rows instead of 50")
    plan = Event.objects.filter(contact=contact).order_by("-occurred_at", "-id")[:50].explain()
    return {
        "events": held,
        "contact_events": of_contact,
        "fill_s": fill_seconds,
        "newest_ms": _percentile(timings["newest"], 0.5) * 1000,
        "newest_p95_ms": _percentile(timings["newest"], 0.95) * 1000,
        "one_query_ms": _percentile(timings["one_query"], 0.5) * 1000,
        "pk_page_ms": _percentile(timings["pk_page"], 0.5) * 1000,
        "plan": plan,
    }


def child(kind: str, database_url: str, arguments: dict) -> None:
    if kind == "poll":
        figures = child_poll(database_url, arguments["stop_file"])
    else:
        setup_django(database_url)
        if kind == "setup":
            figures = child_setup()
        elif kind == "identify":
            figures = child_identify(arguments["sizes"], arguments["repeats"])
        else:
            figures = child_size(arguments["events"], arguments["contact_events"])
    print(json.dumps(figures))


def child_command(kind: str, database_url: str, arguments: dict) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.tracking",
        "--child",
        kind,
        "--database-url",
        database_url,
        "--child-arguments",
        json.dumps(arguments),
    ]


def run_child(kind: str, database_url: str, env: dict, arguments: dict | None = None) -> dict:
    # Our own interpreter running this module: no outside input in the command line.
    done = subprocess.run(  # noqa: S603
        child_command(kind, database_url, arguments or {}),
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=REPOSITORY,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- The servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bench_environment(database_url: str, folder: Path) -> dict:
    """As in production (DEBUG off, so Django keeps no query log), plain HTTP on loopback."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        BENCH_LIMIT_DATABASE_URL=database_url,
        KIZUNA_DEBUG="false",
        KIZUNA_HTTPS="false",
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        KIZUNA_VAR_DIR=str(folder / "var"),
        KIZUNA_TRACKING_SPOOL_DIR=str(folder / "spool"),
        KIZUNA_COLLECT_LIMIT_PER_MINUTE="0",
        KIZUNA_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


class Processes:
    """Every process the bench starts, each in a session of its own; stopped (its whole process
    group, by id) on exit, whatever happened."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: dict[str, subprocess.Popen] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for name in list(self.started):
            self.stop(name)

    def start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("wb")
        # Our own interpreter and granian with arguments built here: no outside input.
        process = subprocess.Popen(  # noqa: S603
            command,
            env=env,
            cwd=REPOSITORY,
            stdout=subprocess.PIPE if name == "poll" else log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        self.started[name] = process
        return process

    def stop(self, name: str, timeout: float = 10) -> None:
        process = self.started.pop(name, None)
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        if process.stdout:
            process.stdout.close()

    def log_tail(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def cpu_seconds(self, name: str) -> float:
        """User + system time so far of the process group (granian's workers included)."""
        return cpu_seconds(lambda group, command: group == self.started[name].pid)


def cpu_seconds(chosen) -> float:
    """User + system time so far of the processes for which chosen(group id, command line)."""
    total = 0
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
            command = (folder / "cmdline").read_bytes().replace(b"\0", b" ").decode("latin-1")
        except OSError:
            continue
        if chosen(int(fields[2]), command):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(database_url: str) -> float:
    """PostgreSQL's: the backends serving the bench database and the WAL and checkpoint writers
    (on SQLite the servers do the database work themselves: 0)."""
    if database_url.startswith("sqlite:"):
        return 0.0
    name = database_url.rpartition("/")[2]
    helpers = (": walwriter", ": checkpointer", ": background writer")
    return cpu_seconds(
        lambda group, command: (
            command.startswith("postgres: ")
            and (f" {name} " in command or command.rstrip().endswith(helpers))
        )
    )


def start_servers(processes: Processes, env: dict, workers: int, threads: int) -> dict[str, int]:
    targets = {
        "ours": ["kizuna.wsgi:application"],
        "limit": ["bench.tracking:limit_application"],
        "peer": ["--factory", "bench.tracking:peer_application"],
    }
    ports = {}
    for name, target in targets.items():
        ports[name] = free_port()
        command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]
        command += ["--port", str(ports[name]), "--workers", str(workers)]
        command += ["--blocking-threads", str(threads), "--no-ws", "--log-level", "warning"]
        processes.start(name, command + target, env)
    deadline = time.monotonic() + 90
    for name, port in ports.items():
        while True:
            if processes.started[name].poll() is not None:
                raise SystemExit(f"{name} server stopped:\n{processes.log_tail(name)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} server not up:\n{processes.log_tail(name)}") from None
                time.sleep(0.1)
    return ports


# --- The run -------------------------------------------------------------------------------------


def wait_stored(database, since_id: int, site: str, expected: int, timeout: float = 15) -> dict:
    """Wait until `expected` events of `site` with an id above `since_id` are in tracking_event."""
    started = time.perf_counter()
    sql = "SELECT count(*) FROM tracking_event WHERE id > %s AND host = %s"
    while True:
        stored = scalar(database, sql, [since_id, site])
        if stored >= expected or time.perf_counter() - started > timeout:
            return {"stored": stored, "seconds": time.perf_counter() - started}
        time.sleep(0.02)


def measure_servers(options, database_url: str, env: dict, folder: Path) -> dict:
    names = ["ours", "limit", "peer"]
    totals = {name: {"ok": 0, "failed": {}, "seconds": 0.0, "latencies": []} for name in names}
    for name in names:
        totals[name].update(server_cpu=0.0, client_cpu=0.0, database_cpu=0.0)
    drains, stored, probes = [], 0, []
    rounds = max(2, round(options.seconds / options.round_seconds))
    each = options.seconds / rounds
    stop_file = folder / "stop-polling"
    with Processes(folder) as processes:
        ports = start_servers(processes, env, options.workers, options.threads)
        requests = {
            name: hit_requests(ports[name], SITES[name], 20_000, 20261123, options.pixel_share)
            for name in names
        }
        polling = child_command("poll", database_url, {"stop_file": str(stop_file)})
        poller = processes.start("poll", polling, env)
        database = connect(database_url)
        for name in names:  # warm up: Django loaded in every thread, connections open
            warm = load(ports[name], requests[name], options.connections, options.warmup)
            if warm["ok"] == 0:
                raise SystemExit(f"{name}: no request succeeded {warm['failed']}")
            if name == "ours":
                wait_stored(database, 0, SITES["ours"], warm["ok"])
        for number in range(rounds):
            order = names[number % 3 :] + names[: number % 3]
            for name in order:
                since = scalar(database, "SELECT coalesce(max(id), 0) FROM tracking_event")
                cpu, database_cpu = processes.cpu_seconds(name), database_cpu_seconds(database_url)
                figures = load(
                    ports[name],
                    requests[name],
                    options.connections,
                    each,
                    probes if name == "ours" else None,
                )
                if name == "ours":  # its writer catches up before anything else is measured
                    drain = wait_stored(database, since, SITES["ours"], figures["ok"])
                    drains.append(drain["seconds"])
                    stored += drain["stored"]
                total = totals[name]
                total["server_cpu"] += processes.cpu_seconds(name) - cpu
                total["database_cpu"] += database_cpu_seconds(database_url) - database_cpu
                for key in ("ok", "seconds", "latencies", "client_cpu"):
                    total[key] += figures[key]
                for status, count in figures["failed"].items():
                    total["failed"][status] = total["failed"].get(status, 0) + count
        # Every marked event must arrive; then the poller says when it saw each.
        sql = "SELECT count(*) FROM tracking_event WHERE visitor_id = %s"
        deadline = time.monotonic() + 30
        while scalar(database, sql, [PROBE_VISITOR]) < len(probes) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop_file.touch()
        seen = json.loads(poller.communicate(timeout=30)[0].strip().splitlines()[-1])
        limit_rows = scalar(database, "SELECT count(*) FROM bench_limit_event")
        database.close()
    log = (folder / "ours.log").read_text(errors="replace")
    problems = {
        "errors": log.count('"level": "ERROR"'),
        "deadlocks": log.count("deadlock detected"),
        "unreadable": log.count("unreadable spool line"),
    }
    visible = []
    for number, sent_at in probes:
        url = f"/probe/{number}"
        if url not in seen:
            raise SystemExit(f"marked event {number} never showed in tracking_event")
        visible.append(seen[url] - sent_at)
    return {
        "totals": totals,
        "rounds": rounds,
        "round_seconds": each,
        "drains": drains,
        "stored": stored,
        "visible": visible,
        "limit_rows": limit_rows,
        "log": problems,
    }


def summary(total: dict) -> dict:
    latencies = total["latencies"]
    rate = total["ok"] / total["seconds"] if total["seconds"] else 0.0
    thousands = max(total["ok"], 1) / 1000
    return {
        "per_s": rate,
        "p50_ms": _percentile(latencies, 0.5) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "ok": total["ok"],
        "failed": sum(total["failed"].values()),
        "server_cpu_ms": total["server_cpu"] * 1000 / thousands,
        "client_cpu_ms": total["client_cpu"] * 1000 / thousands,
        "database_cpu_ms": total["database_cpu"] * 1000 / thousands,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="of load for each server")
    parser.add_argument("--round-seconds", type=float, default=2.5, help="one round's length")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, each server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pixel-share", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes")
    parser.add_argument("--threads", type=int, default=4, help="granian threads a worker")
    parser.add_argument("--identify-events", default="10,1000,100000")
    parser.add_argument("--identify-repeats", type=int, default=500)
    parser.add_argument("--events", type=int, default=1_000_000, help="events held at the end")
    parser.add_argument("--contact-events", type=int, default=100_000)
    parser.add_argument(
        "--database",
        default="kizuna_bench_tracking",
        help="PostgreSQL only: the bench database on DATABASE_URL's server (emptied!)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--child-arguments", default="{}", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        child(options.child, options.database_url, json.loads(options.child_arguments))
        return
    sizes = sorted(int(size) for size in options.identify_events.split(","))
    folder = Path(tempfile.mkdtemp(prefix="kizuna-bench-tracking-"))
    try:
        database_url, engine = bench_database_url(options.database, folder)
        env = bench_environment(database_url, folder)
        run_child("setup", database_url, env)
        servers = measure_servers(options, database_url, env, folder)
        identify = run_child(
            "identify", database_url, env, {"sizes": sizes, "repeats": options.identify_repeats}
        )
        size = run_child(
            "size",
            database_url,
            env,
            {"events": options.events, "contact_events": options.contact_events},
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(options, engine, servers, identify, size)


def report(options, engine: str, servers: dict, identify: dict, size: dict) -> None:
    figures = {name: summary(total) for name, total in servers["totals"].items()}
    ours, limit, peer = figures["ours"], figures["limit"], figures["peer"]
    # What ours sustains: the events it accepted over the time under load plus the time its
    # writer needed after each round to store the rest, beyond what a writer that keeps up needs.
    backlog = sum(max(0.0, drain - CATCH_UP_SECONDS) for drain in servers["drains"])
    accepted_per_s = ours["per_s"]
    ours["per_s"] = ours["ok"] / (servers["totals"]["ours"]["seconds"] + backlog)
    visible = servers["visible"]
    print(
        f"Tracking on {engine}: {options.connections} connections, {servers['rounds']} rounds of "
        f"{servers['round_seconds']:.1f} s a server, granian {options.workers} worker(s) × "
        f"{options.threads} threads, {os.cpu_count()} cores, 1 page view a hit "
        f"({options.pixel_share:.0%} by the pixel)"
    )
    print(f"{'':40}{'hits/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'failed':>7}{'ours ÷':>7}", end="")
    print(f"{'CPU ms per 1,000: server':>26}{'database':>9}{'client':>7}")
    for label, item in (
        ("ours (kizuna.wsgi: collector + spool)", ours),
        ("limit (bare WSGI, COPY every 500)", limit),
        ("peer (Django view, one INSERT a hit)", peer),
    ):
        database = f"{item['database_cpu_ms']:.0f}" if engine == "PostgreSQL" else "-"
        print(
            f"{label:40}{item['per_s']:>8,.0f}{item['p50_ms']:>8.2f}{item['p99_ms']:>8.2f}"
            f"{item['failed']:>7}{ours['per_s'] / item['per_s']:>7.2f}"
            f"{item['server_cpu_ms']:>26.0f}{database:>9}{item['client_cpu_ms']:>7.0f}"
        )
    print(
        "CPU per 1,000 events: the server's processes (ours: its writer's catch-up included), "
        "PostgreSQL's backends and WAL writers (SQLite: inside the server), this load generator"
    )
    print(
        f"ours: {ours['ok']:,} events accepted ({accepted_per_s:,.0f}/s under load), "
        f"{servers['stored']:,} stored; its writer needed up to {max(servers['drains']):.2f} s "
        f"after a round to catch up (hits/s above counts what went past {CATCH_UP_SECONDS} s)"
    )
    print(
        f"ours' log: {servers['log']['errors']} errors ({servers['log']['deadlocks']} deadlocks, "
        f"{servers['log']['unreadable']} unreadable spool lines); limit table: "
        f"{servers['limit_rows']:,} rows (up to {LIMIT_GROUP} a worker still in memory)"
    )
    print(
        f"visible in tracking_event after sending ({len(visible)} marked events during the "
        f"load): p50 {_percentile(visible, 0.5) * 1000:.0f} ms, p95 "
        f"{_percentile(visible, 0.95) * 1000:.0f} ms, max {max(visible) * 1000:.0f} ms"
    )
    identify_p99 = max(item["p99_ms"] for item in identify["sizes"].values())
    print(
        "identify_visitor p50 / p99: "
        + ", ".join(
            f"{int(events):,} earlier events {item['p50_ms']:.2f} / {item['p99_ms']:.2f} ms"
            for events, item in identify["sizes"].items()
        )
    )
    print(
        f"fold of {identify['fold_events']:,} earlier events onto the contact (background task): "
        f"{identify['fold_s']:.2f} s"
    )
    ratio = size["newest_ms"] / size["pk_page_ms"]
    print(
        f"newest 50 of a contact with {size['contact_events']:,} of {size['events']:,} events "
        f"(filled in {size['fill_s']:.0f} s): {size['newest_ms']:.2f} ms (p95 "
        f"{size['newest_p95_ms']:.2f}); a primary-key page of 50: {size['pk_page_ms']:.2f} ms; "
        f"ratio {ratio:.1f}"
    )
    print(
        f"  the same 50 by of_contact() in one query (its OR defeats the indexes): "
        f"{size['one_query_ms']:.2f} ms; plan of the contact's own half:"
    )
    print("    " + "\n    ".join(size["plan"].splitlines()[:12]))
    if ours["failed"] or servers["stored"] < ours["ok"]:
        print("WARNING: ours refused or lost events (see above)")
    print(
        json.dumps(
            {
                "collect_per_s": round(ours["per_s"]),
                "limit_per_s": round(limit["per_s"]),
                "ratio_limit": round(ours["per_s"] / limit["per_s"], 3),
                "peer_per_s": round(peer["per_s"]),
                "ratio_peer": round(ours["per_s"] / peer["per_s"], 1),
                "p99_ms": round(ours["p99_ms"], 2),
                "visible_p95_ms": round(_percentile(visible, 0.95) * 1000, 1),
                "identify_p99_ms": round(identify_p99, 3),
                "accepted_per_s": round(accepted_per_s),
                "p50_ms": round(ours["p50_ms"], 2),
                "limit_p99_ms": round(limit["p99_ms"], 2),
                "peer_p99_ms": round(peer["p99_ms"], 2),
                "fold_s": round(identify["fold_s"], 3),
                "events_held": size["events"],
                "newest50_ms": round(size["newest_ms"], 3),
                "pk_page_ms": round(size["pk_page_ms"], 3),
                "newest50_ratio": round(ratio, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
