"""Storing a group of spooled records: visitors, sessions, events and contact activity, set-based.

Called by the spool's writer with a few hundred records at a time, in one transaction:
1. read the state of the group's visitors in one query (contact alias, last seen, session);
2. assign sessions in order of time (30 minutes of inactivity start a new one);
3. upsert visitors and sessions, insert events skipping keys already stored (PostgreSQL: COPY
   into a temporary table, then one INSERT … ON CONFLICT DO NOTHING);
4. move the first / last seen and the visit count of the contacts concerned;
5. `identify` records alias their visitor to the contact (stitching.identify_visitor).
"""

import datetime
import ipaddress
import json
import logging
from dataclasses import dataclass
from functools import lru_cache

import iptocc
from django.db import IntegrityError, connection, transaction

from kizuna.crm.models import Contact, Lifecycle
from kizuna.crm.normalising import normalize_email
from kizuna.tracking import stitching
from kizuna.tracking.models import SESSION_GAP_SECONDS, Visitor
from kizuna.tracking.useragents import parse_user_agent

logger = logging.getLogger(__name__)

UTC = datetime.UTC
EVENT_COLUMNS = (
    "event_id", "type", "occurred_at", "contact_id", "visitor_id", "session", "host", "url",
    "referrer", "ip", "browser", "os", "device_type", "is_machine", "props",
)  # fmt: skip


# Columns of the upserts with their PostgreSQL types (for the unnest arrays).
VISITOR_COLUMNS = [
    ("id", "text"), ("contact_id", "bigint"), ("first_seen_at", "timestamptz"),
    ("last_seen_at", "timestamptz"), ("sessions", "integer"), ("current_session", "text"),
    ("last_url", "text"), ("user_agent", "text"), ("browser", "text"), ("os", "text"),
    ("device_type", "text"), ("language", "text"), ("ip", "inet"), ("country", "text"),
]  # fmt: skip
SESSION_COLUMNS = [
    ("id", "text"), ("visitor_id", "text"), ("contact_id", "bigint"),
    ("started_at", "timestamptz"), ("last_seen_at", "timestamptz"), ("events", "integer"),
    ("landing_url", "text"), ("referrer", "text"),
]  # fmt: skip


@dataclass
class _VisitorState:
    contact_id: int | None
    last_seen: float | None
    session: str
    new: bool
    first_seen: float = 0.0
    sessions_added: int = 0
    last_url: str = ""
    user_agent: str = ""
    language: str = ""
    ip: str = ""


def store_records(records: list[dict]) -> None:
    """Store spooled records (see ingest.py for their keys). Idempotent per record key."""
    records = sorted((r for r in records if _well_formed(r)), key=lambda r: r["at"])
    if not records:
        return
    with transaction.atomic():
        visitors = _visitor_states({r["v"] for r in records if r.get("v")})
        user_contacts = _contacts_of_users({r["user"] for r in records if r.get("user")})
        events, sessions, contacts, identifies = [], {}, {}, []
        for record in records:
            agent = parse_user_agent(record.get("ua") or "")
            machine = bool(record.get("m"))
            if agent.is_bot and not machine:
                continue  # known bots are not tracked
            at = record["at"]
            contact_id = record.get("c") or user_contacts.get(record.get("user"))
            visitor_id = record.get("v") or None
            session_id = ""
            if visitor_id:
                state = visitors.setdefault(
                    visitor_id, _VisitorState(None, None, "", new=True, first_seen=at)
                )
                if contact_id and not state.contact_id:
                    state.contact_id = contact_id  # a logged-in member's own pages
                contact_id = contact_id or state.contact_id
                if not state.session or at - (state.last_seen or 0) > SESSION_GAP_SECONDS:
                    state.session = f"{visitor_id}.{int(at):x}"
                    state.sessions_added += 1
                    sessions[state.session] = _new_session(record, visitor_id, at)
                    if contact_id:
                        contacts.setdefault(contact_id, [at, at, 0])[2] += 1
                state.last_seen = max(state.last_seen or at, at)
                if record["t"] == "page_view":
                    state.last_url = _full_url(record)
                state.user_agent = record.get("ua") or state.user_agent
                state.language = record.get("lang") or state.language
                state.ip = record.get("ip") or state.ip
                session_id = state.session
                session = sessions.setdefault(session_id, _existing_session(session_id, at))
                session["events"] += 1
                session["last_seen"] = max(session["last_seen"], at)
                session["contact_id"] = session["contact_id"] or contact_id
            if contact_id:
                seen = contacts.setdefault(contact_id, [at, at, 0])
                seen[0], seen[1] = min(seen[0], at), max(seen[1], at)
            if record["t"] == "identify" and visitor_id:
                identifies.append((visitor_id, record["email"], at))
            events.append(
                (
                    record["k"], record["t"], _when(at), contact_id, visitor_id, session_id,
                    record.get("h", ""), record.get("u", ""), record.get("r", ""),
                    record.get("ip") or None, agent.browser, agent.os, agent.device_type,
                    machine, json.dumps(record.get("p") or {}, ensure_ascii=False),
                )
            )  # fmt: skip
        with connection.cursor() as cursor:
            _upsert_visitors(cursor, visitors)
            _upsert_sessions(cursor, sessions)
            _insert_events(cursor, events)
            _move_contact_activity(cursor, contacts)
        for visitor_id, email, at in identifies:
            contact = _contact_for_email(email)
            stitching.identify_visitor(visitor_id, contact, at=_when(at))


def _well_formed(record) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("k"), str)
        and isinstance(record.get("t"), str)
        and isinstance(record.get("at"), int | float)
    )


def _when(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, UTC)


def _db_time(epoch: float):
    return connection.ops.adapt_datetimefield_value(_when(epoch))


def _full_url(record: dict) -> str:
    host = record.get("h") or ""
    return f"//{host}{record.get('u', '')}" if host else record.get("u", "")


def _visitor_states(ids: set[str]) -> dict[str, _VisitorState]:
    states = {}
    ids = sorted(ids)
    for start in range(0, len(ids), 500):
        rows = Visitor.objects.filter(pk__in=ids[start : start + 500]).values_list(
            "id", "contact_id", "last_seen_at", "current_session", "first_seen_at"
        )
        for visitor_id, contact_id, last_seen, session, first_seen in rows:
            states[visitor_id] = _VisitorState(
                contact_id,
                last_seen.timestamp(),
                session,
                new=False,
                first_seen=first_seen.timestamp(),
            )
    return states


def _contacts_of_users(user_ids: set[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    return dict(Contact.objects.filter(user_id__in=user_ids).values_list("user_id", "id"))


def _new_session(record: dict, visitor_id: str, at: float) -> dict:
    return {
        "visitor_id": visitor_id,
        "started": at,
        "last_seen": at,
        "events": 0,
        "contact_id": None,
        "landing_url": _full_url(record) if record["t"] == "page_view" else "",
        "referrer": record.get("r", ""),
        "new": True,
    }


def _existing_session(session_id: str, at: float) -> dict:
    """A session begun in an earlier group: only its counters move."""
    return {
        "visitor_id": session_id.rsplit(".", 1)[0],
        "started": at,
        "last_seen": at,
        "events": 0,
        "contact_id": None,
        "landing_url": "",
        "referrer": "",
        "new": False,
    }


@lru_cache(maxsize=8192)
def _country(ip: str) -> str:
    try:
        if not ip or not ipaddress.ip_address(ip).is_global:
            return ""
        return (iptocc.country_code(ip) or "")[:2]
    except ValueError:
        return ""


def _upsert_visitors(cursor, visitors: dict[str, _VisitorState]) -> None:
    rows = []
    for visitor_id, state in visitors.items():
        if state.last_seen is None:
            continue  # read from the database but not seen in this group
        agent = parse_user_agent(state.user_agent)
        rows.append(
            (
                visitor_id, state.contact_id, _db_time(state.first_seen),
                _db_time(state.last_seen), state.sessions_added, state.session,
                state.last_url, state.user_agent[:1024], agent.browser, agent.os,
                agent.device_type, state.language, state.ip or None, _country(state.ip),
            )
        )  # fmt: skip
    _upsert(
        cursor,
        "tracking_visitor",
        VISITOR_COLUMNS,
        rows,
        """
        ON CONFLICT (id) DO UPDATE SET
            contact_id = COALESCE(tracking_visitor.contact_id, excluded.contact_id),
            last_seen_at = CASE WHEN excluded.last_seen_at > tracking_visitor.last_seen_at
                THEN excluded.last_seen_at ELSE tracking_visitor.last_seen_at END,
            sessions = tracking_visitor.sessions + excluded.sessions,
            current_session = excluded.current_session,
            last_url = CASE WHEN excluded.last_url = '' THEN tracking_visitor.last_url
                ELSE excluded.last_url END,
            user_agent = excluded.user_agent, browser = excluded.browser, os = excluded.os,
            device_type = excluded.device_type,
            language = CASE WHEN excluded.language = '' THEN tracking_visitor.language
                ELSE excluded.language END,
            ip = excluded.ip, country = excluded.country
        """,
    )


def _upsert_sessions(cursor, sessions: dict[str, dict]) -> None:
    rows = [
        (
            session_id, s["visitor_id"], s["contact_id"], _db_time(s["started"]),
            _db_time(s["last_seen"]), s["events"], s["landing_url"], s["referrer"],
        )
        for session_id, s in sessions.items()
    ]  # fmt: skip
    _upsert(
        cursor,
        "tracking_session",
        SESSION_COLUMNS,
        rows,
        """
        ON CONFLICT (id) DO UPDATE SET
            contact_id = COALESCE(tracking_session.contact_id, excluded.contact_id),
            last_seen_at = CASE WHEN excluded.last_seen_at > tracking_session.last_seen_at
                THEN excluded.last_seen_at ELSE tracking_session.last_seen_at END,
            events = tracking_session.events + excluded.events
        """,
    )


def _upsert(cursor, table: str, columns: list[tuple[str, str]], rows: list, conflict: str):
    """INSERT … ON CONFLICT of many rows. Rows go in key order, the same in every writer, so two
    writers upserting the same visitors never deadlock. PostgreSQL gets one statement over
    arrays (unnest) instead of a round trip a row."""
    if not rows:
        return
    rows.sort(key=lambda row: row[0])
    names = ", ".join(name for name, _ in columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}",  # noqa: S608
            [list(column) for column in zip(*rows, strict=True)],
        )
        return
    placeholders = ", ".join(["%s"] * len(columns))
    cursor.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({placeholders}) {conflict}",  # noqa: S608
        rows,
    )


def _insert_events(cursor, rows: list[tuple]) -> None:
    if not rows:
        return
    columns = ", ".join(EVENT_COLUMNS)
    if connection.vendor == "postgresql":
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tracking_event_incoming ON COMMIT DELETE ROWS "  # noqa: S608
            f"AS SELECT {columns} FROM tracking_event WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY tracking_event_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO tracking_event ({columns}) SELECT {columns} "  # noqa: S608 - constants
            "FROM tracking_event_incoming ON CONFLICT (event_id) DO NOTHING"
        )
        return
    rows = [(*row[:2], _db_time(row[2].timestamp()), *row[3:]) for row in rows]
    placeholders = ", ".join(["%s"] * len(EVENT_COLUMNS))
    cursor.executemany(
        f"INSERT INTO tracking_event ({columns}) VALUES ({placeholders})"  # noqa: S608 - constants
        " ON CONFLICT (event_id) DO NOTHING",
        rows,
    )


def _move_contact_activity(cursor, contacts: dict[int, list]) -> None:
    rows = [
        (_db_time(first), _db_time(first), _db_time(last), _db_time(last), new_sessions, pk)
        for pk, (first, last, new_sessions) in sorted(contacts.items())
    ]
    if not rows:
        return
    cursor.executemany(
        """
        UPDATE crm_contact SET
            first_seen_at = CASE WHEN first_seen_at IS NULL OR first_seen_at > %s
                THEN %s ELSE first_seen_at END,
            last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < %s
                THEN %s ELSE last_seen_at END,
            sessions = sessions + %s
        WHERE id = %s
        """,
        rows,
    )


def _contact_for_email(email: str) -> Contact:
    """The contact with this email, or a new one (lifecycle visitor: known only by tracking)."""
    email = normalize_email(email)
    existing = Contact.objects.with_emails([email]).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Contact.objects.create(
                email=email, lifecycle=Lifecycle.VISITOR, source="tracking"
            )
    except IntegrityError:  # another writer created it at the same moment
        return Contact.objects.with_emails([email]).get()
