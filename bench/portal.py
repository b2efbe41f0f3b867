"""Benchmark: a logged-in member's My Page against the limit (issue 6).

    python -m bench.portal [--seconds 15] [--round-seconds 2.5] [--connections 32]
        [--workers 2] [--threads 4] [--events 20000] [--records 300] [--consents 30]
        [--members 2000] [--other-events 200000] [--database kizuna_bench_portal]

One run, on loopback, on a freshly migrated bench database (never the developer's data;
PostgreSQL when DATABASE_URL points at one, else a temporary SQLite file) holding --members
members with their logins and --other-events events, and the member under test: a contact with
a company, tags, member-visible custom fields of every kind, --events events, --records records,
--consents consent records and notes, a tier, a verified login.

One server - kizuna.wsgi as in production, under granian, with bench.portal_urls as ROOT_URLCONF
(the product's URLs plus the limit, mounted only here) - and a load generator in this process
(bench.tracking's: raw keep-alive HTTP/1.1 on asyncio, --connections connections) alternate in
short rounds between:
1. My Page: GET /mypage/ with the member's session cookie (a real session, made by Django's
   login in the setup process);
2. the limit: GET /bench/limit/ from the same server - the same middleware and site layout, a
   template rendered to exactly the byte size of that My Page - without touching the database.
Before the load, the queries of one My Page render are counted (CaptureQueriesContext) for a
member with nothing and for the member under test: a fixed number whatever the member has, or
the panels have an N+1 (the run says so). Prints a table; the last line is one JSON object.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import tracking
from bench.benchdb import bench_database_url, setup_django

REPOSITORY = Path(__file__).resolve().parent.parent
LIMIT_PATH = "/bench/limit/"
MEMBER_EMAIL = "portal.member@example.jp"
LITTLE_EMAIL = "portal.little@example.jp"
# key, label (ja), label (en), type, choices [(value, ja, en)], the member's value, visible
FIELDS = [
    ("rank", "会員ランク", "Member rank", "choice",
     [("gold", "ゴールド", "Gold"), ("silver", "シルバー", "Silver")], "gold", True),
    ("interests", "興味のある製品", "Products of interest", "multi_choice",
     [("fridge", "冷蔵庫", "Fridge"), ("tv", "テレビ", "TV"), ("aircon", "エアコン", "Aircon")],
     ["fridge", "aircon"], True),
    ("newsletter", "ニュースレター希望", "Newsletter", "boolean", [], True, True),
    ("birthday", "誕生日", "Birthday", "date", [], "1985-04-12", True),
    ("points", "保有ポイント", "Points", "number", [], 12500, True),
    ("deposit", "預り金", "Deposit", "decimal", [], "15000.50", True),
    ("last_visit", "最終来店", "Last visit", "datetime", [], "2026-10-03T14:20:00+09:00", True),
    ("store", "よく行く店舗", "Favourite store", "text", [], "新宿店", True),
    ("homepage", "ホームページ", "Home page", "url", [], "https://example.jp/hanako", True),
    ("mobile", "携帯電話", "Mobile", "phone", [], "090-1234-5678", True),
    ("sub_email", "サブメール", "Second email", "email", [], "hanako@example.ne.jp", True),
    ("about", "自己紹介", "About me", "textarea", [], "家電が好きです。" * 8, True),
    ("memo", "備考", "Notes", "textarea", [], "平日午前は不在。", False),
    ("budget", "年間予算", "Annual budget", "decimal", [], "3000000", False),
]  # fmt: skip


# --- The bench database (the setup child process) ----------------------------------------------


def child_setup(arguments: dict) -> dict:
    """Empty and migrate the bench database, fill it, count one My Page render's queries, and
    log the member in: the session cookie for the load."""
    from django.core.management import call_command  # noqa: PLC0415 - Django is set up now
    from django.db import connection  # noqa: PLC0415

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)
    # As in production, DEBUG off: the pages link the hashed static files of the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    held = fill(arguments)
    fill_seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # autovacuum would, soon after such a load
            cursor.execute("VACUUM ANALYZE")
    little, large = count_queries()
    return {
        "vendor": connection.vendor,
        "fill_s": fill_seconds,
        "held": held,
        "little": little,
        "large": large,
        "limit_queries": count_limit_queries(),
        "session_cookie": session_cookie(MEMBER_EMAIL),
    }


def fill(arguments: dict) -> dict:
    import datetime  # noqa: PLC0415

    from allauth.account.models import EmailAddress  # noqa: PLC0415
    from django.contrib.auth.hashers import make_password  # noqa: PLC0415
    from django.db import connection, transaction  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    from kizuna.accounts.models import User  # noqa: PLC0415
    from kizuna.crm.models import (  # noqa: PLC0415
        Company,
        ConsentMethod,
        ConsentRecord,
        Contact,
        FieldDefinition,
        FieldTarget,
        Lifecycle,
        Note,
        Record,
        RecordType,
        Tag,
    )
    from kizuna.members.models import Member, MemberState, Tier  # noqa: PLC0415

    now = timezone.now()
    password = make_password("bench-portal-2026")  # one hash for every login: fast to fill
    with transaction.atomic():
        tiers = [
            Tier.objects.create(slug=slug, name_ja=ja, name_en=en, position=number, **extra)
            for number, (slug, ja, en, extra) in enumerate(
                [
                    ("free", "無料会員", "Free", {"is_default": True}),
                    ("paid", "有料会員", "Paid", {}),
                    ("gold", "ゴールド会員", "Gold", {"description": "送料無料・優先サポート"}),
                ]
            )
        ]
        for order, (key, ja, en, kind, choices, _value, visible) in enumerate(FIELDS):
            FieldDefinition.objects.create(
                target=FieldTarget.CONTACT,
                key=key,
                label_ja=ja,
                label_en=en,
                type=kind,
                order=order,
                choices=[{"value": v, "ja": cja, "en": cen} for v, cja, cen in choices],
                member_visible=visible,
            )
        # The other members: contacts with logins, in every tier.
        count = arguments["members"]
        users = User.objects.bulk_create(
            User(email=f"member{n}@example.jp", name=f"会員 {n}", password=password)
            for n in range(count)
        )
        contacts = Contact.objects.bulk_create(
            Contact(
                email=f"member{n}@example.jp",
                family_name="会員",
                given_name=str(n),
                lifecycle=Lifecycle.MEMBER,
                user=users[n],
                custom={"rank": "silver", "points": n},
            )
            for n in range(count)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users
        )
        Member.objects.bulk_create(
            Member(contact=contact, user=user, state=MemberState.ACTIVE, tier=tiers[n % 3])
            for n, (contact, user) in enumerate(zip(contacts, users, strict=True))
        )
        first = contacts[0].pk if contacts else 0
        columns = (
            f"'o' || n, 'page_view', {_moment('n', connection.vendor)}, "
            f"CASE WHEN n % 3 = 0 AND {count} > 0 THEN {first} + n % {max(count, 1)} END, "
            "'bench-v' || (n % 50000), '', 'www.example.jp', '/products/' || (n % 500), '', "
            "NULL, 'Chrome', 'Windows', 'desktop', false, '{}'"
        )
        tracking.insert_events(arguments["other_events"], columns)

        # The member under test, with a lot of everything.
        company = Company.objects.create(name="株式会社さくら商事", domain="sakura.example.co.jp")
        user = User.objects.create(email=MEMBER_EMAIL, name="山田 花子", password=password)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        contact = Contact(
            email=MEMBER_EMAIL,
            family_name="山田",
            given_name="花子",
            family_name_kana="ヤマダ",
            given_name_kana="ハナコ",
            phone="03-1234-5678",
            postal_code="160-0022",
            prefecture="東京都",
            city="新宿区",
            address="新宿3-1-1",
            company=company,
            lifecycle=Lifecycle.MEMBER,
            user=user,
            custom={key: value for key, _ja, _en, _kind, _choices, value, _visible in FIELDS},
        )
        contact.normalize()
        contact.save()
        contact.tags.add(*(Tag.objects.create(name=f"タグ{n}") for n in range(8)))
        Member.objects.create(
            contact=contact,
            user=user,
            state=MemberState.ACTIVE,
            tier=tiers[2],
            registered_at=now - datetime.timedelta(days=900),
            verified_at=now - datetime.timedelta(days=900),
        )
        columns = (
            f"'m' || n, CASE WHEN n % 20 = 0 THEN 'login' ELSE 'page_view' END, "
            f"{_moment('n * 60', connection.vendor)}, {contact.pk}, 'bench-member-visitor', '', "
            "'www.example.jp', '/products/' || (n % 500), '', NULL, 'Chrome', 'Windows', "
            "'desktop', false, '{}'"
        )
        tracking.insert_events(arguments["events"], columns)
        purchase = RecordType.objects.create(key="purchase", name_ja="購入", name_en="Purchase")
        Record.objects.bulk_create(
            Record(
                record_type=purchase,
                contact=contact,
                company=company,
                occurred_at=now - datetime.timedelta(days=n),
                custom={"product": "冷蔵庫", "amount": 128000},
            )
            for n in range(arguments["records"])
        )
        ConsentRecord.objects.bulk_create(
            ConsentRecord(
                contact=contact,
                opted_in=n % 2 == 0,
                method=ConsentMethod.FORM,
                wording="お知らせをメールで受け取ります。",
                recorded_at=now - datetime.timedelta(days=10 * n),
            )
            for n in range(arguments["consents"])
        )
        Note.objects.bulk_create(
            Note(contact=contact, body=f"電話で問い合わせあり ({n})") for n in range(50)
        )

        # A member with nothing: no company, tier, custom values, events or records.
        user = User.objects.create(email=LITTLE_EMAIL, name="少 一郎", password=password)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        contact = Contact.objects.create(
            email=LITTLE_EMAIL, family_name="少", given_name="一郎", user=user
        )
        Member.objects.create(contact=contact, user=user, state=MemberState.ACTIVE)
    from kizuna.tracking.models import Event  # noqa: PLC0415

    member = Contact.objects.get(email=MEMBER_EMAIL)
    return {
        "members": Member.objects.count(),
        "events": Event.objects.count(),
        "member_events": Event.objects.filter(contact=member).count(),
        "member_records": member.records.count(),
        "member_consents": member.consents.count(),
        "member_notes": member.notes.count(),
        "member_tags": member.tags.count(),
        "member_fields": sum(1 for field in FIELDS if field[6]),
    }


def _moment(seconds: str, vendor: str) -> str:
    """An SQL timestamp `seconds` after 2026-01-01 (UTC), in the column's stored form."""
    if vendor == "postgresql":
        return f"TIMESTAMPTZ '2026-01-01 00:00:00+00' + {seconds} * INTERVAL '1 second'"
    return f"datetime('2026-01-01 00:00:00', '+' || ({seconds}) || ' seconds')"


def _client():
    from django.test import Client  # noqa: PLC0415

    return Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ja")


def count_queries() -> tuple[dict, dict]:
    """The queries of one My Page render (the second: caches warm) for the member with nothing
    and for the member under test."""
    from django.conf import settings  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    from kizuna.accounts.models import User  # noqa: PLC0415

    settings.ROOT_URLCONF = "bench.portal_urls"
    counted = []
    for email in (LITTLE_EMAIL, MEMBER_EMAIL):
        client = _client()
        client.force_login(User.objects.get(email=email))
        client.get("/mypage/")
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/mypage/")
        if response.status_code != 200:
            raise SystemExit(f"My Page of {email}: {response.status_code}")
        counted.append(
            {
                "count": len(queries),
                "sql": [query["sql"] for query in queries.captured_queries],
                "bytes": len(response.content),
            }
        )
    return counted[0], counted[1]


def count_limit_queries() -> int:
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    client = _client()
    client.get(f"{LIMIT_PATH}?bytes=9000")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{LIMIT_PATH}?bytes=9000")
    if response.status_code != 200 or len(response.content) != 9000:
        raise SystemExit(f"the limit page: {response.status_code}, {len(response.content)} bytes")
    return len(queries)


def session_cookie(email: str) -> str:
    """The member logged in through Django's login (a session row, the auth hash of this
    SECRET_KEY): the cookie the load sends."""
    from django.conf import settings  # noqa: PLC0415

    from kizuna.accounts.models import User  # noqa: PLC0415

    client = _client()
    client.force_login(User.objects.get(email=email))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def run_child(kind: str, database_url: str, env: dict, arguments: dict) -> dict:
    command = [sys.executable, "-m", "bench.portal", "--child", kind]
    command += ["--database-url", database_url, "--child-arguments", json.dumps(arguments)]
    # Our own interpreter running this module: no outside input in the command line.
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, env=env, cwd=REPOSITORY
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- The server and the load ---------------------------------------------------------------------


def application():
    """granian --interface wsgi --factory bench.portal:application: the production WSGI
    application (kizuna.wsgi) with bench.portal_urls as ROOT_URLCONF."""
    import django  # noqa: PLC0415 - Django is set up here, in the server process
    from django.conf import settings  # noqa: PLC0415

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kizuna.settings")
    django.setup()
    settings.ROOT_URLCONF = "bench.portal_urls"
    if settings.DEBUG:  # production's configuration: cached template loaders, no debug tooling
        raise SystemExit("the bench server must run with KIZUNA_DEBUG off")
    from kizuna.wsgi import application as production  # noqa: PLC0415

    return production


def start_server(processes: tracking.Processes, env: dict, workers: int, threads: int) -> int:
    port = tracking.free_port()
    command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    command += ["--blocking-threads", str(threads), "--no-ws", "--log-level", "warning"]
    command += ["--factory", "bench.portal:application"]
    server = processes.start("server", command, env)
    deadline = time.monotonic() + 90
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped:\n{processes.log_tail('server')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return port
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the server is not up:\n{processes.log_tail('server')}") from None
            time.sleep(0.1)


def page_request(port: int, target: str, cookies: dict) -> bytes:
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {tracking.AGENTS[0]}\r\n"
        "Accept: text/html,application/xhtml+xml\r\nAccept-Language: ja,en;q=0.8\r\n"
        f"Cookie: {cookie}\r\n\r\n"
    ).encode()


def fetch(port: int, request: bytes) -> tuple[int, bytes, bytes]:
    """(status, head, body) of one request on a connection of its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                raise SystemExit(f"the server closed the connection: {data[:200]!r}")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if match is None:
            raise SystemExit(f"no Content-Length: {head[:500]!r}")
        while len(body) < int(match.group(1)):
            body += connection.recv(65536)
    return int(head[9:12]), head, body


def measure(options, env: dict, folder: Path, database_url: str, setup: dict) -> dict:
    names = ["mypage", "limit"]
    totals = {name: {"ok": 0, "failed": {}, "seconds": 0.0, "latencies": []} for name in names}
    for name in names:
        totals[name].update(server_cpu=0.0, client_cpu=0.0, database_cpu=0.0)
    rounds = max(2, round(options.seconds / options.round_seconds))
    each = options.seconds / rounds
    # The browser's other cookies, sent on both pages: a CSRF cookie (My Page's log-out form
    # needs one; with it, no new cookie is set) and a visitor id (no new visitor a request).
    cookies = {"csrftoken": uuid.uuid4().hex, "kizuna_vid": uuid.uuid4().hex}
    with tracking.Processes(folder) as processes:
        port = start_server(processes, env, options.workers, options.threads)
        member_cookies = {"sessionid": setup["session_cookie"], **cookies}
        mypage = page_request(port, "/mypage/", member_cookies)
        status, head, body = fetch(port, mypage)
        if status != 200 or "山田".encode() not in body:
            raise SystemExit(f"My Page did not show the member: {status} {head[:300]!r}")
        size = len(body)
        limit = page_request(port, f"{LIMIT_PATH}?bytes={size}", cookies)
        status, limit_head, limit_body = fetch(port, limit)
        if status != 200 or len(limit_body) != size:
            raise SystemExit(f"the limit page: {status}, {len(limit_body)} of {size} bytes")
        requests = {"mypage": [mypage], "limit": [limit]}
        for name in names:  # warm up: Django loaded in every thread, connections open
            warm = tracking.load(port, requests[name], options.connections, options.warmup)
            if warm["ok"] == 0:
                raise SystemExit(f"{name}: no request succeeded {warm['failed']}")
        for number in range(rounds):
            for name in names if number % 2 == 0 else names[::-1]:
                cpu = processes.cpu_seconds("server")
                database_cpu = tracking.database_cpu_seconds(database_url)
                figures = tracking.load(port, requests[name], options.connections, each)
                total = totals[name]
                total["server_cpu"] += processes.cpu_seconds("server") - cpu
                total["database_cpu"] += tracking.database_cpu_seconds(database_url) - database_cpu
                for key in ("ok", "seconds", "latencies", "client_cpu"):
                    total[key] += figures[key]
                for status, count in figures["failed"].items():
                    total["failed"][status] = total["failed"].get(status, 0) + count
        log = (folder / "server.log").read_text(errors="replace")
    return {
        "totals": totals,
        "rounds": rounds,
        "round_seconds": each,
        "bytes": size,
        # Django renews the CSRF cookie on every page with a form; any other cookie set again
        # would mean a session or visitor made anew each request.
        "cookies_set": [
            sorted(
                set(re.findall(r"(?im)^set-cookie:\s*([^=]+)=", h.decode("latin-1")))
                - {"csrftoken"}
            )
            for h in (head, limit_head)
        ],
        "errors": log.count('"level": "ERROR"') + log.count("Traceback"),
    }


# --- The report ------------------------------------------------------------------------------


def report(options, engine: str, setup: dict, servers: dict) -> None:
    figures = {name: tracking.summary(total) for name, total in servers["totals"].items()}
    mypage, limit = figures["mypage"], figures["limit"]
    held, little, large = setup["held"], setup["little"], setup["large"]
    print(
        f"My Page on {engine}: {options.connections} connections, {servers['rounds']} rounds of "
        f"{servers['round_seconds']:.1f} s a page, granian {options.workers} worker(s) × "
        f"{options.threads} threads, {os.cpu_count()} cores; both pages {servers['bytes']:,} bytes"
    )
    print(f"{'':48}{'pages/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'failed':>7}{'÷ limit':>8}", end="")
    print(f"{'CPU ms per 1,000: server':>26}{'database':>9}{'client':>7}")
    for label, item in (
        ("My Page (GET /mypage/, logged in)", mypage),
        ("limit (same server, template, no database)", limit),
    ):
        database = f"{item['database_cpu_ms']:.0f}" if engine == "PostgreSQL" else "-"
        print(
            f"{label:48}{item['per_s']:>8,.0f}{item['p50_ms']:>8.2f}{item['p99_ms']:>8.2f}"
            f"{item['failed']:>7}{mypage['per_s'] / item['per_s']:>8.2f}"
            f"{item['server_cpu_ms']:>26.0f}{database:>9}{item['client_cpu_ms']:>7.0f}"
        )
    print(
        f"the member: {held['member_events']:,} events, {held['member_records']:,} records, "
        f"{held['member_consents']} consent records, {held['member_notes']} notes, "
        f"{held['member_tags']} tags, {held['member_fields']} member-visible custom fields, a "
        f"company and a tier; the database: {held['members']:,} members, {held['events']:,} "
        f"events (filled in {setup['fill_s']:.1f} s)"
    )
    print(
        f"queries of one My Page render: {little['count']} for a member with nothing, "
        f"{large['count']} for the member above; the limit page: {setup['limit_queries']}"
    )
    for number, sql in enumerate(large["sql"], 1):
        print(f"  {number}. {sql[:150]}")
    if little["count"] != large["count"]:
        extra = [sql for sql in large["sql"] if sql not in little["sql"]]
        print(f"N+1: the member with more data costs {large['count'] - little['count']} more:")
        for sql in extra[:10]:
            print(f"  + {sql[:150]}")
    for name, cookies in zip(("My Page", "limit"), servers["cookies_set"], strict=True):
        if cookies:
            print(f"WARNING: {name} sets cookies on every request: {cookies}")
    if servers["errors"] or mypage["failed"] or limit["failed"]:
        print(f"WARNING: {servers['errors']} errors in the server's log; failed requests above")
    print(
        json.dumps(
            {
                "mypage_per_s": round(mypage["per_s"]),
                "limit_per_s": round(limit["per_s"]),
                "ratio": round(mypage["per_s"] / limit["per_s"], 3),
                "p99_ms": round(mypage["p99_ms"], 2),
                "queries": large["count"],
                "queries_little": little["count"],
                "limit_queries": setup["limit_queries"],
                "p50_ms": round(mypage["p50_ms"], 2),
                "limit_p99_ms": round(limit["p99_ms"], 2),
                "page_bytes": servers["bytes"],
                "member_events": held["member_events"],
            }
        )
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="of load for each page")
    parser.add_argument("--round-seconds", type=float, default=2.5, help="one round's length")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, each page")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes")
    parser.add_argument("--threads", type=int, default=4, help="granian threads a worker")
    parser.add_argument("--events", type=int, default=20_000, help="the member's events")
    parser.add_argument("--records", type=int, default=300, help="the member's records")
    parser.add_argument("--consents", type=int, default=30, help="the member's consent records")
    parser.add_argument("--members", type=int, default=2_000, help="other members")
    parser.add_argument("--other-events", type=int, default=200_000, help="other events")
    parser.add_argument(
        "--database",
        default="kizuna_bench_portal",
        help="PostgreSQL only: the bench database on DATABASE_URL's server (emptied!)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--child-arguments", default="{}", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        setup_django(options.database_url)
        print(json.dumps(child_setup(json.loads(options.child_arguments))))
        return
    folder = Path(tempfile.mkdtemp(prefix="kizuna-bench-portal-"))
    try:
        database_url, engine = bench_database_url(options.database, folder)
        env = tracking.bench_environment(database_url, folder)
        # The setup process writes its page views to a spool of its own, not the server's.
        setup_env = {**env, "KIZUNA_TRACKING_WRITER": "off"}
        setup_env["KIZUNA_TRACKING_SPOOL_DIR"] = str(folder / "setup-spool")
        arguments = {
            key: getattr(options, key)
            for key in ("events", "records", "consents", "members", "other_events")
        }
        setup = run_child("setup", database_url, setup_env, arguments)
        servers = measure(options, env, folder, database_url, setup)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(options, engine, setup, servers)


if __name__ == "__main__":
    main()
