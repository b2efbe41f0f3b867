"""manage.py import_events: past events from a JSON Lines file, each stored once, bad lines named
by number, exit 0 / 1 / 2."""

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from kizuna.core.models import SiteSettings
from kizuna.crm.tests.factories import ContactFactory
from kizuna.tracking import backfill
from kizuna.tracking.models import Event, Visitor

WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture
def jsonl(tmp_path):
    """Write events (dicts, or raw strings for broken lines) to a file; returns its path."""

    def write(*lines, encoding="utf-8", bom=False, name="events.jsonl"):
        text = "\n".join(
            line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
            for line in lines
        )
        data = text.encode(encoding)
        path = tmp_path / name
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data + b"\n")
        return str(path)

    return write


def import_events(*arguments) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the command, run in English."""
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"):
        try:
            call_command("import_events", *arguments, stdout=out, stderr=err)
        except SystemExit as exit:
            return exit.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def page_view(**fields):
    return {"type": "page_view", "occurred_at": "2026-10-01T09:00:00+09:00", **fields}


def test_every_line_stored_exits_0_with_a_summary(db, jsonl):
    contact = ContactFactory(email="taro@example.jp")
    path = jsonl(
        page_view(
            email="taro@example.jp", url="https://www.example.co.jp/products/a?utm_source=mail"
        ),
        page_view(contact_id=contact.pk, occurred_at="2026-10-02T10:00:00+09:00"),
    )
    status, out, err = import_events(path)
    assert (status, err) == (0, "")
    assert out.splitlines() == ["Lines read: 2. Stored: 2, already present: 0, rejected: 0."]
    first = Event.objects.get(url="/products/a?utm_source=mail")
    assert first.contact == contact and first.host == "www.example.co.jp"
    assert first.occurred_at == datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
    assert first.event_id.startswith("bf:") and len(first.event_id) == 35


def test_running_the_same_file_twice_stores_nothing_twice(db, jsonl):
    ContactFactory(email="taro@example.jp")
    path = jsonl(
        page_view(email="taro@example.jp"),
        page_view(email="taro@example.jp", occurred_at="2026-10-01T09:05:00+09:00"),
        page_view(email="taro@example.jp", event_id="crm-42", url="/pricing"),
        page_view(visitor_id="abcdefgh12345678"),
    )
    assert import_events(path)[0] == 0
    status, out, _err = import_events(path)
    assert status == 0
    assert "Stored: 0, already present: 4, rejected: 0." in out
    assert Event.objects.count() == 4
    assert Event.objects.filter(event_id="crm-42").exists()


def test_the_same_instant_written_in_another_offset_is_the_same_event(db, jsonl):
    ContactFactory(email="taro@example.jp")
    import_events(jsonl(page_view(email="taro@example.jp")))
    status, out, _err = import_events(
        jsonl(page_view(email="TARO@example.jp", occurred_at="2026-10-01T00:00:00Z"))
    )
    assert "already present: 1" in out and Event.objects.count() == 1


def test_the_same_event_twice_in_one_file_is_stored_once(db, jsonl):
    ContactFactory(email="taro@example.jp")
    line = page_view(email="taro@example.jp")
    status, out, _err = import_events(jsonl(line, line))
    assert status == 0 and "Stored: 1, already present: 1" in out
    assert Event.objects.count() == 1


def test_a_file_larger_than_a_chunk_is_stored_chunk_by_chunk(db, jsonl):
    contact = ContactFactory(email="taro@example.jp")
    lines = [
        page_view(email="taro@example.jp", occurred_at=f"2026-10-{day:02d}T09:00:00+09:00")
        for day in range(1, 11)
    ]
    lines.insert(4, "{broken")
    rejected = []
    with open(jsonl(*lines), "rb") as stream, translation.override("en"):
        result = backfill.import_events(stream, chunk_size=3, on_rejection=rejected.append)
    assert (result.read, result.stored, result.present, result.rejected) == (11, 10, 0, 1)
    assert [rejection.line for rejection in rejected] == [5]
    contact.refresh_from_db()
    assert contact.first_seen_at == datetime(2026, 10, 1, 0, tzinfo=UTC)
    assert contact.last_seen_at == datetime(2026, 10, 10, 0, tzinfo=UTC)


BAD_LINES = [
    ("{not json", "Not valid JSON (column 2): Expecting property name enclosed in double quotes"),
    ("[1, 2]", "Each line must be a JSON object ({…})."),
    ({**page_view(contact_id=1), "colour": "red"}, "Unknown keys: colour."),
    ({"occurred_at": "2026-10-01T09:00:00+09:00", "contact_id": 1}, "“type” is missing."),
    (page_view(contact_id=1, type="Page View"), "“type” must be 1 to 40 lower-case letters"),
    (page_view(contact_id=1, type="a" * 41), "“type” must be 1 to 40 lower-case letters"),
    ({"type": "page_view", "contact_id": 1}, "“occurred_at” is missing."),
    (
        page_view(contact_id=1, occurred_at="yesterday"),
        "“occurred_at” is not an ISO 8601 date and time: yesterday",
    ),
    (
        page_view(contact_id=1, occurred_at="2026-10-01T09:00:00"),
        "“occurred_at” needs a UTC offset, for example 2026-11-22T09:00:00+09:00.",
    ),
    (page_view(), "Give exactly one of “email”, “contact_id” and “visitor_id”."),
    (
        page_view(email="taro@example.jp", visitor_id="abcdefgh12345678"),
        "Give exactly one of “email”, “contact_id” and “visitor_id”.",
    ),
    (page_view(email="nobody@example.jp"), "No contact has the email address nobody@example.jp."),
    (page_view(email="not-an-address"), "“email” is not an email address: not-an-address"),
    (page_view(contact_id=999999), "There is no contact number 999999."),
    (page_view(contact_id="abc"), "“contact_id” must be a contact's number."),
    (page_view(visitor_id="short"), "“visitor_id” must be 8 to 64 letters, digits, _ or -."),
    (page_view(visitor_id="has space 12345"), "“visitor_id” must be 8 to 64 letters"),
    (page_view(contact_id=1, url="/" + "a" * 2048), "“url” is longer than 2048 characters."),
    (page_view(contact_id=1, url="javascript:alert(1)"), "“url” must be a full http(s) URL"),
    (page_view(contact_id=1, url="products/a"), "“url” must be a full http(s) URL"),
    (page_view(contact_id=1, url=42), "“url” must be a string."),
    (
        page_view(contact_id=1, referrer="https://x.jp/" + "a" * 2048),
        "“referrer” is longer than 2048 characters.",
    ),
    (
        page_view(contact_id=1, user_agent="a" * 1025),
        "“user_agent” is longer than 1024 characters.",
    ),
    (page_view(contact_id=1, ip="300.1.2.3"), "“ip” is not an IP address: 300.1.2.3"),
    (page_view(contact_id=1, props=["a"]), "“props” must be a JSON object ({…})."),
    (page_view(contact_id=1, props={"text": "あ" * 2800}), "“props” is larger than 8 KB"),
    (page_view(contact_id=1, event_id="x" * 65), "“event_id” must be a string of at most 64"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_each_kind_of_bad_line_is_rejected_with_its_reason_and_the_rest_stored(
    db, jsonl, line, reason
):
    contact = ContactFactory(email="taro@example.jp")
    if isinstance(line, dict) and line.get("contact_id") == 1:
        line = {**line, "contact_id": contact.pk}
    status, out, err = import_events(jsonl(page_view(contact_id=contact.pk), line))
    assert status == 1
    assert err.startswith(f"line 2: {reason}"), err
    assert len(err.splitlines()) == 1
    assert "Stored: 1, already present: 0, rejected: 1." in out
    assert Event.objects.count() == 1


def test_rejections_are_reported_in_line_order(db, jsonl):
    contact = ContactFactory(email="taro@example.jp")
    status, _out, err = import_events(
        jsonl(
            page_view(email="nobody@example.jp"),  # found when the chunk is stored
            "{broken",  # found when the line is read
            page_view(contact_id=contact.pk),
        )
    )
    assert status == 1
    assert [line.split(":")[0] for line in err.splitlines()] == ["line 1", "line 2"]


def test_email_finds_the_contact_ignoring_case_and_width(db, jsonl):
    contact = ContactFactory(email="Taro.Yamada@Example.jp")
    import_events(jsonl(page_view(email="ＴＡＲＯ.yamada@example.JP")))
    assert Event.objects.get().contact == contact


def test_a_contact_id_may_be_a_number_or_a_string_of_digits(db, jsonl):
    contact = ContactFactory()
    import_events(
        jsonl(
            page_view(contact_id=contact.pk),
            page_view(contact_id=str(contact.pk), occurred_at="2026-10-03T09:00:00+09:00"),
        )
    )
    assert Event.objects.filter(contact=contact).count() == 2


def test_a_new_visitor_is_created_with_first_and_last_seen_from_its_events(db, jsonl):
    path = jsonl(
        page_view(
            visitor_id="visitor-0001",
            occurred_at="2026-10-05T09:00:00+09:00",
            url="/b",
            user_agent=WINDOWS_CHROME,
        ),
        page_view(visitor_id="visitor-0001", occurred_at="2026-10-01T09:00:00+09:00", url="/a"),
    )
    assert import_events(path)[0] == 0
    visitor = Visitor.objects.get(pk="visitor-0001")
    assert visitor.contact is None
    assert visitor.first_seen_at == datetime(2026, 10, 1, 0, tzinfo=UTC)
    assert visitor.last_seen_at == datetime(2026, 10, 5, 0, tzinfo=UTC)
    assert (visitor.last_url, visitor.browser, visitor.device_type) == ("/b", "Chrome", "desktop")
    assert Event.objects.filter(visitor=visitor, contact=None).count() == 2


def test_an_existing_visitor_is_widened_and_its_contact_gets_the_events(db, jsonl):
    contact = ContactFactory()
    visitor = Visitor.objects.create(
        id="visitor-0002",
        contact=contact,
        first_seen_at=datetime(2026, 10, 3, tzinfo=UTC),
        last_seen_at=datetime(2026, 10, 4, tzinfo=UTC),
    )
    import_events(
        jsonl(
            page_view(visitor_id="visitor-0002", occurred_at="2026-10-01T09:00:00+09:00"),
            page_view(visitor_id="visitor-0002", occurred_at="2026-10-06T09:00:00+09:00"),
        )
    )
    visitor.refresh_from_db()
    contact.refresh_from_db()
    assert visitor.first_seen_at == datetime(2026, 10, 1, 0, tzinfo=UTC)
    assert visitor.last_seen_at == datetime(2026, 10, 6, 0, tzinfo=UTC)
    assert Event.objects.filter(contact=contact, visitor=visitor).count() == 2
    assert contact.first_seen_at == datetime(2026, 10, 1, 0, tzinfo=UTC)
    assert contact.last_seen_at == datetime(2026, 10, 6, 0, tzinfo=UTC)


def test_contacts_first_and_last_seen_widen_but_never_narrow(db, jsonl):
    contact = ContactFactory(
        email="taro@example.jp",
        first_seen_at=datetime(2026, 9, 1, tzinfo=UTC),
        last_seen_at=datetime(2026, 10, 2, tzinfo=UTC),
    )
    import_events(
        jsonl(
            page_view(email="taro@example.jp", occurred_at="2026-09-15T09:00:00+09:00"),
            page_view(email="taro@example.jp", occurred_at="2026-11-01T09:00:00+09:00"),
        )
    )
    contact.refresh_from_db()
    assert contact.first_seen_at == datetime(2026, 9, 1, tzinfo=UTC)
    assert contact.last_seen_at == datetime(2026, 11, 1, 0, tzinfo=UTC)


def test_emails_we_sent_and_bots_do_not_make_a_contact_seen(db, jsonl):
    contact = ContactFactory(email="taro@example.jp")
    import_events(
        jsonl(
            {
                "type": "email_sent",
                "occurred_at": "2026-10-01T09:00:00+09:00",
                "email": "taro@example.jp",
            },
            page_view(email="taro@example.jp", user_agent="curl/8.5.0"),
        )
    )
    contact.refresh_from_db()
    assert contact.first_seen_at is None and contact.last_seen_at is None
    assert Event.objects.get(type="page_view").is_machine is True


def test_the_user_agent_fills_browser_system_and_device(db, jsonl):
    contact = ContactFactory()
    import_events(
        jsonl(
            page_view(
                contact_id=contact.pk,
                user_agent=WINDOWS_CHROME,
                ip="203.0.113.57",
                referrer="https://www.google.com/",
                props={"title": "製品A"},
            )
        )
    )
    event = Event.objects.get()
    assert (event.browser, event.os, event.device_type, event.is_machine) == (
        "Chrome",
        "Windows",
        "desktop",
        False,
    )
    assert (event.ip, event.referrer, event.props) == (
        "203.0.113.57",
        "https://www.google.com/",
        {"title": "製品A"},
    )


def test_ip_addresses_are_shortened_when_the_site_says_so(db, jsonl):
    SiteSettings.objects.update_or_create(pk=1, defaults={"tracking_truncate_ip": True})
    contact = ContactFactory()
    import_events(jsonl(page_view(contact_id=contact.pk, ip="203.0.113.57")))
    assert Event.objects.get().ip == "203.0.113.0"


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", True), ("utf-8", False), ("cp932", False)])
def test_utf8_with_or_without_bom_and_shift_jis_are_read(db, jsonl, encoding, bom):
    contact = ContactFactory()
    status, _out, err = import_events(
        jsonl(
            page_view(contact_id=contact.pk, props={"title": "製品情報｜冷蔵庫"}),
            encoding=encoding,
            bom=bom,
        )
    )
    assert (status, err) == (0, "")
    assert Event.objects.get().props == {"title": "製品情報｜冷蔵庫"}


def test_windows_line_endings_and_blank_lines_are_fine(db, tmp_path):
    contact = ContactFactory()
    line = json.dumps(page_view(contact_id=contact.pk))
    path = tmp_path / "events.jsonl"
    path.write_bytes(f"{line}\r\n\r\n   \r\n".encode())
    status, out, _err = import_events(str(path))
    assert status == 0 and "Lines read: 1." in out


def test_a_line_in_no_known_encoding_is_rejected(db, tmp_path):
    contact = ContactFactory()
    path = tmp_path / "events.jsonl"
    good = json.dumps(page_view(contact_id=contact.pk)).encode()
    path.write_bytes(good + b"\n" + b'{"type": "\x82 "}\n')
    status, _out, err = import_events(str(path))
    assert status == 1 and err == "line 2: The line is not UTF-8 or Shift_JIS text.\n"


def test_a_line_too_long_to_be_an_event_is_rejected_without_reading_it_whole(db, tmp_path):
    contact = ContactFactory()
    path = tmp_path / "events.jsonl"
    good = json.dumps(page_view(contact_id=contact.pk)).encode()
    path.write_bytes(b'{"x": "' + b"a" * 200_000 + b'"}\n' + good + b"\n")
    status, out, err = import_events(str(path))
    assert status == 1 and err.startswith("line 1: The line is longer than 65536 bytes.")
    assert "Stored: 1" in out


def test_standard_input_is_read_with_a_dash(db, monkeypatch):
    contact = ContactFactory()
    data = json.dumps(page_view(contact_id=contact.pk)).encode() + b"\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    status, out, _err = import_events("-")
    assert status == 0 and "Stored: 1" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp_path: str(tmp_path / "missing.jsonl"), "cannot be read: No such file"),
        (lambda tmp_path: str(tmp_path), "cannot be read: Is a directory"),
        (
            lambda tmp_path: (
                (tmp_path / "x.gz").write_bytes(b"\x1f\x8b\x08\x00\x00") and str(tmp_path / "x.gz")
            ),
            "The file is not UTF-8 or Shift_JIS text",
        ),
    ],
)
def test_an_unreadable_file_exits_2_and_stores_nothing(db, tmp_path, make, message):
    status, out, err = import_events(make(tmp_path))
    assert status == 2 and message in err and out == ""
    assert Event.objects.count() == 0


def test_an_empty_file_stores_nothing_and_exits_0(db, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert import_events(str(path))[:2] == (
        0,
        "Lines read: 0. Stored: 0, already present: 0, rejected: 0.\n",
    )


def _database_url() -> str:
    """The test database as a DATABASE_URL, so that manage.py in a subprocess sees our data."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    password = f":{quote(database['PASSWORD'], safe='')}" if database["PASSWORD"] else ""
    return (
        f"postgres://{quote(database['USER'], safe='')}{password}"
        f"@{quote(database['HOST'] or 'localhost', safe='')}:{database['PORT'] or 5432}"
        f"/{database['NAME']}"
    )


def test_manage_py_exits_1_with_the_bad_lines_on_stderr(transactional_db, jsonl):
    contact = ContactFactory()
    path = jsonl(page_view(contact_id=contact.pk), page_view(contact_id=contact.pk, ip="nope"))
    completed = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "import_events", path],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "KIZUNA_DEBUG": "true",
            "DATABASE_URL": _database_url(),
            "LANGUAGE": "en",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1, completed.stderr
    # One rejection, on line 2 (the words are in the site's default language, Japanese).
    assert len(completed.stderr.splitlines()) == 1 and "nope" in completed.stderr
    assert completed.stderr.startswith(("line 2: ", "2行目: "))
    assert Event.objects.filter(contact=contact).count() == 1
