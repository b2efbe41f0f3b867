"""Benchmark: segment filters - our compiled query against hand-written SQL and Mautic's loop.

    python -m bench.segments [--contacts 100000] [--events 2000000] [--records N] [--repeat 5]
        [--timeout 10] [--peer-seconds 5] [--matches 50] [--refresh-timeout 120]
        [--database kizuna_bench_segments] [--reuse]

Builds a deterministic dataset in a freshly migrated bench database (never the developer's data;
PostgreSQL when DATABASE_URL points at one, else a temporary SQLite file), written by the database
itself (INSERT … SELECT over generate_series / a recursive CTE, indexes built after the load):
contacts with the ten custom fields of bench.import_contacts, tags, "purchase" records (product,
amount), visitors (one per contact, a fifth more anonymous) and events over a year - page views
with ?utm_ parameters, form posts with a product, email sends / opens / clicks with a campaign,
some made by machines, 1 in 10 web events anonymous and 3 in 100 not yet folded onto their
contact (found through the visitor, as SEGMENTS.md asks).

Then, for every filter of SUITE, in interleaved rounds (medians of --repeat):
1. ours: Contact.objects.filter(compile_filter(f, now=NOW)) - .count() and the id list (the
   compile, with its look-ups of field definitions, record types and segments, included);
2. the limit: the fastest hand-written SQL we could write for the same question on the same
   tables (HandSQL) - its ids must be exactly ours, or the run says MISMATCH and fails;
3. the peer: Mautic's segment build (ContactSegmentService / ListModel::rebuildListLeads): a
   count of new members, then batches of 300 "contacts matching the filter, with id <= the
   counted maximum, NOT EXISTS in lead_lists_leads" inserted one batch at a time until none is
   left. The filter part is our compiled SQL (Mautic's is the same kind of per-contact
   sub-query). A build longer than --peer-seconds is stopped: its time is a lower bound, and
   its estimated whole time (labelled "~") is the count's time plus the batches' time so far
   scaled to all the batches its count asked for - itself low, as each later batch skips more
   listed contacts. No estimate where the count alone ran out of time.
Also: matches() for one contact (--matches contacts a filter), refresh_all of the suite saved as
segments (from empty, then again with nothing changed), and refresh_segment of "loyal-customers"
after one new form post.

Prints a table; the last line is one JSON object with the figures. The database is kept (the
next run empties it); --reuse skips the load when it already holds the same dataset.
"""

import argparse
import contextlib
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.benchdb import bench_database_url, setup_django
from bench.import_contacts import CUSTOM_FIELDS, OWNERS

REPOSITORY = Path(__file__).resolve().parent.parent
# "Now" for every relative condition: 2026-11-22 09:00 in Tokyo.
NOW = datetime.datetime(2026, 11, 22, 0, 0, tzinfo=datetime.UTC)
DATASET_VERSION = 1
PEER_BATCH = 300  # mautic:segments:update --batch-limit default
PRODUCTS = ["冷蔵庫", "洗濯機", "テレビ", "エアコン", "掃除機"]
TAGS = [
    ("VIP", 5),
    ("展示会2026", 20),
    ("資料請求", 30),
    ("休眠", 15),
    ("メルマガ", 50),
]  # % of contacts
CAMPAIGNS = ["spring-sale", "summer-sale", "autumn-news", "winter-sale", "newsletter-10", "news-11"]

# --- The suite: one filter per condition kind, and combinations ---------------------------------

LOYAL = {
    "any": [
        {"event": "form_submit", "within_days": 30, "min_count": 2},
        {"event": "form_submit", "within_days": 365, "distinct": "product", "min_count": 2},
    ]
}
SUITE = [
    # (name - also the saved segment's slug with "-", what it asks, the filter)
    ("new", "built-in date: created in the last 7 days (predefined)",
     {"field": "created_at", "op": "within_last_days", "value": 7}),
    ("slipping_away", "built-in date: last seen more than 30 days ago (predefined)",
     {"field": "last_seen_at", "op": "more_than_days_ago", "value": 30}),
    ("text_field", "custom textarea contains",
     {"field": "memo", "op": "contains", "value": "展示会"}),
    ("custom_choice", "custom choice in a list",
     {"field": "industry", "op": "in", "value": ["製造", "IT"]}),
    ("custom_date", "custom date in the next 30 days",
     {"field": "contract_end", "op": "within_next_days", "value": 30}),
    ("tag", "has a tag", {"tag": "VIP"}),
    ("not_tag", "has not a tag", {"not": {"tag": "休眠"}}),
    ("event_param", "page view with URL text and ?utm_source=mail in 30 days",
     {"event": "page_view", "url_contains": "/products/1", "param": {"utm_source": "mail"},
      "within_days": 30}),
    ("event_ip_count", "3+ page views from a /24 in 30 days",
     {"event": "page_view", "ip": "203.0.113.0/24", "within_days": 30, "min_count": 3}),
    ("email_not_opened", "did not open an email in 30 days",
     {"event": "email_open", "within_days": 30, "min_count": 0, "max_count": 0}),
    ("loyal_customers", "2+ inquiries in 30 days or on 2+ products in 365 (predefined)", LOYAL),
    ("record_sum", "bought 冷蔵庫 for 200,000 or more in a year",
     {"record": "purchase", "where": {"field": "product", "op": "eq", "value": "冷蔵庫"},
      "within_days": 365, "sum": {"field": "amount", "op": "gte", "value": 200000}}),
    ("nested", "all / any / not: (東京 or gold) and not 休眠 and (clicked or no purchase)",
     {"all": [
         {"any": [{"field": "prefecture", "op": "eq", "value": "東京都"},
                  {"field": "rank", "op": "eq", "value": "ゴールド"}]},
         {"not": {"tag": "休眠"}},
         {"any": [{"event": "email_click", "campaign": "spring-sale", "within_days": 90},
                  {"not": {"record": "purchase", "within_days": 180}}]},
     ]}),
    ("segment_ref", "in loyal-customers and opted in to email",
     {"all": [{"segment": "loyal-customers"}, {"field": "email_opt_in", "op": "eq", "value": True}]}),  # noqa: E501
]  # fmt: skip
PREDEFINED = {"new", "slipping_away", "loyal_customers"}


def slug(name: str) -> str:
    return name.replace("_", "-")


# --- The dataset, generated by the database itself ------------------------------------------------
#
# Every value comes from u(n, k): a hash of the row number, the same integer arithmetic on both
# databases (all intermediate values stay below 2**63), so SQLite and PostgreSQL hold the same rows.

_MULTIPLIERS = [16807, 48271, 69621, 630360016, 742938285, 950706376, 1226874159, 62089911,
                1343714438, 397204094]  # fmt: skip
HASHES = [
    (a, 7919 * (i + 1), (a * 31 + 12345) % (1 << 30), 104729 * (i + 1))
    for i, a in enumerate(_MULTIPLIERS)
]


def u(n: str, k: int) -> str:
    """SQL: a pseudo-random integer in [0, 2147483629) from the integer expression `n`."""
    a, b, c, d = HASHES[k]
    x = f"((({n}) * {a} + {b}) % 2147483647)"
    return f"(({x} * ({x} + {c}) + {d}) % 2147483629)"


def pick(expression: str, values: list[str]) -> str:
    """SQL: values[expression % len(values)] as a text literal."""
    cases = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"(CASE ({expression}) % {len(values)} {cases} END)"


class Dialect:
    """The few SQL spellings that differ between PostgreSQL and SQLite."""

    def __init__(self, vendor: str):
        self.vendor = vendor
        self.pg = vendor == "postgresql"

    def series(self, first: int, last: int, columns: str) -> str:
        """FROM clause: rows n = first..last with `columns` (SQL over n) computed once."""
        if self.pg:
            return (
                f"(SELECT n, {columns} FROM generate_series({first}::bigint, {last}::bigint) "  # noqa: S608 - generated constants
                "AS n OFFSET 0) AS s"
            )
        return (
            f"(WITH RECURSIVE r(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM r "  # noqa: S608 - generated constants
            f"WHERE n < {last}) SELECT n, {columns} FROM r) AS s"
        )

    def ago(self, seconds: str) -> str:
        """A timestamp `seconds` before NOW, in the column's stored form."""
        if self.pg:
            return f"(TIMESTAMPTZ '{NOW:%Y-%m-%d %H:%M:%S}+00' - ({seconds}) * INTERVAL '1 second')"
        return f"datetime('{NOW:%Y-%m-%d %H:%M:%S}', '-' || ({seconds}) || ' seconds')"

    def iso_utc(self, timestamp: str) -> str:
        """A custom datetime value: ISO 8601 in UTC (crm/fields.py)."""
        if self.pg:
            return f"to_char({timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"
        return f"strftime('%Y-%m-%dT%H:%M:%S+00:00', {timestamp})"

    def day(self, offset_days: str) -> str:
        """A custom date value: YYYY-MM-DD, `offset_days` from today."""
        if self.pg:
            return f"to_char(DATE '{NOW:%Y-%m-%d}' + ({offset_days})::int, 'YYYY-MM-DD')"
        return f"date('{NOW:%Y-%m-%d}', ({offset_days}) || ' days')"

    def json(self, text: str) -> str:
        return f"CAST({text} AS jsonb)" if self.pg else f"json({text})"

    def inet(self, text: str) -> str:
        return f"CAST({text} AS inet)" if self.pg else text

    def literal_time(self, moment: datetime.datetime) -> str:
        utc = moment.astimezone(datetime.UTC)
        if self.pg:
            return f"TIMESTAMPTZ '{utc:%Y-%m-%d %H:%M:%S}+00'"
        return f"'{utc:%Y-%m-%d %H:%M:%S}'"

    def found(self, haystack: str, needle: str) -> str:
        """Case-sensitive "haystack contains needle"."""
        function = "strpos" if self.pg else "instr"
        return f"{function}({haystack}, '{needle}') > 0"

    def ends(self, haystack: str, needle: str) -> str:
        """Case-sensitive "haystack ends with needle"."""
        if self.pg:
            return f"right({haystack}, {len(needle)}) = '{needle}'"
        return f"substr({haystack}, -{len(needle)}) = '{needle}'"


def contact_columns(sql: Dialect, contacts: int, owner_ids: list[int]) -> tuple[str, str]:
    """(column list, SELECT list over s.n, s.c0..s.c5) of crm_contact."""
    families = [("田中", "タナカ"), ("鈴木", "スズキ"), ("佐藤", "サトウ"), ("高橋", "タカハシ"),
                ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),  # noqa: E501
                ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"), ("山田", "ヤマダ")]  # fmt: skip  # noqa: E501
    givens = [("太郎", "タロウ"), ("花子", "ハナコ"), ("健太", "ケンタ"), ("美咲", "ミサキ"),
              ("翔", "ショウ"), ("陽菜", "ヒナ"), ("大輔", "ダイスケ"), ("さくら", "サクラ")]  # fmt: skip  # noqa: E501
    places = [("150-0001", "東京都", "渋谷区"), ("100-0005", "東京都", "千代田区"),
              ("160-0022", "東京都", "新宿区"), ("530-0001", "大阪府", "大阪市北区"),
              ("542-0081", "大阪府", "大阪市中央区"), ("460-0008", "愛知県", "名古屋市中区"),
              ("810-0001", "福岡県", "福岡市中央区"), ("060-0001", "北海道", "札幌市中央区"),
              ("980-0021", "宮城県", "仙台市青葉区"), ("220-0011", "神奈川県", "横浜市西区")]  # fmt: skip  # noqa: E501
    family, given, place = "s.c0 % 12", "(s.c0 / 12) % 8", "(s.c0 / 96) % 10"
    created = sql.ago("1 + s.c1 % 63072000")  # in the last two years
    last_seen = f"CASE WHEN (s.c3 / 100) % 10 = 0 THEN NULL ELSE {sql.ago('s.c3 % 17280000')} END"
    owner = "CASE (s.c2 / 7) % 4 " + " ".join(
        f"WHEN {i} THEN {pk}" for i, pk in enumerate(owner_ids)
    )
    owner += " ELSE NULL END"
    industries = CUSTOM_FIELDS[0][3]
    interests = CUSTOM_FIELDS[6][3]
    interest_sets = [[interests[0]], [interests[1]], [interests[2]], [interests[3]],
                     [interests[0], interests[2]], [interests[1], interests[3]],
                     [interests[0], interests[1], interests[3]]]  # fmt: skip
    ranks = CUSTOM_FIELDS[9][3]
    custom = " || ".join(
        [
            "'{\"website\":\"https://example' || (s.n % 97) || '.jp/\"'",
            # industry: 1 in 7 without
            f"CASE WHEN (s.c4 / 7) % 7 = 6 THEN '' ELSE ',\"industry\":\"' || "
            f"{pick('(s.c4 / 7) % 7', industries)} || '\"' END",
            "',\"budget\":\"' || (s.c2 % 5000000) || '.' || (10 + s.c3 % 90) || '\"'",
            "CASE WHEN s.c4 % 20 = 0 THEN '' ELSE ',\"employees\":' || (1 + s.c5 % 5000) END",
            '\',"contract_end":"\' || ' + sql.day("s.c4 % 730 - 365") + " || '\"'",
            '\',"last_contact":"\' || ' + sql.iso_utc(sql.ago("s.c5 % 31536000")) + " || '\"'",
            "',\"newsletter\":' || CASE WHEN (s.c5 / 3) % 2 = 0 THEN 'true' ELSE 'false' END",
            "',\"interests\":' || CASE (s.c2 / 11) % 7 "
            + " ".join(
                f"WHEN {i} THEN '{json.dumps(v, ensure_ascii=False)}'"
                for i, v in enumerate(interest_sets)
            )
            + " END",
            # memo: 2 in 10 met at a trade show, 1 in 10 something else, the rest without
            'CASE (s.c5 / 17) % 10 WHEN 0 THEN \',"memo":"展示会で名刺交換。\\n後日電話予定。"\' '
            'WHEN 1 THEN \',"memo":"2026展示会ブースに来訪"\' '
            "WHEN 2 THEN ',\"memo\":\"資料請求あり\"' ELSE '' END",
            # rank: 3 in 10 without
            f"CASE WHEN (s.c3 / 13) % 10 < 3 THEN '' ELSE ',\"rank\":\"' || "
            f"{pick('(s.c3 / 13) % 10', ranks)} || '\"' END",
            "'}'",
        ]
    )
    columns = {
        "id": "s.n",
        "email": "'user' || s.n || '@example.jp'",
        "family_name": pick(family, [f for f, _ in families]),
        "given_name": pick(given, [g for g, _ in givens]),
        "family_name_kana": pick(family, [k for _, k in families]),
        "given_name_kana": pick(given, [k for _, k in givens]),
        "phone": "'0' || (10 + s.c2 % 89) || '-' || (1000 + (s.c2 / 89) % 9000) || '-' || "
        "(1000 + s.c3 % 9000)",
        "postal_code": pick(place, [p for p, _, _ in places]),
        "prefecture": pick(place, [p for _, p, _ in places]),
        "city": pick(place, [c for _, _, c in places]),
        "address": "(1 + s.c2 % 29) || '-' || (1 + s.c3 % 19)",
        "owner_id": owner,
        "company_id": "NULL",
        "user_id": "NULL",
        "lifecycle": "CASE WHEN (s.c2 / 31) % 10 = 0 THEN 'visitor' "
        "WHEN (s.c2 / 31) % 10 < 7 THEN 'lead' ELSE 'member' END",
        "source": pick("(s.c3 / 7) % 4", ["web", "import", "event", "ad"]),
        "external_id": "''",
        "email_opt_in": "CASE WHEN (s.c3 / 11) % 10 < 6 THEN TRUE ELSE FALSE END",
        "first_seen_at": created,
        "last_seen_at": last_seen,
        "sessions": "s.c2 % 50",
        "custom": sql.json(custom),
        "search_text": "''",
        "search_pairs": "''",
        "created_at": created,
        "updated_at": sql.ago("0"),
    }
    return ", ".join(columns), ", ".join(columns.values())


def event_columns(sql: Dialect, contacts: int) -> tuple[str, str]:
    """(column list, SELECT list over s.n, s.c0..s.c6) of tracking_event."""
    k = "s.c0 % 100"  # the type
    web = f"({k} < 60 OR {k} >= 83)"
    email = f"({k} >= 60 AND {k} < 83)"
    anonymous = f"({web} AND (s.c1 / 7) % 10 = 0)"  # 1 in 10 web events
    unfolded = f"({web} AND (s.c1 / 7) % 100 IN (1, 2, 3))"  # 3 in 100: not yet folded
    anonymous_visitors = max(1, contacts // 5)
    # Skewed: a few contacts have many events, most a few (product of two uniform draws).
    contact = f"(1 + (s.c2 % {contacts}) * (s.c3 % {contacts}) / {contacts})"
    campaign = pick("(s.c5 / 7) % 6", CAMPAIGNS)
    page = (
        "CASE WHEN (s.c5 / 1000) % 4 = 0 THEN '/blog/' || (s.c5 % 50) ELSE '/products/' || "
        "(s.c5 % 200) || "
        + pick(
            "(s.c5 / 200) % 5",
            [
                "?utm_source=mail&utm_campaign=autumn",
                "?utm_source=google&utm_medium=cpc",
                "?ref=top&utm_source=mail",
                "",
                "?utm_source=mailmagazine",
            ],
        )  # fmt: skip
        + " END"
    )
    kinds = [
        (60, "page_view", page, "'{}'"),
        (68, "email_sent", "''", "'{\"campaign\":\"' || " + campaign + " || '\"}'"),
        (78, "email_open", "''", "'{\"campaign\":\"' || " + campaign + " || '\"}'"),
        (83, "email_click",
         f"CASE WHEN s.c5 % 2 = 0 THEN '/coupon?c=' || {campaign} ELSE '/products/' || "
         f"(s.c5 % 200) || '?utm_source=mail&utm_campaign=' || {campaign} END",
         "'{\"campaign\":\"' || " + campaign + " || '\"}'"),
        (86, "form_submit", "'/forms/inquiry'",
         "'{\"form\":\"' || CASE WHEN (s.c5 / 3) % 5 = 0 THEN 'catalog' ELSE 'inquiry' END || "
         "'\",\"product\":\"' || " + pick("s.c5 % 5", PRODUCTS) + " || '\"}'"),
        (94, "login", "'/accounts/login/'", "'{}'"),
        (97, "file_download", "'/files/catalog.pdf'", "'{\"file\":\"catalog.pdf\"}'"),
        (100, "video_progress", "'/videos/intro'", "'{\"percent\":50}'"),
    ]  # fmt: skip

    def by_kind(position: int) -> str:
        def value(kind):
            return f"'{kind[1]}'" if position == 1 else kind[position]

        whens = " ".join(f"WHEN {k} < {kind[0]} THEN {value(kind)}" for kind in kinds[:-1])
        return f"CASE {whens} ELSE {value(kinds[-1])} END"

    machine = (
        f"CASE WHEN {k} < 60 AND s.c6 % 100 < 2 THEN TRUE "
        f"WHEN {k} >= 68 AND {k} < 78 AND s.c6 % 100 < 20 THEN TRUE "
        f"WHEN {k} >= 78 AND {k} < 83 AND s.c6 % 100 < 5 THEN TRUE ELSE FALSE END"
    )
    ip = sql.inet(
        f"{pick('(s.c6 / 100) % 3', ['203.0.113.', '198.51.100.', '192.0.2.'])} || "
        "((s.c6 / 300) % 256)"
    )
    columns = {
        "event_id": "'b' || s.n",
        "type": by_kind(1),
        "occurred_at": sql.ago("1 + s.c4 % 31535999"),
        "contact_id": f"CASE WHEN {anonymous} OR {unfolded} THEN NULL ELSE {contact} END",
        "visitor_id": f"CASE WHEN {email} THEN NULL WHEN {anonymous} THEN 'v' || "
        f"({contacts} + 1 + s.c3 % {anonymous_visitors}) ELSE 'v' || {contact} END",
        "session": "''",
        "host": "'www.example.jp'",
        "url": by_kind(2),
        "referrer": "''",
        "ip": f"CASE WHEN {email} THEN NULL ELSE {ip} END",
        "browser": "'Chrome'",
        "os": "'Windows'",
        "device_type": pick("(s.c6 / 77) % 3", ["desktop", "mobile", "tablet"]),
        "is_machine": machine,
        "props": sql.json(by_kind(3)),
    }
    return ", ".join(columns), ", ".join(columns.values())


def record_columns(sql: Dialect, contacts: int, purchase_id: int) -> tuple[str, str]:
    contact = f"(1 + (s.c1 % {contacts}) * (s.c2 % {contacts}) / {contacts})"
    custom = (
        '\'{"product":"\' || ' + pick("s.c3 % 5", PRODUCTS) + ' || \'","amount":\' || '
        "(1000 * (1 + (s.c3 / 5) % 300)) || '}'"
    )
    columns = {
        "record_type_id": str(purchase_id),
        "contact_id": contact,
        "company_id": "NULL",
        "occurred_at": sql.ago("1 + s.c4 % 63072000"),
        "custom": sql.json(custom),
        "created_by_id": "NULL",
        "created_at": sql.ago("0"),
        "updated_at": sql.ago("0"),
    }
    return ", ".join(columns), ", ".join(columns.values())


def insert_rows(
    table: str, rows: int, columns: tuple[str, str], hashes: int, seed: int = 0, where: str = ""
) -> None:
    """INSERT INTO table SELECT … for n = 1..rows (those meeting `where`), in chunks of a
    million; s.c0 … s.c{hashes - 1} are u(n + seed, k)."""
    from django.db import connection  # noqa: PLC0415 - Django is set up in the child only

    sql = Dialect(connection.vendor)
    names, values = columns
    hashed = ", ".join(f"{u(f'n + {seed}', k)} AS c{k}" for k in range(hashes))
    chunk = 1_000_000
    with connection.cursor() as cursor:
        for first in range(1, rows + 1, chunk):
            last = min(first + chunk - 1, rows)
            # Only our own generated SQL; no parameters, so % is the modulo operator.
            statement = f"INSERT INTO {table} ({names}) SELECT {values} FROM "  # noqa: S608
            statement += sql.series(first, last, hashed)
            if where:
                statement += f" WHERE {where}"
            cursor.execute(statement)


# --- The bench database --------------------------------------------------------------------------


LOADED_TABLES = [
    "crm_contact",
    "crm_contact_tags",
    "tracking_visitor",
    "crm_record",
    "tracking_event",
]


def secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's indexes that back no constraint."""
    from django.db import connection  # noqa: PLC0415

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "  # noqa: E501
                "WHERE i.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "WHERE c.conindid = i.indexrelid)",
                [table],
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                "AND sql IS NOT NULL",
                [table],
            )
        return cursor.fetchall()


def load(contacts: int, events: int, records: int) -> dict:
    """Empty and migrate the bench database, then fill it. Returns the seconds each step took."""
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415

    from kizuna.accounts.models import User  # noqa: PLC0415
    from kizuna.crm.models import FieldDefinition, FieldTarget, RecordType, Tag  # noqa: PLC0415

    timings = {}
    started = time.perf_counter()
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)
    owner_ids = [
        User.objects.create_user(email, name=name, is_staff=True).pk for email, name in OWNERS
    ]
    for order, (key, label, kind, choices) in enumerate(CUSTOM_FIELDS):
        FieldDefinition.objects.create(
            target=FieldTarget.CONTACT, key=key, label_ja=label, type=kind, order=order,
            choices=[{"value": c, "ja": c} for c in choices or []],
        )  # fmt: skip
    purchase = RecordType.objects.create(key="purchase", name_ja="購入", name_en="Purchase")
    FieldDefinition.objects.create(
        target=FieldTarget.RECORD, record_type=purchase, key="product", label_ja="製品",
        type="choice", choices=[{"value": p, "ja": p} for p in PRODUCTS],
    )  # fmt: skip
    FieldDefinition.objects.create(
        target=FieldTarget.RECORD, record_type=purchase, key="amount", label_ja="金額",
        type="number",
    )  # fmt: skip
    tag_ids = [Tag.objects.create(name=name).pk for name, _ in TAGS]
    timings["migrate_s"] = time.perf_counter() - started

    # Indexes are built once after the load (as a restore does), not row by row.
    dropped = [index for table in LOADED_TABLES for index in secondary_indexes(table)]
    sql = Dialect(connection.vendor)
    with connection.cursor() as cursor:
        for name, _ in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        if postgres:
            cursor.execute("SET maintenance_work_mem = '1GB'")
            # The rows are consistent by construction: skip the per-row foreign key checks (not
            # a superuser: the checks run, only slower).
            with contextlib.suppress(Exception):
                cursor.execute("SET session_replication_role = replica")
        else:
            cursor.execute("PRAGMA foreign_keys = OFF")

    started = time.perf_counter()
    insert_rows("crm_contact", contacts, contact_columns(sql, contacts, owner_ids), 6)
    for (_, share), tag_id in zip(TAGS, tag_ids, strict=True):
        columns = ("contact_id, tag_id", f"s.n, {tag_id}")
        insert_rows("crm_contact_tags", contacts, columns, 1, seed=tag_id * 1_000_003,
                    where=f"s.c0 % 100 < {share}")  # fmt: skip
    visitors = contacts + max(1, contacts // 5)
    now_sql = sql.ago("0")
    insert_rows(
        "tracking_visitor",
        visitors,
        (
            "id, contact_id, identified_at, first_seen_at, last_seen_at, sessions, "
            "current_session, last_url, user_agent, browser, os, device_type, language, ip, "
            "country",
            f"'v' || s.n, CASE WHEN s.n <= {contacts} THEN s.n ELSE NULL END, "
            f"CASE WHEN s.n <= {contacts} THEN {now_sql} ELSE NULL END, {sql.ago('s.c0 % 31536000')}, "  # noqa: E501
            f"{now_sql}, 1, '', '/', '', 'Chrome', 'Windows', 'desktop', 'ja', NULL, 'JP'",
        ),
        1,
        seed=11,
    )
    timings["contacts_s"] = time.perf_counter() - started
    started = time.perf_counter()
    insert_rows("crm_record", records, record_columns(sql, contacts, purchase.pk), 5, seed=23)
    timings["records_s"] = time.perf_counter() - started
    started = time.perf_counter()
    insert_rows("tracking_event", events, event_columns(sql, contacts), 7, seed=101)
    timings["events_s"] = time.perf_counter() - started

    started = time.perf_counter()
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            cursor.execute("PRAGMA foreign_keys = ON")
        for _, statement in dropped:
            cursor.execute(statement)
        if postgres:
            for table in ("crm_contact", "crm_contact_tags", "crm_record", "tracking_event"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
            for table in LOADED_TABLES:  # as autovacuum would soon: statistics, visibility map
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")
        cursor.execute(
            "CREATE TABLE bench_segments_dataset (contacts bigint, events bigint, records bigint, "
            "version integer)"
        )
        cursor.execute(
            "INSERT INTO bench_segments_dataset VALUES (%s, %s, %s, %s)",
            [contacts, events, records, DATASET_VERSION],
        )
    timings["indexes_s"] = time.perf_counter() - started
    return timings


def loaded_dataset() -> tuple | None:
    from django.db import connection  # noqa: PLC0415

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT contacts, events, records, version FROM bench_segments_dataset")
            return tuple(cursor.fetchone())
    except Exception:  # noqa: BLE001 - no such table: nothing loaded yet
        if not connection.get_autocommit():
            connection.rollback()
        return None


def reset_after_earlier_run() -> None:
    """--reuse: remove what an earlier run added on top of the dataset."""
    from django.db import connection  # noqa: PLC0415

    from kizuna.segments.models import Membership, Segment  # noqa: PLC0415
    from kizuna.tracking.models import Event  # noqa: PLC0415

    Membership.objects.all().delete()
    Segment.objects.exclude(slug__in=[slug(n) for n in PREDEFINED]).delete()
    removed, _ = Event.objects.filter(type__in=["segment_entered", "segment_exited"]).delete()
    Event.objects.filter(event_id__startswith="bench-new-").delete()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_lead_lists_leads")
        if removed and connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE tracking_event")


# --- The limit: hand-written SQL for each filter of the suite ------------------------------------


class HandSQL:
    """For each filter of SUITE, the fastest SQL we could write by hand that selects the same
    contacts (distinct ids) from the same tables."""

    def __init__(self, vendor: str):
        self.sql = Dialect(vendor)
        self.pg = vendor == "postgresql"

    def t(self, moment: datetime.datetime) -> str:
        return self.sql.literal_time(moment)

    def days_ago(self, days: int) -> str:
        return self.t(NOW - datetime.timedelta(days=days))

    def local_midnight(self, day: datetime.date) -> str:
        from django.utils import timezone  # noqa: PLC0415

        return self.t(timezone.make_aware(datetime.datetime.combine(day, datetime.time())))

    def event_contacts(self, where: str, columns: str = "") -> str:
        """SQL: (cid, columns…) of each event matching `where` (alias e): the contact's own
        events, and those of its visitors not yet folded onto it - in one pass over the events
        (faster than a UNION ALL of the two, which reads them twice)."""
        return (
            f"SELECT COALESCE(e.contact_id, v.contact_id) AS cid{columns} "  # noqa: S608
            "FROM tracking_event e LEFT JOIN tracking_visitor v "
            "ON e.contact_id IS NULL AND v.id = e.visitor_id "
            f"WHERE {where} AND (e.contact_id IS NOT NULL OR v.contact_id IS NOT NULL)"
        )

    def tagged(self, name: str) -> str:
        return (
            "SELECT ct.contact_id FROM crm_contact_tags ct JOIN crm_tag t ON t.id = ct.tag_id "  # noqa: S608 - generated constants
            f"WHERE t.name = '{name}'"
        )

    def loyal(self) -> str:
        where = (
            f"e.type = 'form_submit' AND NOT e.is_machine AND e.occurred_at >= {self.days_ago(365)}"
        )
        columns = ", e.occurred_at AS at, e.props ->> 'product' AS product"
        return (
            f"SELECT cid FROM ({self.event_contacts(where, columns)}) x GROUP BY cid "  # noqa: S608
            f"HAVING count(*) FILTER (WHERE at >= {self.days_ago(30)}) >= 2 "
            "OR count(DISTINCT product) >= 2"
        )

    def ids(self, name: str) -> str:
        today = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=9))).date()
        one = datetime.timedelta(days=1)
        if name == "new":
            return (
                "SELECT id FROM crm_contact WHERE "  # noqa: S608
                f"created_at >= {self.local_midnight(today - 7 * one)} "
                f"AND created_at < {self.local_midnight(today + one)}"
            )
        if name == "slipping_away":
            return (
                "SELECT id FROM crm_contact WHERE "  # noqa: S608
                f"last_seen_at < {self.local_midnight(today - 30 * one)}"
            )
        if name == "text_field":
            return "SELECT id FROM crm_contact WHERE custom ->> 'memo' LIKE '%展示会%'"
        if name == "custom_choice":
            return "SELECT id FROM crm_contact WHERE custom ->> 'industry' IN ('製造', 'IT')"
        if name == "custom_date":
            return (
                "SELECT id FROM crm_contact WHERE "  # noqa: S608
                f"custom ->> 'contract_end' >= '{today.isoformat()}' "
                f"AND custom ->> 'contract_end' < '{(today + 31 * one).isoformat()}'"
            )
        if name == "tag":
            return self.tagged("VIP")
        if name == "not_tag":
            return (
                "SELECT c.id FROM crm_contact c WHERE NOT EXISTS (SELECT 1 FROM crm_contact_tags "  # noqa: S608
                "ct JOIN crm_tag t ON t.id = ct.tag_id WHERE ct.contact_id = c.id "
                "AND t.name = '休眠')"
            )
        if name == "event_param":
            found, ends = self.sql.found, self.sql.ends
            where = (
                f"e.type = 'page_view' AND NOT e.is_machine AND e.occurred_at >= "
                f"{self.days_ago(30)} AND upper(e.url) LIKE '%/PRODUCTS/1%' AND ("
                f"{found('e.url', '?utm_source=mail&')} OR {found('e.url', '&utm_source=mail&')} "
                f"OR {ends('e.url', '?utm_source=mail')} OR {ends('e.url', '&utm_source=mail')})"
            )
            return f"SELECT DISTINCT cid FROM ({self.event_contacts(where)}) x"  # noqa: S608
        if name == "event_ip_count":
            network = "e.ip <<= '203.0.113.0/24'" if self.pg else "e.ip LIKE '203.0.113.%'"
            where = (
                f"e.type = 'page_view' AND NOT e.is_machine AND e.occurred_at >= "
                f"{self.days_ago(30)} AND {network}"
            )
            return (
                f"SELECT cid FROM ({self.event_contacts(where)}) x "  # noqa: S608
                "GROUP BY cid HAVING count(*) >= 3"
            )
        if name == "email_not_opened":
            where = (
                f"e.type = 'email_open' AND NOT e.is_machine AND e.occurred_at >= "
                f"{self.days_ago(30)}"
            )
            if not self.pg:  # SQLite runs NOT EXISTS once a row; NOT IN builds an index once
                return (
                    "SELECT c.id FROM crm_contact c WHERE c.id NOT IN ("  # noqa: S608
                    f"{self.event_contacts(where)})"
                )
            # PostgreSQL: an anti-join. NOT IN is faster while its hash fits in work_mem and a
            # disaster (a scan a row) once it does not; EXCEPT and LEFT JOIN … IS NULL were slower.
            return (
                "SELECT c.id FROM crm_contact c WHERE NOT EXISTS (SELECT 1 FROM ("  # noqa: S608
                f"{self.event_contacts(where)}) x WHERE x.cid = c.id)"
            )
        if name == "loyal_customers":
            return self.loyal()
        if name == "record_sum":
            amount = "(r.custom -> 'amount')::numeric" if self.pg else "r.custom ->> 'amount'"
            return (
                "SELECT r.contact_id FROM crm_record r WHERE r.record_type_id = "  # noqa: S608
                "(SELECT id FROM crm_recordtype WHERE key = 'purchase') "
                f"AND r.custom ->> 'product' = '冷蔵庫' AND r.occurred_at >= {self.days_ago(365)} "
                f"GROUP BY r.contact_id HAVING sum({amount}) >= 200000"
            )
        if name == "nested":
            clicked = (
                f"e.type = 'email_click' AND NOT e.is_machine AND e.occurred_at >= "
                f"{self.days_ago(90)} AND e.props ->> 'campaign' = 'spring-sale'"
            )
            records = (
                "SELECT r.contact_id FROM crm_record r WHERE r.record_type_id = (SELECT id "  # noqa: S608
                "FROM crm_recordtype WHERE key = 'purchase') "
                f"AND r.occurred_at >= {self.days_ago(180)}"
            )
            if not self.pg:  # SQLite: [NOT] IN builds each set's index once (joins: 30× slower)
                return (
                    "SELECT c.id FROM crm_contact c WHERE (c.prefecture = '東京都' OR "  # noqa: S608
                    f"c.custom ->> 'rank' = 'ゴールド') AND c.id NOT IN ({self.tagged('休眠')}) "
                    f"AND (c.id IN (SELECT cid FROM ({self.event_contacts(clicked)}) x) "
                    f"OR c.id NOT IN ({records}))"
                )
            # PostgreSQL: the two sets joined once each (hash joins), the tag as an anti-join;
            # NOT IN would fall to a scan a row once its hash outgrows work_mem.
            return (
                "SELECT c.id FROM crm_contact c "  # noqa: S608
                f"LEFT JOIN (SELECT DISTINCT cid FROM ({self.event_contacts(clicked)}) x) k "
                f"ON k.cid = c.id LEFT JOIN (SELECT DISTINCT contact_id FROM ({records}) r) p "
                "ON p.contact_id = c.id "
                "WHERE (c.prefecture = '東京都' OR c.custom ->> 'rank' = 'ゴールド') "
                "AND NOT EXISTS (SELECT 1 FROM crm_contact_tags ct JOIN crm_tag t "
                "ON t.id = ct.tag_id WHERE ct.contact_id = c.id AND t.name = '休眠') "
                "AND (k.cid IS NOT NULL OR p.contact_id IS NULL)"
            )
        if name == "segment_ref":
            opted_in = "c.email_opt_in" if self.pg else "c.email_opt_in = 1"
            return f"SELECT c.id FROM crm_contact c WHERE {opted_in} AND c.id IN ({self.loyal()})"  # noqa: S608
        raise KeyError(name)

    def count(self, name: str) -> str:
        return f"SELECT count(*) FROM ({self.ids(name)}) AS ids"  # noqa: S608


# --- Statements that may run for minutes ---------------------------------------------------------


class StatementTimeout:
    """Within it, each SQL statement is cancelled after `seconds` (PostgreSQL: statement_timeout;
    SQLite: a progress handler, re-armed by an execute wrapper at every statement). A cancelled
    statement raises django.db.OperationalError."""

    def __init__(self, seconds: float):
        from django.db import connection  # noqa: PLC0415

        self.connection = connection
        self.seconds = seconds
        self.started = time.perf_counter()
        self.wrapper = None

    def __enter__(self):
        self.connection.ensure_connection()
        if self.connection.vendor == "postgresql":
            with self.connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {max(1, int(self.seconds * 1000))}")
        else:
            self.connection.connection.set_progress_handler(self._expired, 10_000)
            self.wrapper = self.connection.execute_wrapper(self._arm)
            self.wrapper.__enter__()
        return self

    def _arm(self, execute, sql, params, many, context):
        self.started = time.perf_counter()
        return execute(sql, params, many, context)

    def _expired(self) -> int:
        return int(time.perf_counter() - self.started > self.seconds)

    def __exit__(self, *exc):
        if self.connection.vendor == "postgresql":
            if self.connection.in_atomic_block:
                return
            with self.connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")
        else:
            self.wrapper.__exit__(*exc)
            self.connection.connection.set_progress_handler(None, 0)


def clock(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def clock_within(seconds: float, function):
    """(seconds, result) of function(), or (None, None) when one of its statements ran out of
    time."""
    from django.db import OperationalError  # noqa: PLC0415

    with StatementTimeout(seconds):
        try:
            return clock(function)
        except OperationalError:
            return None, None


# --- The peer: Mautic's segment build -------------------------------------------------------------


def create_peer_table() -> None:
    from django.db import connection  # noqa: PLC0415

    with connection.cursor() as cursor:
        # lead_lists_leads as Mautic has it (primary key leadlist_id, lead_id).
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_lead_lists_leads (leadlist_id integer NOT NULL, "
            "lead_id bigint NOT NULL, date_added timestamp NOT NULL, manually_removed boolean "
            "NOT NULL, manually_added boolean NOT NULL, PRIMARY KEY (leadlist_id, lead_id))"
        )


def peer_build(document, list_id: int, budget_s: float) -> dict:
    """Mautic's rebuild of one segment from empty: count the new members (and their highest id),
    then batches of PEER_BATCH new members, inserted one batch at a time, until none is left.
    Stopped after `budget_s` (then `complete` is false, the time a lower bound and `estimate`
    the time of the whole build at the pace of the batches done, or None without any)."""
    from django.db import OperationalError, connection  # noqa: PLC0415
    from django.db.models import BooleanField, Count, Max, Min  # noqa: PLC0415
    from django.db.models.expressions import RawSQL  # noqa: PLC0415

    from kizuna.crm.models import Contact  # noqa: PLC0415
    from kizuna.segments.compiler import compile_filter  # noqa: PLC0415

    not_listed = RawSQL(
        "NOT EXISTS (SELECT NULL FROM bench_lead_lists_leads ll "
        'WHERE ll.lead_id = "crm_contact"."id" AND ll.leadlist_id = %s)',
        [list_id],
        output_field=BooleanField(),
    )
    insert = (
        "INSERT INTO bench_lead_lists_leads (leadlist_id, lead_id, date_added, manually_removed, "
        "manually_added) VALUES (%s, %s, %s, %s, %s)"
    )
    stamp = NOW.replace(tzinfo=None)
    started = time.perf_counter()
    added, complete, counted_s, counted = 0, True, None, {"count": 0}
    with StatementTimeout(budget_s):
        try:
            new = Contact.objects.order_by().filter(compile_filter(document, now=NOW))
            new = new.filter(not_listed)
            counted = new.aggregate(count=Count("pk"), max_id=Max("pk"), min_id=Min("pk"))
            counted_s = time.perf_counter() - started
            while counted["count"] and added < counted["count"]:
                batch = new.filter(pk__lte=counted["max_id"]).values_list("pk", flat=True)
                batch = list(batch[:PEER_BATCH])
                if not batch:
                    break
                with connection.cursor() as cursor:
                    cursor.executemany(insert, [(list_id, pk, stamp, False, False) for pk in batch])
                added += len(batch)
                if time.perf_counter() - started > budget_s and added < counted["count"]:
                    complete = False
                    break
        except OperationalError:
            complete = False
    seconds = time.perf_counter() - started
    estimate = seconds
    if not complete:
        estimate = None
        if counted_s is not None and added:
            estimate = counted_s + (seconds - counted_s) * counted["count"] / added
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lead_id FROM bench_lead_lists_leads WHERE leadlist_id = %s", [list_id]
        )
        members = sorted(row[0] for row in cursor.fetchall())
        cursor.execute("DELETE FROM bench_lead_lists_leads WHERE leadlist_id = %s", [list_id])
    return {"seconds": seconds, "complete": complete, "estimate": estimate, "members": members}


# --- Measuring -----------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_filters(repeat: int, timeout: float, peer_seconds: float) -> tuple[dict, list[str]]:
    """Interleaved rounds over the suite. Returns ({name: figures}, mismatch messages). A query
    of ours (or of the hand-written SQL) that runs out of `timeout` is not run again: its time
    stands as a lower bound."""
    from django.db import connection  # noqa: PLC0415

    from kizuna.crm.models import Contact  # noqa: PLC0415
    from kizuna.segments.compiler import compile_filter  # noqa: PLC0415

    hand = HandSQL(connection.vendor)

    def ours_count(document):
        return Contact.objects.filter(compile_filter(document, now=NOW)).count()

    def ours_ids(document):
        queryset = Contact.objects.order_by().filter(compile_filter(document, now=NOW))
        return list(queryset.values_list("pk", flat=True))

    def sql_count(name):
        with connection.cursor() as cursor:
            cursor.execute(hand.count(name))  # no parameters: % is itself
            return cursor.fetchone()[0]

    def sql_ids(name):
        with connection.cursor() as cursor:
            cursor.execute(hand.ids(name))
            return [row[0] for row in cursor.fetchall()]

    create_peer_table()
    kinds = {"ours": ours_count, "sql": sql_count, "ours_ids": ours_ids, "sql_ids": sql_ids}
    figures = {}
    mismatches = []
    # Warm-up round: caches, and the one full comparison of the id sets.
    for name, _, document in SUITE:
        entry = figures[name] = {kind: [] for kind in kinds}
        entry.update(
            timed_out=set(), peer=[], peer_estimate=[], peer_complete=True, ids=None, count=None
        )
        for kind in ("ours", "sql"):  # a count that runs out of time: its id list would too
            argument = document if kind == "ours" else name
            seconds, count = clock_within(timeout, lambda f=kinds[kind], a=argument: f(a))
            if seconds is None:
                entry["timed_out"] |= {kind, f"{kind}_ids"}
                entry[kind].append(timeout)
                entry[f"{kind}_ids"].append(timeout)
            else:
                entry["count"] = count
        ours = sql = None
        if "ours_ids" not in entry["timed_out"]:
            ours = clock_within(timeout, lambda d=document: ours_ids(d))[1]
        if "sql_ids" not in entry["timed_out"]:
            sql = clock_within(timeout, lambda n=name: sql_ids(n))[1]
        if ours is not None:
            entry["ids"] = sorted(ours)
        if ours is not None and sql is not None:
            if len(sql) != len(set(sql)):
                mismatches.append(f"{name}: the hand-written SQL returns repeated ids")
            if set(ours) != set(sql):
                only_ours, only_sql = sorted(set(ours) - set(sql)), sorted(set(sql) - set(ours))
                mismatches.append(
                    f"{name}: ours {len(set(ours)):,} contacts, hand-written SQL "
                    f"{len(set(sql)):,}; only ours {only_ours[:10]}, only SQL {only_sql[:10]}"
                )
        entry["compared"] = ours is not None and sql is not None
        shown = "?" if entry["count"] is None else f"{entry['count']:,}"
        slow = f" (ran out of {timeout:g} s: {', '.join(sorted(entry['timed_out']))})"
        progress(f"warm-up {name}: {shown} contacts" + (slow if entry["timed_out"] else ""))
    list_id = 0
    for round_number in range(repeat):
        for name, _, document in SUITE:
            entry = figures[name]
            for kind, function in kinds.items():
                if kind in entry["timed_out"]:
                    continue
                argument = document if kind.startswith("ours") else name
                seconds, result = clock_within(timeout, lambda f=function, a=argument: f(a))
                if seconds is None:
                    entry["timed_out"].add(kind)
                    entry[kind] = [timeout]
                    continue
                entry[kind].append(seconds)
                count = result if isinstance(result, int) else len(result)
                if entry["count"] is not None and count != entry["count"]:
                    mismatches.append(f"{name}: {kind} found {count:,}, not {entry['count']:,}")
            if entry["peer_complete"]:  # a build stopped at the budget is not run again
                list_id += 1
                built = peer_build(document, list_id, peer_seconds)
                entry["peer"].append(built["seconds"])
                if built["estimate"] is not None:
                    entry["peer_estimate"].append(built["estimate"])
                entry["peer_complete"] = built["complete"]
                if (
                    built["complete"]
                    and entry["ids"] is not None
                    and built["members"] != entry["ids"]
                ):
                    mismatches.append(f"{name}: the peer's build differs from ours")
        progress(f"round {round_number + 1} of {repeat} done")
    return figures, mismatches


def measure_matches(samples: int, contacts: int, timeout: float) -> dict:
    """matches() of each filter for `samples` contacts spread over the ids: (median ms, whether
    a call ran out of time)."""
    from kizuna.crm.models import Contact  # noqa: PLC0415
    from kizuna.segments.compiler import matches  # noqa: PLC0415

    people = [Contact(pk=1 + (i * 7919) % contacts) for i in range(samples)]
    result = {}
    for name, _, document in SUITE:
        timings = []
        for person in [people[0], *people]:  # the first call warms
            seconds, _ = clock_within(timeout, lambda p=person, d=document: matches(d, p, now=NOW))
            timings.append(timeout if seconds is None else seconds)
            if seconds is None:
                break
        result[name] = (statistics.median(timings[1:] or timings) * 1000, seconds is None)
    return result


def measure_refresh(counts: dict, timeout: float) -> tuple[dict, list[str]]:
    """The suite saved as segments: refresh_all from empty, again with nothing changed, then
    refresh_segment of loyal-customers after one new form post. Each statement may run
    `timeout`; a segment whose refresh runs out of it is skipped (refresh_all logs and goes on)."""
    from django.db import OperationalError  # noqa: PLC0415
    from django.db.models import Count  # noqa: PLC0415

    from kizuna.segments import membership  # noqa: PLC0415
    from kizuna.segments.models import Membership, Segment  # noqa: PLC0415
    from kizuna.tracking.models import Event  # noqa: PLC0415

    problems = []
    for name, description, document in SUITE:
        Segment.objects.update_or_create(
            slug=slug(name),
            defaults={"filter": document},
            create_defaults={"name": name, "description": description, "filter": document},
        )
    Segment.objects.exclude(slug__in=[slug(n) for n, _, _ in SUITE]).delete()
    membership.logger.disabled = True  # a refresh that runs out of time: counted below
    try:
        with StatementTimeout(timeout):
            first_s, results = clock(lambda: membership.refresh_all(now=NOW))
            again_s, again = clock(lambda: membership.refresh_all(now=NOW))
    finally:
        membership.logger.disabled = False
    refreshed = {result.segment for result in results}
    failed = [slug(name) for name, _, _ in SUITE if slug(name) not in refreshed]
    for result in results:
        expected = counts[result.segment.replace("-", "_")]
        if expected is not None and (result.members != expected or result.entered != expected):
            problems.append(
                f"refresh of {result.segment}: {result.members:,} members, not {expected:,}"
            )
    changed = [r.segment for r in again if r.segment in refreshed and (r.entered or r.exited)]
    if changed:
        problems.append(f"the second refresh_all changed the members of {', '.join(changed)}")

    loyal = Segment.objects.get(slug="loyal-customers")
    members = Membership.objects.filter(segment=loyal).values("contact_id")
    window = NOW - datetime.timedelta(days=30)
    candidate = (
        Event.objects.filter(type="form_submit", is_machine=False, occurred_at__gte=window)
        .filter(contact__isnull=False)
        .exclude(contact_id__in=members)
        .values("contact_id")
        .annotate(n=Count("id"))
        .filter(n=1)
        .order_by("contact_id")
        .first()
    )
    contact_id = candidate["contact_id"] if candidate else 1
    Event.objects.create(
        event_id=f"bench-new-{contact_id}", type="form_submit",
        occurred_at=NOW - datetime.timedelta(minutes=1), contact_id=contact_id,
        url="/forms/inquiry", props={"form": "inquiry", "product": PRODUCTS[0]},
    )  # fmt: skip
    with StatementTimeout(timeout):
        try:
            one_s, result = clock(lambda: membership.refresh_segment(loyal, now=NOW))
            entered = result.entered
        except OperationalError:
            one_s, entered = None, None
    if candidate and "loyal-customers" not in failed and one_s is not None and entered != 1:
        problems.append(f"after one new form post {entered} entered loyal-customers, not 1")
    return {
        "refresh_all_s": first_s,
        "refresh_all_again_s": again_s,
        "failed": failed,
        "one_event_s": one_s,
        "one_event_entered": entered,
    }, problems


def child(options) -> None:
    setup_django(options.database_url)
    from django.db import connection  # noqa: PLC0415

    records = options.records if options.records is not None else options.contacts * 3 // 5
    wanted = (options.contacts, options.events, records, DATASET_VERSION)
    load_timings = {}
    if options.reuse and loaded_dataset() == wanted:
        progress("reusing the loaded dataset")
        reset_after_earlier_run()
    else:
        progress(f"loading {options.contacts:,} contacts, {options.events:,} events …")
        load_timings = load(options.contacts, options.events, records)
        progress("loaded: " + ", ".join(f"{k} {v:.1f}" for k, v in load_timings.items()))
    figures, mismatches = measure_filters(options.repeat, options.timeout, options.peer_seconds)
    progress("measuring matches() …")
    matches_ms = measure_matches(options.matches, options.contacts, options.timeout)
    progress("measuring refresh_all …")
    counts = {name: entry["count"] for name, entry in figures.items()}
    refresh, problems = measure_refresh(counts, options.refresh_timeout)
    report(options, connection.vendor, records, load_timings, figures, matches_ms, refresh,
           mismatches + problems)  # fmt: skip


def _bound_mark(ours_late: bool, sql_late: bool) -> str:
    """How to read ours ÷ SQL when either ran out of time: >, <, or ? (both: unknown)."""
    return "?" if ours_late and sql_late else ">" if ours_late else "<" if sql_late else ""


def estimate_cell(estimated, peer, ours_ids, late) -> str:
    """peer÷ours with the peer's whole build estimated: ~ extrapolated, ≥ unknown (its bound)."""
    if "ours_ids" in late:
        return "?"
    if estimated is None:
        return f"≥{peer / ours_ids:,.0f}"
    return ("" if estimated == peer else "~") + f"{estimated / ours_ids:,.0f}"


def _median_ms(entry: dict, kind: str) -> float:
    return statistics.median(entry[kind]) * 1000


def report(options, vendor, records, load_timings, figures, matches_ms, refresh, problems):
    engine = "PostgreSQL" if vendor == "postgresql" else "SQLite"
    print(
        f"Segments on {engine}: {options.contacts:,} contacts, {options.events:,} events, "
        f"{records:,} purchase records; medians of {options.repeat} interleaved rounds"
        + (f"; loaded in {sum(load_timings.values()):.0f} s" if load_timings else "; reused")
    )
    print(
        f"{'filter':17}{'members':>9}{'ours ms':>10}{'SQL ms':>9}{'ratio':>8}{'ours ids':>10}"
        f"{'SQL ids':>9}{'ratio':>8}{'peer ms':>10}{'peer÷ours':>10}{'estimated':>10}"
        f"{'matches':>9}"
    )
    rows = []
    for name, _, _ in SUITE:
        entry = figures[name]
        late = entry["timed_out"]
        ours, sql = _median_ms(entry, "ours"), _median_ms(entry, "sql")
        ours_ids, sql_ids = _median_ms(entry, "ours_ids"), _median_ms(entry, "sql_ids")
        peer = _median_ms(entry, "peer")
        # The whole build: measured, or estimated from a stopped one (~), or unknown (None).
        estimated = peer if entry["peer_complete"] else None
        if not entry["peer_complete"] and entry["peer_estimate"]:
            estimated = _median_ms(entry, "peer_estimate")
        # ">": ours ran out of time (a lower bound); "<": the SQL did (the ratio is an upper one)
        ratio_mark = _bound_mark("ours" in late, "sql" in late)
        ids_mark = _bound_mark("ours_ids" in late, "sql_ids" in late)
        peer_mark = "" if entry["peer_complete"] else ">"
        # With ours' ids late, ours is a lower bound: peer÷ours an upper one, or unknown.
        speedup_mark = ("?" if peer_mark else "<") if "ours_ids" in late else peer_mark
        matched_ms, matched_late = matches_ms[name]

        def cell(value, marker, spec=".1f"):
            return marker + format(value, spec)

        rows.append(
            {
                "name": name,
                "ours_ms": round(ours, 2),
                "sql_ms": round(sql, 2),
                "ratio": round(ours / sql, 3),
                "count": entry["count"],
                "peer_ms": round(peer, 1),
                # None: not compared, a query ran out of time
                "identical": (
                    not any(p.startswith(name + ":") for p in problems)
                    if entry["compared"]
                    else None
                ),
                "timed_out": bool(late),
                "ids_ratio": ours_ids / sql_ids,
                "speedup": peer / ours_ids,
                "peer_complete": entry["peer_complete"],
                "peer_estimated_ms": None if estimated is None else round(estimated, 1),
                # where the peer's whole time is unknown, its lower bound (so this one is too)
                "estimated_speedup": (peer if estimated is None else estimated) / ours_ids,
            }
        )
        count = "?" if entry["count"] is None else format(entry["count"], ",")
        print(
            f"{name:17}{count:>9}{cell(ours, '>' if 'ours' in late else ''):>10}"
            f"{cell(sql, '<' if 'sql' in late else ''):>9}{cell(ours / sql, ratio_mark, '.2f'):>8}"
            f"{cell(ours_ids, '>' if 'ours_ids' in late else ''):>10}"
            f"{cell(sql_ids, '<' if 'sql_ids' in late else ''):>9}"
            f"{cell(ours_ids / sql_ids, ids_mark, '.2f'):>8}{cell(peer, peer_mark, ',.0f'):>10}"
            f"{cell(peer / ours_ids, speedup_mark, ',.0f'):>10}"
            f"{estimate_cell(estimated, peer, ours_ids, late):>10}"
            f"{cell(matched_ms, '>' if matched_late else '', '.2f'):>9}"
        )
    ratios = [row["ratio"] for row in rows]
    speedups = [
        row["speedup"] for row in rows if "ours_ids" not in figures[row["name"]]["timed_out"]
    ]
    late = [row["name"] for row in rows if row["timed_out"]]
    print(
        f"ratio: ours ÷ hand-written SQL (count; ids: the id list); >: ours ran out of the "
        f"{options.timeout:g} s allowed a statement (a lower bound). peer: Mautic's build in "
        f"batches of {PEER_BATCH} with NOT EXISTS, >: stopped after {options.peer_seconds:g} s; "
        "peer÷ours: against our id list; estimated: the same with a stopped build's estimated "
        "whole time (~: extrapolated from its batches, itself low; ≥: no estimate, the bound)."
    )
    print(
        f"median ratio {statistics.median(ratios):.2f}, worst {max(ratios):.2f} "
        f"({rows[ratios.index(max(ratios))]['name']}); ids: median "
        f"{statistics.median(r['ids_ratio'] for r in rows):.2f}, worst "
        f"{max(r['ids_ratio'] for r in rows):.2f}"
        + (f"; ours ran out of time on {', '.join(late)}" if late else "")
    )
    bounded = any(not row["peer_complete"] for row in rows)
    estimated_speedups = [
        row["estimated_speedup"]
        for row in rows
        if "ours_ids" not in figures[row["name"]]["timed_out"]
    ]
    if speedups:
        extrapolated = sum(
            1 for row in rows if not row["peer_complete"] and row["peer_estimated_ms"] is not None
        )
        unknown = sum(
            1 for row in rows if not row["peer_complete"] and row["peer_estimated_ms"] is None
        )
        print(
            f"faster than the peer: median {'≥ ' if bounded else ''}"
            f"{statistics.median(speedups):,.0f}× over the {len(speedups)} filters ours finished"
            + (
                f"; estimated ~{statistics.median(estimated_speedups):,.0f}× ({extrapolated} "
                f"builds extrapolated, {unknown} without an estimate at their lower bound)"
                if bounded
                else ""
            )
        )
    values = {name: value for name, (value, _) in matches_ms.items()}
    print(
        f"matches() of one contact: median {statistics.median(values.values()):.2f} ms over the "
        f"suite, worst {max(values.values()):.2f} ms ({max(values, key=values.get)})"
    )
    failed = refresh["failed"]
    one = refresh["one_event_s"]
    print(
        f"refresh_all of the {len(SUITE)} saved segments: {refresh['refresh_all_s']:.2f} s from "
        f"empty, {refresh['refresh_all_again_s']:.2f} s with nothing changed"
        + (
            f" ({len(failed)} ran out of the {options.refresh_timeout:g} s allowed a statement "
            f"and were skipped: {', '.join(failed)})"
            if failed
            else ""
        )
        + "; refresh_segment(loyal-customers) after one new form post: "
        + (
            f"{one * 1000:.0f} ms ({refresh['one_event_entered']} entered)"
            if one is not None
            else f"ran out of {options.refresh_timeout:g} s"
        )  # fmt: skip
    )
    for problem in problems:
        print(f"MISMATCH {problem}")
    print(
        json.dumps(
            {
                "contacts": options.contacts,
                "events": options.events,
                "filters": [
                    {
                        key: row[key]
                        for key in (
                            "name",
                            "ours_ms",
                            "sql_ms",
                            "ratio",
                            "count",
                            "peer_ms",
                            "peer_estimated_ms",
                            "identical",
                            "timed_out",
                        )  # fmt: skip
                    }
                    for row in rows
                ],
                "median_ratio": round(statistics.median(ratios), 3),
                "worst_ratio": round(max(ratios), 3),
                "speedup_vs_peer": round(statistics.median(speedups), 1) if speedups else None,
                # the same with stopped builds' estimated whole times (see the module docstring)
                "speedup_vs_peer_estimated": (
                    round(statistics.median(estimated_speedups), 1) if speedups else None
                ),
                "matches_one_ms": round(statistics.median(values.values()), 3),
                "refresh_all_s": round(refresh["refresh_all_s"], 3),
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--records", type=int, help="purchase records (default: 0.6 a contact)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (medians)")
    parser.add_argument(
        "--timeout", type=float, default=10, help="seconds a statement may run (then >: a bound)"
    )
    parser.add_argument(
        "--peer-seconds", type=float, default=5, help="stop a peer build after this long"
    )
    parser.add_argument("--matches", type=int, default=50, help="contacts a filter for matches()")
    parser.add_argument(
        "--refresh-timeout",
        type=float,
        default=120,
        help="seconds a statement of a refresh may run (from empty, one INSERT writes an event "
        "a member: 760,000 of them at 1M contacts take about 20 s)",
    )
    parser.add_argument(
        "--database",
        default="kizuna_bench_segments",
        help="PostgreSQL only: the bench database on DATABASE_URL's server (emptied!)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the loaded dataset when it is the same size"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.contacts < 10 or options.events < 10 or options.repeat < 1:
        parser.error("--contacts and --events must be at least 10, --repeat at least 1")
    if options.child:
        child(options)
        return None
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-segments-") as folder:
        database_url, _ = bench_database_url(options.database, Path(folder))
        arguments = list(argv if argv is not None else sys.argv[1:])
        command = [sys.executable, "-m", "bench.segments", *arguments, "--child"]
        command += ["--database-url", database_url]
        # Our own interpreter running this module with our own arguments.
        with subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.PIPE, text=True, cwd=REPOSITORY
        ) as process:
            lines = []
            for line in process.stdout:
                lines.append(line)
                print(line, end="", flush=True)
        if process.returncode != 0:
            raise SystemExit(f"the benchmark failed (exit status {process.returncode})")
    return json.loads(lines[-1])


if __name__ == "__main__":
    figures = main()
    if figures and any(f["identical"] is False for f in figures["filters"]):
        sys.exit(1)
