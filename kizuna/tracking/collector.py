"""The hot tracking path: `POST /t/collect` and `GET /t/p.gif`, in front of Django's middleware.

kizuna/wsgi.py wraps the Django application in TrackingCollector, so a hit costs a JSON parse, a
validation and one append to the spool — no middleware stack, no database. The same handlers
also serve as Django views (for runserver and the test client), see views/site.py.
"""

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import DatabaseError, connection

from kizuna.core.models import ConsentMode, SiteSettings
from kizuna.tracking import ingest
from kizuna.tracking.spool import get_spool

logger = logging.getLogger(__name__)

SETTINGS_TTL_SECONDS = 5.0
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


# --- Settings read on the hot path, refreshed every few seconds --------------------------------


class _CachedSettings:
    def __init__(self):
        self._lock = threading.Lock()
        self._read_at = 0.0
        self.domains: tuple[str, ...] = ()
        self.consent_required = False
        self.truncate_ip = False

    def refresh(self) -> "_CachedSettings":
        if time.monotonic() - self._read_at > SETTINGS_TTL_SECONDS:
            with self._lock:
                if time.monotonic() - self._read_at > SETTINGS_TTL_SECONDS:
                    try:
                        row = SiteSettings.current()
                    except DatabaseError:
                        # The database is away (restarting): keep accepting with the values
                        # read last; the events wait in the spool.
                        logger.warning("Tracking settings unreadable; using the last ones")
                        connection.close()
                        self._read_at = time.monotonic()
                        return self
                    self.domains = tuple(row.tracking_domain_list)
                    self.consent_required = row.tracking_consent_mode == ConsentMode.AFTER_CONSENT
                    self.truncate_ip = row.tracking_truncate_ip
                    self._read_at = time.monotonic()
        return self

    def forget(self) -> None:
        """Read the row again on the next request (after staff saved it)."""
        self._read_at = 0.0

    def prime(self, *, domains=(), consent_required=False, truncate_ip=False) -> None:
        """Use these values for the next few seconds without reading the row (tests)."""
        self.domains, self.consent_required, self.truncate_ip = (
            tuple(domains),
            consent_required,
            truncate_ip,
        )
        self._read_at = time.monotonic()


site_settings = _CachedSettings()


def host_allowed(host: str, own_host: str, domains: tuple[str, ...]) -> bool:
    """Our own host, a listed domain, or a subdomain of a listed domain."""
    host = host.lower().rstrip(".")
    if host and host == own_host.lower().split(":")[0]:
        return True
    return any(host == domain or host.endswith("." + domain) for domain in domains)


# --- Rate limit per IP (per process: a cheap first line against floods) ------------------------


class RateLimiter:
    """At most `limit` requests per IP in each minute-long window; 0 turns it off."""

    def __init__(self):
        self._lock = threading.Lock()
        self._window = 0
        self._counts: dict[str, int] = {}

    def allow(self, ip: str, limit: int) -> bool:
        if limit <= 0:
            return True
        window = int(time.monotonic() // 60)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            count = self._counts.get(ip, 0) + 1
            self._counts[ip] = count
        return count <= limit


rate_limiter = RateLimiter()


# --- The handlers -------------------------------------------------------------------------------


def _hostname(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _cors(origin: str) -> list[tuple[str, str]]:
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", "POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Content-Type"),
        ("Access-Control-Max-Age", "86400"),
        ("Vary", "Origin"),
    ]


def _refused(status: int, message: str, headers=()) -> Answer:
    body = json.dumps({"error": message}).encode()
    return Answer(status, [("Content-Type", "application/json"), *headers], body)


def handle_collect(
    method: str, origin: str, own_host: str, ip: str, user_agent: str, body: bytes
) -> Answer:
    """Answer a /t/collect request: 204 when the batch is kept, 4xx (and nothing kept) if not."""
    current = site_settings.refresh()
    origin_host = _hostname(origin)
    if not origin_host or not host_allowed(origin_host, own_host, current.domains):
        return _refused(403, "origin not allowed")
    cors = _cors(origin)
    if method == "OPTIONS":
        return Answer(204, cors)
    if method != "POST":
        return _refused(405, "POST only", [("Allow", "POST, OPTIONS"), *cors])
    if not rate_limiter.allow(ip, settings.KIZUNA_COLLECT_LIMIT_PER_MINUTE):
        return _refused(429, "too many requests", [("Retry-After", "60"), *cors])
    hit = ingest.Hit(
        ip=ingest.shorten_ip(ip) if current.truncate_ip else ip,
        user_agent=user_agent[:1024],
        received_at=time.time(),
    )
    try:
        records = ingest.parse_batch(body, hit, consent_required=current.consent_required)
    except ingest.Refused as refusal:
        return _refused(refusal.status, str(refusal), cors)
    get_spool().accept(records)
    return Answer(204, cors)


def handle_pixel(query: str, own_host: str, ip: str, user_agent: str, referrer: str) -> Answer:
    """GET /t/p.gif?v=…&u=…: a page view from a page without JavaScript. Always a GIF."""
    answer = Answer(
        200,
        [("Content-Type", "image/gif"), ("Cache-Control", "no-store, max-age=0")],
        PIXEL,
    )
    current = site_settings.refresh()
    if current.consent_required:
        return answer  # a pixel cannot carry consent: under consent mode it records nothing
    params = {key: values[0] for key, values in parse_qs(query[:4096]).items()}
    url = params.get("u", "")
    url_host = _hostname(url) if url.startswith(("http://", "https://")) else ""
    if not host_allowed(url_host, own_host, current.domains):
        return answer
    if not rate_limiter.allow(ip, settings.KIZUNA_COLLECT_LIMIT_PER_MINUTE):
        return answer
    body = {
        "v": params.get("v", ""),
        "events": [{"type": "page_view", "url": url, "referrer": params.get("r") or None}],
    }
    if params.get("id"):
        body["events"][0]["id"] = params["id"]
    hit = ingest.Hit(
        ip=ingest.shorten_ip(ip) if current.truncate_ip else ip,
        user_agent=user_agent[:1024],
        received_at=time.time(),
    )
    try:
        records = ingest.parse_batch(json.dumps(body).encode(), hit, consent_required=False)
    except ingest.Refused:
        return answer
    get_spool().accept(records)
    return answer


# --- WSGI ---------------------------------------------------------------------------------------

STATUS_TEXT = {
    200: "200 OK",
    204: "204 No Content",
    400: "400 Bad Request",
    403: "403 Forbidden",
    405: "405 Method Not Allowed",
    411: "411 Length Required",
    413: "413 Content Too Large",
    429: "429 Too Many Requests",
}


class TrackingCollector:
    """WSGI middleware: /t/collect and /t/p.gif here, everything else to Django."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/t/collect":
            answer = self._collect(environ)
        elif path == "/t/p.gif":
            answer = handle_pixel(
                environ.get("QUERY_STRING", ""),
                environ.get("HTTP_HOST", ""),
                self._ip(environ),
                environ.get("HTTP_USER_AGENT", ""),
                environ.get("HTTP_REFERER", ""),
            )
        else:
            return self.application(environ, start_response)
        headers = [*answer.headers, ("Content-Length", str(len(answer.body)))]
        start_response(STATUS_TEXT.get(answer.status, f"{answer.status} Error"), headers)
        return [answer.body]

    def _collect(self, environ) -> Answer:
        method = environ.get("REQUEST_METHOD", "")
        body = b""
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return _refused(411, "Content-Length required")
            if length > ingest.MAX_BODY_BYTES:
                return _refused(413, f"body over {ingest.MAX_BODY_BYTES} bytes")
            body = environ["wsgi.input"].read(length) if length > 0 else b""
        return handle_collect(
            method,
            environ.get("HTTP_ORIGIN", ""),
            environ.get("HTTP_HOST", ""),
            self._ip(environ),
            environ.get("HTTP_USER_AGENT", ""),
            body,
        )

    @staticmethod
    def _ip(environ) -> str:
        return ingest.client_ip(
            environ.get("REMOTE_ADDR", ""),
            environ.get("HTTP_X_FORWARDED_FOR", ""),
            settings.KIZUNA_BEHIND_PROXY,
        )
