"""A contact's timeline: everything that happened to them, newest first, from every app.

Apps downstream of crm (tracking, support, messaging…) add their own entries without crm knowing
them: in their AppConfig.ready() they call

    register_timeline_source(my_entries)

where `my_entries(contact, limit)` returns at most `limit` TimelineEntry objects, newest first
(one query; the detail page calls every source once). The page merges them.
"""

import datetime
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from kizuna.core.models import AuditLog
from kizuna.crm.models import ConsentRecord, Contact, Note, Record


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime.datetime
    kind: str  # "note", "record", "consent", "audit", or another app's word
    title: str
    body: str = ""
    url: str = ""


TimelineSource = Callable[[Contact, int], Iterable[TimelineEntry]]
_sources: list[TimelineSource] = []


def register_timeline_source(source: TimelineSource) -> TimelineSource:
    """Add a source of entries (usable as a decorator); registering twice is harmless."""
    if source not in _sources:
        _sources.append(source)
    return source


def contact_timeline(contact: Contact, limit: int = 50) -> list[TimelineEntry]:
    """The newest `limit` entries of every source, merged newest first."""
    streams = [
        sorted(source(contact, limit), key=lambda entry: entry.when, reverse=True)
        for source in _sources
    ]
    merged = heapq.merge(*streams, key=lambda entry: entry.when, reverse=True)
    return [entry for _, entry in zip(range(limit), merged, strict=False)]


@register_timeline_source
def note_entries(contact, limit):
    notes = Note.objects.filter(contact=contact).select_related("author")[:limit]
    return [
        TimelineEntry(
            note.created_at,
            "note",
            _("Note by %(author)s") % {"author": note.author or _("(deleted user)")},
            note.body,
        )
        for note in notes
    ]


@register_timeline_source
def record_entries(contact, limit):
    records = Record.objects.filter(contact=contact).select_related("record_type")[:limit]
    return [
        TimelineEntry(
            record.occurred_at,
            "record",
            str(record.record_type),
            "",
            reverse("crm:record_detail", args=[record.pk]),
        )
        for record in records
    ]


@register_timeline_source
def consent_entries(contact, limit):
    consents = ConsentRecord.objects.filter(contact=contact)[:limit]
    return [
        TimelineEntry(
            consent.recorded_at,
            "consent",
            _("Opted in to marketing email (%(method)s)") % {"method": consent.get_method_display()}
            if consent.opted_in
            else _("Opted out of marketing email (%(method)s)")
            % {"method": consent.get_method_display()},
            consent.wording,
        )
        for consent in consents
    ]


@register_timeline_source
def audit_entries(contact, limit):
    entries = AuditLog.objects.filter(object_type="crm.contact", object_id=str(contact.pk))
    return [
        TimelineEntry(
            entry.created_at,
            "audit",
            _("%(action)s by %(who)s")
            % {"action": entry.get_action_display(), "who": entry.actor_label or _("the system")},
            _changed_field_names(entry),
        )
        for entry in entries[:limit]
    ]


def _changed_field_names(entry: AuditLog) -> str:
    if entry.action != "update" or not isinstance(entry.changes, dict):
        return ""
    return ", ".join(sorted(entry.changes))
