"""Read-only questions the console asks of the activity log: who is on the site now, who came
lately, which pages are read most, and what one contact (or visitor) did, visit by visit.

Every function here runs a fixed number of queries whatever the number of rows, so list pages
stay fast as the log grows. Nothing here writes.
"""

import datetime
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Case, Count, F, Max, Q, QuerySet, TextField, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Left, StrIndex
from django.utils import timezone

from kizuna.crm.models import Contact
from kizuna.tracking.models import Event, EventType, Session, Visitor, friendly_name

ONLINE_WINDOW = datetime.timedelta(minutes=5)
ONLINE_LIMIT = 100
VISITOR_PAGE_SIZE = 50
TOP_PAGE_PERIODS = (7, 30, 90)  # days
DEFAULT_TOP_PAGE_PERIOD = 30
TOP_PAGE_LIMIT = 100
SESSION_LIMIT = 20  # visits shown on a visitor's page
EVENT_LIMIT = 500  # events shown on a visitor's or contact's page
DETAIL_LIMIT = 10  # event properties shown per event
DETAIL_LENGTH = 200  # characters of one property value

VISITOR_KINDS = ("anonymous", "identified")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


# --- Visitors ------------------------------------------------------------------------------------


def visitors_online(now: datetime.datetime | None = None) -> tuple[int, list[Visitor]]:
    """Visitors seen in the last five minutes: how many, and the newest ONLINE_LIMIT of them."""
    since = (now or timezone.now()) - ONLINE_WINDOW
    online = Visitor.objects.filter(last_seen_at__gte=since)
    total = online.count()
    rows = list(online.select_related("contact").order_by("-last_seen_at", "-id")[:ONLINE_LIMIT])
    return total, rows


@dataclass(frozen=True)
class VisitorCursor:
    """Where a page of the recent-visitors list ends: (last_seen_at, id), newest first."""

    last_seen_at: datetime.datetime
    visitor_id: str

    def as_params(self) -> dict[str, str]:
        micros = (self.last_seen_at - EPOCH) // datetime.timedelta(microseconds=1)
        return {"before": str(micros), "before_id": self.visitor_id}

    @classmethod
    def from_params(cls, params) -> "VisitorCursor | None":
        micros, visitor_id = params.get("before", ""), params.get("before_id", "")
        if not (micros.isascii() and micros.isdigit() and visitor_id) or len(micros) > 18:
            return None
        try:
            return cls(EPOCH + datetime.timedelta(microseconds=int(micros)), visitor_id)
        except OverflowError:  # past the year 9999: a hand-made URL
            return None


@dataclass
class VisitorPage:
    rows: list[Visitor]
    next_cursor: VisitorCursor | None


def recent_visitors(kind: str = "", before: VisitorCursor | None = None) -> VisitorPage:
    """Visitors newest first, VISITOR_PAGE_SIZE a page; `kind` "anonymous" or "identified".

    Keyset-paged on (last_seen_at, id) so page 1,000 costs what page 1 does
    (index tracking_visitor_last_seen)."""
    visitors = Visitor.objects.select_related("contact")
    if kind == "anonymous":
        visitors = visitors.filter(contact__isnull=True)
    elif kind == "identified":
        visitors = visitors.filter(contact__isnull=False)
    if before is not None:
        visitors = visitors.filter(
            Q(last_seen_at__lt=before.last_seen_at)
            | Q(last_seen_at=before.last_seen_at, id__lt=before.visitor_id)
        )
    rows = list(visitors.order_by("-last_seen_at", "-id")[: VISITOR_PAGE_SIZE + 1])
    next_cursor = None
    if len(rows) > VISITOR_PAGE_SIZE:
        last = rows[VISITOR_PAGE_SIZE - 1]
        next_cursor = VisitorCursor(last.last_seen_at, last.id)
    return VisitorPage(rows[:VISITOR_PAGE_SIZE], next_cursor)


# --- Top pages -----------------------------------------------------------------------------------


def top_pages(days: int, now: datetime.datetime | None = None) -> list[dict]:
    """The most viewed pages of the last `days` days: host, path (query string dropped), views,
    unique visitors and one of its titles - one GROUP BY query over index tracking_event_type."""
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    return list(
        Event.objects.human()
        .filter(type=EventType.PAGE_VIEW, occurred_at__gte=since)
        .alias(question_mark=StrIndex("url", Value("?")))
        .annotate(path=_path_expression())
        .values("host", "path")
        .annotate(
            views=Count("id"),
            visitors=Count("visitor", distinct=True),
            title=Max(KT("props__title")),
        )
        .order_by("-views", "host", "path")[:TOP_PAGE_LIMIT]
    )


def _path_expression():
    """The URL without its query string, the same SQL on SQLite (instr/substr) and PostgreSQL
    (strpos/left), so /a?utm_source=mail and /a count as one page."""
    return Case(
        When(question_mark__gt=0, then=Left("url", F("question_mark") - 1)),
        default=F("url"),
        output_field=TextField(),
    )


def top_page_period(value: str) -> int:
    """The period asked for in days, or the default for anything else."""
    if value.isdigit() and int(value) in TOP_PAGE_PERIODS:
        return int(value)
    return DEFAULT_TOP_PAGE_PERIOD


# --- Visits with their events ---------------------------------------------------------------------


@dataclass
class EventRow:
    event: Event
    details: list[tuple[str, str]]


@dataclass
class Visit:
    """A session and its events newest first; `session` is None for events outside any visit
    (server-side events such as email opens) - consecutive ones share one Visit."""

    session_id: str
    session: Session | None
    events: list[EventRow] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return session_anchor(self.session_id) if self.session_id else ""

    @property
    def visitor_id(self) -> str | None:
        if self.session:
            return self.session.visitor_id
        return next((row.event.visitor_id for row in self.events if row.event.visitor_id), None)

    @property
    def visitor_name(self) -> str:
        return friendly_name(self.visitor_id) if self.visitor_id else ""

    @property
    def page_views(self) -> int:
        return sum(1 for row in self.events if row.event.type == EventType.PAGE_VIEW)

    @property
    def started_at(self) -> datetime.datetime:
        if self.session:
            return self.session.started_at
        return self.events[-1].event.occurred_at

    @property
    def ended_at(self) -> datetime.datetime:
        times = [self.session.last_seen_at] if self.session else []
        times += [self.events[0].event.occurred_at] if self.events else []
        return max(times)


def session_anchor(session_id: str) -> str:
    """An HTML id for a visit (session ids may hold characters an id or a fragment should not)."""
    return "visit-" + re.sub(r"[^A-Za-z0-9_-]", "-", session_id)


def event_details(event: Event) -> list[tuple[str, str]]:
    """The event's properties as (name, text) pairs, title first, shortened for a table cell."""
    props = event.props if isinstance(event.props, dict) else {"value": event.props}
    pairs = []
    for key in sorted(props, key=lambda name: (name != "title", str(name)))[:DETAIL_LIMIT]:
        value = props[key]
        text = value if isinstance(value, str) else _json_text(value)
        if len(text) > DETAIL_LENGTH:
            text = text[: DETAIL_LENGTH - 1] + "…"
        pairs.append((str(key)[:60], text))
    return pairs


def _json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def group_visits(events: Iterable[Event], sessions: dict[str, Session]) -> list[Visit]:
    """Events (newest first) grouped by session, visits ordered by their newest event."""
    visits: list[Visit] = []
    by_session: dict[str, Visit] = {}
    for event in events:
        row = EventRow(event, event_details(event))
        if event.session:
            visit = by_session.get(event.session)
            if visit is None:
                visit = Visit(event.session, sessions.get(event.session))
                by_session[event.session] = visit
                visits.append(visit)
        elif visits and not visits[-1].session_id:
            visit = visits[-1]
        else:
            visit = Visit("", None)
            visits.append(visit)
        visit.events.append(row)
    return visits


def visitor_visits(visitor: Visitor) -> list[Visit]:
    """A visitor's newest SESSION_LIMIT visits with (up to EVENT_LIMIT of) their events."""
    sessions = {
        session.id: session
        for session in Session.objects.filter(visitor=visitor).order_by("-started_at")[
            :SESSION_LIMIT
        ]
    }
    events = Event.objects.filter(visitor=visitor, session__in=list(sessions)).order_by(
        "-occurred_at", "-id"
    )[:EVENT_LIMIT]
    visits = group_visits(events, sessions)
    seen = {visit.session_id for visit in visits}
    # Visits whose events have all been purged still show, with their landing page.
    visits += [Visit(sid, session) for sid, session in sessions.items() if sid not in seen]
    return sorted(visits, key=lambda visit: visit.session.started_at, reverse=True)


def contact_visits(contact: Contact) -> list[Visit]:
    """The contact's newest EVENT_LIMIT events, also of its visitors not yet folded onto it,
    grouped by visit."""
    events = Event.objects.newest_of_contact(contact, EVENT_LIMIT)
    session_ids = {event.session for event in events if event.session}
    sessions = Session.objects.in_bulk(list(session_ids)) if session_ids else {}
    return group_visits(events, sessions)


# --- A contact's summary -------------------------------------------------------------------------


@dataclass
class TrackingSummary:
    first_seen_at: datetime.datetime | None = None
    last_seen_at: datetime.datetime | None = None
    visits: int = 0
    last_page: str = ""
    last_page_host: str = ""
    last_page_at: datetime.datetime | None = None
    device: str = ""
    browser: str = ""
    os: str = ""
    language: str = ""
    ip: str | None = None
    country: str = ""
    visitors: list[Visitor] = field(default_factory=list)

    @property
    def has_activity(self) -> bool:
        return bool(self.visitors or self.last_seen_at or self.visits)


def contact_sessions(contact: Contact) -> QuerySet:
    """The contact's sessions, also those of its visitors not yet folded onto it."""
    return Session.objects.filter(
        Q(contact=contact) | Q(contact__isnull=True, visitor__contact=contact)
    )


def contact_summary(contact: Contact) -> TrackingSummary:
    """First and last seen, visits, last page viewed and the newest device: three queries."""
    visitors = list(Visitor.objects.filter(contact=contact).order_by("-last_seen_at")[:100])
    summary = TrackingSummary(visitors=visitors)
    firsts = [v.first_seen_at for v in visitors] + [contact.first_seen_at]
    lasts = [v.last_seen_at for v in visitors] + [contact.last_seen_at]
    summary.first_seen_at = min((when for when in firsts if when), default=None)
    summary.last_seen_at = max((when for when in lasts if when), default=None)
    summary.visits = contact_sessions(contact).count()
    last_view = (
        Event.objects.of_contact(contact)
        .filter(type=EventType.PAGE_VIEW)
        .order_by("-occurred_at", "-id")
        .only("url", "host", "occurred_at", "browser", "os", "device_type", "ip")
        .first()
    )
    if last_view:
        summary.last_page = last_view.url
        summary.last_page_host = last_view.host
        summary.last_page_at = last_view.occurred_at
    # The device is the newest visitor's; a contact known only from events shows the event's.
    newest = visitors[0] if visitors else last_view
    if newest is not None:
        summary.device = newest.get_device_type_display() if newest.device_type else ""
        summary.browser = newest.browser
        summary.os = newest.os
        summary.ip = newest.ip
        summary.language = getattr(newest, "language", "")
        summary.country = getattr(newest, "country", "")
    return summary
