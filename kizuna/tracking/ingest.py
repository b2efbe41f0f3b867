"""What the collect endpoint and the pixel accept: every field validated and size-checked.

This runs on the hot path, before Django's middleware stack and without the database: it turns a
request body into spool records (plain dicts) or refuses the whole batch with a reason. A refused
batch stores nothing.
"""

import ipaddress
import json
import math
import re
import time
import uuid
from dataclasses import dataclass
from hashlib import blake2b
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS = 50
MAX_URL = 2048
MAX_TITLE = 500
MAX_PROPS = 20
MAX_PROP_TEXT = 500

VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
CLIENT_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,39}")
PROP_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")
LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}")

# Types only Kizuna itself records (a login, a form post, an email open…): a page elsewhere may
# not claim them.
SERVER_ONLY_TYPES = frozenset(
    {
        "login",
        "registered",
        "form_submit",
        "email_sent",
        "email_open",
        "email_click",
        "unsubscribe",
        "question_posted",
        "answer_posted",
        "answer_accepted",
        "ticket_opened",
        "segment_entered",
        "segment_exited",
        "email_verified",
        "approved",
        "rejected",
        "suspended",
        "reactivated",
        "withdrawn",
    }
)


class Refused(ValueError):
    """The batch is refused; `status` is the HTTP answer, the message says why (for developers)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Hit:
    """Who sent a request, as the collector saw it."""

    ip: str
    user_agent: str
    received_at: float  # epoch seconds


def new_visitor_id() -> str:
    return uuid.uuid4().hex


def client_ip(remote_addr: str, forwarded_for: str, behind_proxy: bool) -> str:
    """The caller's address; behind our own proxy, the last X-Forwarded-For hop (its own)."""
    candidate = remote_addr
    if behind_proxy and forwarded_for:
        candidate = forwarded_for.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return ""


def shorten_ip(ip: str) -> str:
    """203.0.113.57 -> 203.0.113.0; IPv6 keeps its first 48 bits."""
    if not ip:
        return ip
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def parse_batch(body: bytes, hit: Hit, *, consent_required: bool) -> list[dict]:
    """Spool records for a /t/collect body, or Refused. Nothing of a refused batch is kept.

    Body: {"v": visitor id, "consent": bool, "events": [{"type", "url", "title", "referrer",
    "lang", "id", "props", "email" (identify)}]}"""
    if len(body) > MAX_BODY_BYTES:
        raise Refused(f"body over {MAX_BODY_BYTES} bytes", 413)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused("body must be a JSON object")
    visitor = payload.get("v")
    if not isinstance(visitor, str) or not VISITOR_ID.fullmatch(visitor):
        raise Refused("v: a visitor id of 16-64 letters, digits, - or _ is required")
    consent = payload.get("consent", False)
    if not isinstance(consent, bool):
        raise Refused("consent: must be true or false")
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        raise Refused("events: a non-empty list is required")
    if len(events) > MAX_EVENTS:
        raise Refused(f"events: at most {MAX_EVENTS} a batch", 413)
    records = [_event_record(event, index, visitor, hit) for index, event in enumerate(events)]
    if consent_required and not consent:
        return []  # the site asks for consent and this visitor has not given it: keep nothing
    return records


def _event_record(event, index: int, visitor: str, hit: Hit) -> dict:
    where = f"events[{index}]"
    if not isinstance(event, dict):
        raise Refused(f"{where}: must be an object")
    unknown = set(event) - {"type", "url", "title", "referrer", "lang", "id", "props", "email"}
    if unknown:
        raise Refused(f"{where}: unknown keys {sorted(unknown)}")
    kind = event.get("type")
    if not isinstance(kind, str) or not EVENT_TYPE.fullmatch(kind):
        raise Refused(f"{where}.type: lowercase letters, digits and _ (at most 40)")
    if kind in SERVER_ONLY_TYPES:
        raise Refused(f"{where}.type: {kind} is recorded by Kizuna itself", 403)
    host, path = _url(event.get("url"), f"{where}.url", required=kind == "page_view")
    _url(event.get("referrer"), f"{where}.referrer", required=False)
    referrer = event.get("referrer") or ""
    title = _text(event.get("title"), f"{where}.title", MAX_TITLE)
    language = _text(event.get("lang"), f"{where}.lang", 35)
    if language and not LANGUAGE.fullmatch(language):
        raise Refused(f"{where}.lang: a language tag such as ja-JP")
    props = _props(event.get("props"), f"{where}.props")
    if title:
        props["title"] = title
    record = {
        "k": _event_key(visitor, event.get("id"), f"{where}.id"),
        "t": kind,
        "at": hit.received_at,
        "v": visitor,
        "h": host,
        "u": path,
        "r": referrer,
        "ip": hit.ip,
        "ua": hit.user_agent,
        "lang": language,
        "p": props,
    }
    if kind == "identify":
        email = event.get("email")
        if not isinstance(email, str) or len(email) > 254:
            raise Refused(f"{where}.email: an email address is required to identify")
        try:
            validate_email(email.strip())
        except ValidationError:
            raise Refused(f"{where}.email: not an email address") from None
        record["email"] = email.strip()
    elif "email" in event:
        raise Refused(f"{where}.email: only identify takes an email")
    return record


def _url(value, where: str, *, required: bool) -> tuple[str, str]:
    """(host, path + query) of an absolute http(s) URL."""
    if value in (None, ""):
        if required:
            raise Refused(f"{where}: required")
        return "", ""
    if not isinstance(value, str) or len(value) > MAX_URL:
        raise Refused(f"{where}: a URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise Refused(f"{where}: not a URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise Refused(f"{where}: an absolute http or https URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return hostname.lower()[:255], path


def _text(value, where: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(f"{where}: text of at most {limit} characters")
    return value.replace("\x00", "")


def _props(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_PROPS:
        raise Refused(f"{where}: an object of at most {MAX_PROPS} keys")
    props = {}
    for key, item in value.items():
        if not PROP_KEY.fullmatch(key):
            raise Refused(f"{where}: key {key[:50]!r} must be 1-40 letters, digits, _ . -")
        if isinstance(item, str):
            if len(item) > MAX_PROP_TEXT:
                raise Refused(f"{where}.{key}: text of at most {MAX_PROP_TEXT} characters")
            item = item.replace("\x00", "")
        elif isinstance(item, float) and not math.isfinite(item):
            raise Refused(f"{where}.{key}: not a number")
        elif not (item is None or isinstance(item, bool | int | float)):
            raise Refused(f"{where}.{key}: text, a number, true/false or null")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53:
            raise Refused(f"{where}.{key}: number too large")
        props[key] = item
    return props


def _event_key(visitor: str, client_id, where: str) -> str:
    """A client id makes a retried batch idempotent; without one every hit is new."""
    if client_id is None:
        return uuid.uuid4().hex
    if not isinstance(client_id, str) or not CLIENT_EVENT_ID.fullmatch(client_id):
        raise Refused(f"{where}: 8-64 letters, digits, - or _")
    return "c" + blake2b(f"{visitor}:{client_id}".encode(), digest_size=20).hexdigest()


def server_record(
    kind: str,
    *,
    visitor: str = "",
    contact_id: int | None = None,
    user_id: int | None = None,
    host: str = "",
    url: str = "",
    referrer: str = "",
    ip: str = "",
    user_agent: str = "",
    language: str = "",
    props: dict | None = None,
    at: float | None = None,
    key: str | None = None,
) -> dict:
    """A spool record for an event Kizuna records itself (own pages, login, …)."""
    return {
        "k": key or uuid.uuid4().hex,
        "t": kind,
        "at": at if at is not None else time.time(),
        "v": visitor,
        "c": contact_id,
        "user": user_id,
        "h": host[:255],
        "u": url[:MAX_URL],
        "r": referrer[:MAX_URL],
        "ip": ip,
        "ua": user_agent[:1024],
        "lang": language[:35],
        "p": props or {},
    }
