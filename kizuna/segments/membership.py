"""Dynamic membership: who entered and who left each saved segment since its last refresh.

Set-based, in the database: the members now are the segment's compiled query; rows of those who
stayed are not touched; those who left get a `segment_exited` event and lose their row; those who
came get a `segment_entered` event and a row. Automations trigger on those events.
"""

import datetime
import json
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from kizuna.crm.models import Contact
from kizuna.segments.compiler import compile_filter
from kizuna.segments.models import Membership, Segment

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    segment: str
    entered: int
    exited: int
    members: int


def refresh_segment(segment: Segment, *, now: datetime.datetime | None = None) -> RefreshResult:
    now = now or timezone.now()
    current = Contact.objects.filter(compile_filter(segment.filter, now=now)).values("pk")
    with transaction.atomic():
        # Lock the segment so two refreshes of it never interleave.
        Segment.objects.select_for_update().filter(pk=segment.pk).first()
        leaving = Membership.objects.filter(segment=segment).exclude(contact_id__in=current)
        exited = _record_events(leaving.values("contact_id"), segment, "segment_exited", now)
        leaving.delete()
        coming = (
            Contact.objects.filter(pk__in=current)
            .exclude(segment_memberships__segment=segment)
            .values(contact_id=F("pk"))
        )
        entered = _record_events(coming, segment, "segment_entered", now)
        _insert_memberships(coming, segment, now)
        members = Membership.objects.filter(segment=segment).count()
        Segment.objects.filter(pk=segment.pk).update(member_count=members, refreshed_at=now)
    return RefreshResult(segment.slug, entered, exited, members)


def refresh_all(*, now: datetime.datetime | None = None) -> list[RefreshResult]:
    results = []
    for segment in Segment.objects.order_by("pk"):
        try:
            results.append(refresh_segment(segment, now=now))
        except Exception:  # one broken filter must not stop the others
            logger.exception("Refreshing segment %s failed", segment.slug)
    return results


def _record_events(contact_ids, segment: Segment, kind: str, now: datetime.datetime) -> int:
    """One event per contact of `contact_ids` (a queryset of one column named contact_id), in
    one INSERT … SELECT."""
    sql, params = contact_ids.query.sql_with_params()
    stamp = int(now.timestamp() * 1000)
    props = json.dumps({"segment": segment.slug}, ensure_ascii=False)
    props_sql = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    key = "'seg:' || %s || ':' || ids.contact_id || ':' || %s"
    with connection.cursor() as cursor:
        cursor.execute(
            # Only constants and the ORM's own compiled SQL are formatted in; values are params.
            "INSERT INTO tracking_event (event_id, type, occurred_at, contact_id, session, host, "  # noqa: S608
            "url, referrer, browser, os, device_type, is_machine, props) "
            f"SELECT {key}, %s, %s, ids.contact_id, '', '', '', '', '', '', '', %s, {props_sql} "
            f"FROM ({sql}) AS ids",
            [
                str(segment.pk),
                f"{kind}:{stamp}",
                kind,
                connection.ops.adapt_datetimefield_value(now),
                False,
                props,
                *params,
            ],
        )
        return cursor.rowcount


def _insert_memberships(contact_ids, segment: Segment, now: datetime.datetime) -> None:
    sql, params = contact_ids.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO segments_membership (segment_id, contact_id, entered_at) "  # noqa: S608
            f"SELECT %s, ids.contact_id, %s FROM ({sql}) AS ids",
            [segment.pk, connection.ops.adapt_datetimefield_value(now), *params],
        )
