"""Page views of our own site, recorded on the server without slowing the response.

After the response is built, a page view is appended to the spool (no database write on the
request path); the spool's writer stores it with the rest. The visitor cookie is first-party,
HttpOnly, and — in consent mode — set only after the visitor accepted tracking.
"""

import logging

from django.conf import settings

from kizuna.tracking import ingest
from kizuna.tracking.collector import site_settings
from kizuna.tracking.spool import get_spool
from kizuna.tracking.useragents import parse_user_agent

logger = logging.getLogger(__name__)

VISITOR_COOKIE = "kizuna_vid"
CONSENT_COOKIE = "kizuna_consent"
COOKIE_MAX_AGE = 395 * 24 * 3600  # browsers cap cookies at 400 days
NOT_TRACKED = ("/console/", "/static/", "/media/", "/t/", "/i18n/", "/healthz", "/favicon")


def visitor_id_from(request) -> str | None:
    value = request.COOKIES.get(VISITOR_COOKIE, "")
    return value if ingest.VISITOR_ID.fullmatch(value) else None


def tracking_allowed(request) -> bool:
    """Consent mode off, or the visitor accepted the banner."""
    if not site_settings.refresh().consent_required:
        return True
    return request.COOKIES.get(CONSENT_COOKIE) == "yes"


def request_ip(request) -> str:
    ip = ingest.client_ip(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        settings.KIZUNA_BEHIND_PROXY,
    )
    return ingest.shorten_ip(ip) if site_settings.refresh().truncate_ip else ip


class TrackingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        try:
            self._track(request, response)
        except Exception:  # tracking must never break a page
            logger.exception("Could not record a page view")
        return response

    def _track(self, request, response) -> None:
        if (
            request.method != "GET"
            or response.status_code != 200
            or "text/html" not in response.get("Content-Type", "")
            or request.headers.get("HX-Request")
            or request.path.startswith(NOT_TRACKED)
        ):
            return
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        if parse_user_agent(user_agent).is_bot or not tracking_allowed(request):
            return
        visitor_id = visitor_id_from(request)
        if visitor_id is None:
            visitor_id = ingest.new_visitor_id()
            response.set_cookie(
                VISITOR_COOKIE,
                visitor_id,
                max_age=COOKIE_MAX_AGE,
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
        user = getattr(request, "user", None)
        get_spool().accept(
            [
                ingest.server_record(
                    "page_view",
                    visitor=visitor_id,
                    user_id=user.pk if user is not None and user.is_authenticated else None,
                    host=request.get_host().split(":")[0],
                    url=request.get_full_path(),
                    referrer=request.META.get("HTTP_REFERER", ""),
                    ip=request_ip(request),
                    user_agent=user_agent,
                    language=getattr(request, "LANGUAGE_CODE", ""),
                    # A view may say what was viewed (content: {"page": slug}).
                    props=getattr(request, "tracking_props", None),
                )
            ]
        )
