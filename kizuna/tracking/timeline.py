"""The contact timeline's tracking entries (registered in TrackingConfig.ready()).

Page views can be thousands: each visit becomes one entry ("5 pages viewed", with its landing
page), every other event one entry of its own. Both come from one UNION query, also covering the
contact's visitors whose events are not yet folded onto it (Event.objects.of_contact).
"""

from django.db.models import CharField, Count, F, IntegerField, Min, OuterRef, Subquery, Value
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kizuna.crm.timeline import TimelineEntry
from kizuna.tracking.models import Event, EventType, Session
from kizuna.tracking.reports import session_anchor

COLUMNS = (
    "entry_kind",
    "session",
    "entry_when",
    "entry_pages",
    "entry_host",
    "entry_url",
    "entry_type",
)


def tracking_entries(contact, limit: int) -> list[TimelineEntry]:
    events = Event.objects.of_contact(contact).human()
    landing_url = Session.objects.filter(id=OuterRef("session")).values("landing_url")[:1]
    visits = (
        events.filter(type=EventType.PAGE_VIEW)
        .exclude(session="")
        .values("session")
        .annotate(
            entry_kind=Value("visit", output_field=CharField()),
            entry_when=Min("occurred_at"),
            entry_pages=Count("id"),
            entry_host=Value("", output_field=CharField()),
            entry_url=Subquery(landing_url, output_field=CharField()),
            entry_type=Value(EventType.PAGE_VIEW.value, output_field=CharField()),
        )
        .values_list(*COLUMNS)
        .order_by()
    )
    others = (
        events.exclude(type=EventType.PAGE_VIEW, session__gt="")
        .annotate(
            entry_kind=Value("activity", output_field=CharField()),
            entry_when=F("occurred_at"),
            entry_pages=Value(1, output_field=IntegerField()),
            entry_host=F("host"),
            entry_url=F("url"),
            entry_type=F("type"),
        )
        .values_list(*COLUMNS)
        .order_by()
    )
    rows = visits.union(others, all=True).order_by("-entry_when")[:limit]
    activity_url = reverse("tracking:contact_activity", args=[contact.pk])
    return [entry_for(activity_url, *row) for row in rows]


def entry_for(activity_url, kind, session, when, pages, host, url, event_type) -> TimelineEntry:
    link = activity_url + ("#" + session_anchor(session) if session else "")
    if kind == "visit":
        title = ngettext("%(count)s page viewed", "%(count)s pages viewed", pages) % {
            "count": pages
        }
        body = _("Landing page: %(url)s") % {"url": url} if url else ""
        return TimelineEntry(when, "visit", title, body, link)
    body = f"{host}{url}" if url else ""
    return TimelineEntry(when, "activity", type_label(event_type), body, link)


def type_label(event_type: str) -> str:
    try:
        return str(EventType(event_type).label)
    except ValueError:
        return event_type
