"""Events from another system's history, one JSON object a line (`manage.py import_events`).

Streaming: lines are read, checked and stored a chunk at a time, never the whole file in memory.
Idempotent (DESIGN.md principle 6): every event has a key - its own `event_id`, or one derived
from its content - and is inserted with ON CONFLICT DO NOTHING, so running the same file twice,
or again after a crash half-way, stores nothing twice. A bad line is reported with its number and
skipped; the others are stored.
"""

import codecs
import hashlib
import io
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.db import reset_queries, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils.translation import gettext as _

from kizuna.core.models import SiteSettings
from kizuna.crm.models import Contact
from kizuna.crm.normalising import normalize_email
from kizuna.tracking import ingest
from kizuna.tracking.ingest import shorten_ip
from kizuna.tracking.models import Event, EventType, Visitor
from kizuna.tracking.useragents import parse_user_agent

CHUNK_SIZE = 2000
DETECT_BYTES = 64 * 1024
# The longest line that can be valid: 8 KB of props, two URLs, an agent and the rest, with room.
MAX_LINE_BYTES = 64 * 1024
MAX_URL = ingest.MAX_URL  # 2048, as the collector accepts
MAX_USER_AGENT = 1024
MAX_PROPS_BYTES = 8 * 1024
MAX_EVENT_ID = Event._meta.get_field("event_id").max_length
MAX_EMAIL = 254
TYPE_PATTERN = ingest.EVENT_TYPE  # [a-z][a-z0-9_]{0,39}
VISITOR_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
REQUIRED_KEYS = {"type", "occurred_at"}
IDENTITY_KEYS = ("email", "contact_id", "visitor_id")
OPTIONAL_KEYS = {"url", "referrer", "ip", "user_agent", "props", "event_id"}
KNOWN_KEYS = REQUIRED_KEYS | set(IDENTITY_KEYS) | OPTIONAL_KEYS
DERIVED_KEY_PREFIX = "bf:"
# Done to the person, not by them: such an event does not make a contact "seen".
NOT_SEEN_TYPES = [EventType.EMAIL_SENT.value]


class BackfillFileError(Exception):
    """The file cannot be read at all (nothing was stored)."""


class LineError(Exception):
    """One line is rejected; the message says why, in the user's language."""


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class BackfillResult:
    read: int = 0  # non-blank lines
    stored: int = 0
    present: int = 0  # already stored by an earlier run (or twice in this file)
    rejected: int = 0


@dataclass(frozen=True)
class CheckedLine:
    number: int
    key: str
    type: str
    occurred_at: datetime
    email: str  # normalised and lower-cased
    contact_id: int | None
    visitor_id: str
    host: str
    url: str
    referrer: str
    ip: str | None
    user_agent: str
    props: dict


def import_events(
    stream,
    *,
    on_rejection: Callable[[Rejection], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> BackfillResult:
    """Store the events of a binary stream of JSON lines (UTF-8, with or without a BOM, or
    Shift_JIS/CP932). Rejected lines go to `on_rejection` in line order, a chunk at a time."""
    truncate_ip = SiteSettings.current().tracking_truncate_ip
    result = BackfillResult()
    pending: list[CheckedLine] = []
    rejections: list[Rejection] = []

    def flush():
        if pending:
            rejections.extend(_store(pending, result))
        rejections.sort(key=lambda rejection: rejection.line)
        for rejection in rejections:
            result.rejected += 1
            if on_rejection is not None:
                on_rejection(rejection)
        pending.clear()
        rejections.clear()
        # Under DEBUG Django logs every statement with its parameters (the last 9,000): for a
        # long file that would be gigabytes of INSERTs. A chunk's statements are done with.
        reset_queries()

    for number, text in read_lines(stream):
        if isinstance(text, str) and not text.strip():
            continue
        result.read += 1
        try:
            if isinstance(text, LineError):
                raise text
            pending.append(check_line(number, text, truncate_ip=truncate_ip))
        except LineError as error:
            rejections.append(Rejection(number, str(error)))
        if len(pending) >= chunk_size or len(rejections) >= chunk_size:
            flush()
    flush()
    return result


# --- Reading ------------------------------------------------------------------------------------


def read_lines(stream) -> Iterator[tuple[int, "str | LineError"]]:
    """(line number, text) of each line, or (line number, the error) for a line that is too long
    to be an event or is neither UTF-8 nor CP932.

    Each line is decoded on its own - UTF-8 (a BOM on the first is dropped), else CP932 - so a
    file exported by a Japanese Windows tool reads as well as one from a Unix pipeline."""
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(stream, DETECT_BYTES)
    head = stream.peek(DETECT_BYTES)[:DETECT_BYTES]
    if b"\x00" in head:  # text never has NUL bytes; gzip, UTF-16 and spreadsheets do
        raise BackfillFileError(
            _("The file is not UTF-8 or Shift_JIS text (compressed, or UTF-16, perhaps?).")
        )
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = stream.readline(MAX_LINE_BYTES)
            yield (
                number,
                LineError(
                    _("The line is longer than %(limit)d bytes.") % {"limit": MAX_LINE_BYTES}
                ),
            )
            continue
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        yield number, _decoded(raw)


def _decoded(raw: bytes) -> "str | LineError":
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return LineError(_("The line is not UTF-8 or Shift_JIS text."))


# --- Checking one line --------------------------------------------------------------------------


def check_line(number: int, text: str, *, truncate_ip: bool = False) -> CheckedLine:
    """The line's event, checked and normalised; raises LineError with the first problem."""
    try:
        data = json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as error:
        raise LineError(
            _("Not valid JSON (column %(column)d): %(error)s")
            % {"column": error.colno, "error": error.msg}
        ) from None
    if not isinstance(data, dict):
        raise LineError(_("Each line must be a JSON object ({…})."))
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise LineError(_("Unknown keys: %(keys)s.") % {"keys": ", ".join(unknown)})

    event_type = _checked_type(data.get("type"))
    occurred_at = _checked_time(data.get("occurred_at"))
    email, contact_id, visitor_id = _checked_identity(data)
    host, url = _checked_url(data.get("url"))
    referrer = _text(data, "referrer", MAX_URL)
    ip = _checked_ip(data.get("ip"))
    user_agent = _text(data, "user_agent", MAX_USER_AGENT)
    props = _checked_props(data.get("props"))
    key = _checked_event_id(data.get("event_id"))
    if not key:
        key = derived_event_id(
            {
                "type": event_type,
                "occurred_at": occurred_at.astimezone(UTC).isoformat(),
                "email": email,
                "contact_id": contact_id,
                "visitor_id": visitor_id,
                "host": host,
                "url": url,
                "referrer": referrer,
                "ip": ip,
                "user_agent": user_agent,
                "props": props,
            }
        )
    return CheckedLine(
        number=number,
        key=key,
        type=event_type,
        occurred_at=occurred_at,
        email=email,
        contact_id=contact_id,
        visitor_id=visitor_id,
        host=host,
        url=url,
        referrer=referrer,
        ip=shorten_ip(ip) if ip and truncate_ip else ip,
        user_agent=user_agent,
        props=props,
    )


def derived_event_id(canonical: dict) -> str:
    """A key for an event that came without one: the same content always gives the same key."""
    content = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return DERIVED_KEY_PREFIX + hashlib.sha256(content.encode()).hexdigest()[:32]


def _checked_type(value) -> str:
    if value is None:
        raise LineError(_("“type” is missing."))
    if not isinstance(value, str) or not TYPE_PATTERN.fullmatch(value):
        raise LineError(
            _(
                "“type” must be 1 to 40 lower-case letters, digits or _, starting with a letter "
                "(page_view, form_submit…)."
            )
        )
    return value


def _checked_time(value) -> datetime:
    if value is None:
        raise LineError(_("“occurred_at” is missing."))
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise LineError(
            _("“occurred_at” is not an ISO 8601 date and time: %(value)s") % {"value": value}
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise LineError(
            _("“occurred_at” needs a UTC offset, for example 2026-11-22T09:00:00+09:00.")
        )
    return moment


def _checked_identity(data: dict) -> tuple[str, int | None, str]:
    given = [key for key in IDENTITY_KEYS if data.get(key) not in (None, "")]
    if len(given) != 1:
        raise LineError(_("Give exactly one of “email”, “contact_id” and “visitor_id”."))
    value = data[given[0]]
    if given[0] == "email":
        if not isinstance(value, str) or "@" not in value or len(value) > MAX_EMAIL:
            raise LineError(_("“email” is not an email address: %(value)s") % {"value": value})
        return normalize_email(value).lower(), None, ""
    if given[0] == "contact_id":
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
            raise LineError(_("“contact_id” must be a contact's number."))
        return "", value, ""
    if not isinstance(value, str) or not VISITOR_ID_PATTERN.fullmatch(value):
        raise LineError(_("“visitor_id” must be 8 to 64 letters, digits, _ or -."))
    return "", None, value


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LineError(_("“%(key)s” must be a string.") % {"key": key})
    if len(value) > limit:
        raise LineError(
            _("“%(key)s” is longer than %(limit)d characters.") % {"key": key, "limit": limit}
        )
    return value


def _checked_url(value) -> tuple[str, str]:
    """(host, path + query string) of a full http(s) URL or of a path."""
    url = _text({"url": value}, "url", MAX_URL)
    if not url:
        return "", ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is not None and parts.scheme in ("http", "https") and parts.hostname:
        host = parts.hostname + (f":{port}" if port else "")
    elif parts is not None and not parts.scheme and not parts.netloc and url.startswith("/"):
        host = ""
    else:
        raise LineError(
            _("“url” must be a full http(s) URL or a path starting with /: %(value)s")
            % {"value": url}
        )
    path = parts.path or "/"
    return host, path + (f"?{parts.query}" if parts.query else "")


def _checked_ip(value) -> str | None:
    if value in (None, ""):
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise LineError(_("“ip” is not an IP address: %(value)s") % {"value": value}) from None


def _checked_props(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LineError(_("“props” must be a JSON object ({…})."))
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_PROPS_BYTES:
        raise LineError(_("“props” is larger than 8 KB (%(size)d bytes as JSON).") % {"size": size})
    return value


def _checked_event_id(value) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > MAX_EVENT_ID or not value.isprintable():
        raise LineError(
            _("“event_id” must be a string of at most %(limit)d characters.")
            % {"limit": MAX_EVENT_ID}
        )
    return value


# --- Storing a chunk ----------------------------------------------------------------------------


def _store(lines: list[CheckedLine], result: BackfillResult) -> list[Rejection]:
    """Resolve who each event belongs to, store the new ones; returns the lines rejected here."""
    emails = {line.email for line in lines if line.email}
    contact_of_email = {
        normalize_email(email).lower(): pk
        for email, pk in Contact.objects.with_emails(sorted(emails)).values_list("email", "pk")
    }
    wanted_contacts = {line.contact_id for line in lines if line.contact_id}
    known_contacts = set(
        Contact.objects.filter(pk__in=wanted_contacts).values_list("pk", flat=True)
    )
    wanted_visitors = {line.visitor_id for line in lines if line.visitor_id}
    known_visitors = dict(
        Visitor.objects.filter(pk__in=wanted_visitors).values_list("pk", "contact_id")
    )

    rejections = []
    accepted: list[tuple[CheckedLine, int | None]] = []
    for line in lines:
        if line.email:
            contact_id = contact_of_email.get(line.email)
            if contact_id is None:
                reason = _("No contact has the email address %(email)s.") % {"email": line.email}
                rejections.append(Rejection(line.number, reason))
                continue
        elif line.contact_id:
            contact_id = line.contact_id
            if contact_id not in known_contacts:
                reason = _("There is no contact number %(id)d.") % {"id": contact_id}
                rejections.append(Rejection(line.number, reason))
                continue
        else:  # an identified visitor's events belong to its contact too
            contact_id = known_visitors.get(line.visitor_id)
        accepted.append((line, contact_id))

    present = set(
        Event.objects.filter(event_id__in=[line.key for line, _c in accepted]).values_list(
            "event_id", flat=True
        )
    )
    new: list[tuple[CheckedLine, int | None]] = []
    for line, contact_id in accepted:
        if line.key in present:
            result.present += 1
            continue
        present.add(line.key)  # the same event twice in one chunk
        new.append((line, contact_id))
    if not new:
        return rejections

    with transaction.atomic():
        _create_visitors([line for line, _c in new if line.visitor_id not in known_visitors])
        events = []
        for line, contact_id in new:
            agent = parse_user_agent(line.user_agent) if line.user_agent else None
            events.append(
                Event(
                    event_id=line.key,
                    type=line.type,
                    occurred_at=line.occurred_at,
                    contact_id=contact_id,
                    visitor_id=line.visitor_id or None,
                    host=line.host,
                    url=line.url,
                    referrer=line.referrer,
                    ip=line.ip,
                    browser=agent.browser if agent else "",
                    os=agent.os if agent else "",
                    device_type=agent.device_type if agent else "",
                    is_machine=agent.is_bot if agent else False,
                    props=line.props,
                )
            )
        Event.objects.bulk_create(events, ignore_conflicts=True, batch_size=500)
        update_seen(
            contact_ids={contact_id for _line, contact_id in new if contact_id},
            visitor_ids={line.visitor_id for line, _c in new if line.visitor_id},
        )
    result.stored += len(new)
    return rejections


def _create_visitors(lines: list[CheckedLine]) -> None:
    """Visitors the file names that are not in the database yet, described by their newest event
    of the chunk (update_seen() then widens first / last seen to every stored event)."""
    by_visitor: dict[str, list[CheckedLine]] = {}
    for line in lines:
        if line.visitor_id:
            by_visitor.setdefault(line.visitor_id, []).append(line)
    visitors = []
    for visitor_id, own in by_visitor.items():
        newest = max(own, key=lambda line: line.occurred_at)
        agent = parse_user_agent(newest.user_agent) if newest.user_agent else None
        visitors.append(
            Visitor(
                id=visitor_id,
                first_seen_at=min(line.occurred_at for line in own),
                last_seen_at=newest.occurred_at,
                last_url=f"//{newest.host}{newest.url}" if newest.host else newest.url,
                user_agent=newest.user_agent,
                browser=agent.browser if agent else "",
                os=agent.os if agent else "",
                device_type=agent.device_type if agent else "",
                ip=newest.ip,
            )
        )
    Visitor.objects.bulk_create(visitors, ignore_conflicts=True)


def update_seen(*, contact_ids, visitor_ids) -> None:
    """Widen first / last seen of these contacts and visitors to their stored events: one
    set-based UPDATE each (the newest and oldest event come from the per-contact and per-visitor
    indexes). A contact is seen by its own human activity, not by an email we sent it."""
    if contact_ids:
        seen = (
            Event.objects.filter(contact_id=OuterRef("pk"), is_machine=False)
            .exclude(type__in=NOT_SEEN_TYPES)
            .order_by()
        )
        first = Subquery(seen.order_by("occurred_at").values("occurred_at")[:1])
        last = Subquery(seen.order_by("-occurred_at").values("occurred_at")[:1])
        # Least/Greatest return NULL on SQLite when one side is NULL: Coalesce covers both
        # a contact never seen before and one whose events here are all not "seen".
        Contact.objects.filter(pk__in=contact_ids).update(
            first_seen_at=Coalesce(Least(F("first_seen_at"), first), first, F("first_seen_at")),
            last_seen_at=Coalesce(Greatest(F("last_seen_at"), last), last, F("last_seen_at")),
        )
    if visitor_ids:
        own = Event.objects.filter(visitor_id=OuterRef("pk")).order_by()
        first = Subquery(own.order_by("occurred_at").values("occurred_at")[:1])
        last = Subquery(own.order_by("-occurred_at").values("occurred_at")[:1])
        Visitor.objects.filter(pk__in=visitor_ids).update(
            first_seen_at=Least(F("first_seen_at"), Coalesce(first, F("first_seen_at"))),
            last_seen_at=Greatest(F("last_seen_at"), Coalesce(last, F("last_seen_at"))),
        )
