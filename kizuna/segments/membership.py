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
from django.utils import timezone

from kizuna.crm.models import Contact
from kizuna.segments.compiler import compile_filter
from kizuna.segments.models import Segment

logger = logging.getLogger(__name__)

NOW_TABLE = "segments_refresh_now"  # temporary: the members now, of the segment refreshed
# Contact ids (contact_id) of the segment's members at its last refresh who are not members now,
# and of the members now who were not; one parameter: the segment's id.
LEAVING = (
    "SELECT m.contact_id FROM segments_membership m WHERE m.segment_id = %s AND NOT EXISTS "  # noqa: S608
    f"(SELECT 1 FROM {NOW_TABLE} n WHERE n.contact_id = m.contact_id)"
)
COMING = (
    f"SELECT n.contact_id FROM {NOW_TABLE} n WHERE NOT EXISTS (SELECT 1 FROM "  # noqa: S608
    "segments_membership m WHERE m.segment_id = %s AND m.contact_id = n.contact_id)"
)


@dataclass(frozen=True)
class RefreshResult:
    segment: str
    entered: int
    exited: int
    members: int


def refresh_segment(segment: Segment, *, now: datetime.datetime | None = None) -> RefreshResult:
    now = now or timezone.now()
    current = Contact.objects.order_by().filter(compile_filter(segment.filter, now=now))
    current_sql, current_params = current.values("pk").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # Lock the segment so two refreshes of it never interleave.
        Segment.objects.select_for_update().filter(pk=segment.pk).first()
        # The members now, computed once (the filter may take seconds on a large database);
        # who left and who came are then anti-joins (NOT EXISTS) with the rows of the last
        # refresh - never NOT IN, which PostgreSQL runs as a scan a row once the set of ids
        # outgrows work_mem.
        cursor.execute(f"DROP TABLE IF EXISTS {NOW_TABLE}")
        # No index on PostgreSQL: the anti-joins hash it, and building a key of 760,000 ids
        # took 5 s where the rows take 0.4; SQLite looks ids up one by one, by its key.
        key = "PRIMARY KEY" if connection.vendor == "sqlite" else "NOT NULL"
        cursor.execute(f"CREATE TEMPORARY TABLE {NOW_TABLE} (contact_id bigint {key})")
        cursor.execute(f"INSERT INTO {NOW_TABLE} (contact_id) {current_sql}", current_params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {NOW_TABLE}")  # autovacuum never sees temporary tables
        exited = _record_events(LEAVING, [segment.pk], segment, "segment_exited", now)
        cursor.execute(
            "DELETE FROM segments_membership WHERE segment_id = %s AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {NOW_TABLE} n WHERE n.contact_id = segments_membership.contact_id)",
            [segment.pk],
        )
        entered = _record_events(COMING, [segment.pk], segment, "segment_entered", now)
        cursor.execute(
            "INSERT INTO segments_membership (segment_id, contact_id, entered_at) "  # noqa: S608
            f"SELECT %s, ids.contact_id, %s FROM ({COMING}) AS ids",
            [segment.pk, connection.ops.adapt_datetimefield_value(now), segment.pk],
        )
        cursor.execute(f"SELECT count(*) FROM {NOW_TABLE}")  # noqa: S608
        (members,) = cursor.fetchone()
        cursor.execute(f"DROP TABLE {NOW_TABLE}")
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


def _record_events(sql: str, params: list, segment: Segment, kind: str, now) -> int:
    """One event per contact of `sql` (a query of one column named contact_id), in one
    INSERT … SELECT."""
    stamp = int(now.timestamp() * 1000)
    props = json.dumps({"segment": segment.slug}, ensure_ascii=False)
    props_sql = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    key = "'seg:' || %s || ':' || ids.contact_id || ':' || %s"
    with connection.cursor() as cursor:
        cursor.execute(
            # Only constants and our own SQL are formatted in; values are params.
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
