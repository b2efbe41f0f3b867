"""Retention: what the site settings say to keep, and nothing more (`manage.py purge_tracking`).

Two rules, each off at 0 days:
- an anonymous visitor (never identified) not seen for `anonymous_retention_days` is deleted with
  its events and sessions;
- events older than `event_retention_days` are deleted, whoever made them, and so are sessions
  whose last activity is older than that.

Deletes run a chunk of ids at a time, each in its own short transaction, so the collector and the
console never wait long on a lock, and a purge stopped half-way simply goes on next time.
Visitors' and contacts' counters (first / last seen, visits) are totals and are left as they are.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from kizuna.core.models import SiteSettings
from kizuna.tracking.models import Event, Session, Visitor

CHUNK_SIZE = 5000


@dataclass(frozen=True)
class PurgeResult:
    visitors: int = 0
    events: int = 0
    sessions: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Cutoffs:
    """Before these moments data goes; None where the rule is off."""

    anonymous: datetime | None
    events: datetime | None


def retention_cutoffs(now: datetime | None = None) -> Cutoffs:
    now = now or timezone.now()
    site = SiteSettings.current()
    return Cutoffs(
        anonymous=(
            now - timedelta(days=site.anonymous_retention_days)
            if site.anonymous_retention_days
            else None
        ),
        events=(
            now - timedelta(days=site.event_retention_days) if site.event_retention_days else None
        ),
    )


def expired_visitors(cutoff: datetime):
    return Visitor.objects.filter(contact__isnull=True, last_seen_at__lt=cutoff)


def purge_tracking(
    now: datetime | None = None, *, dry_run: bool = False, chunk_size: int = CHUNK_SIZE
) -> PurgeResult:
    """Delete what retention says has expired at `now` (default: this moment); returns counts.
    With dry_run, only counts what would go."""
    cutoffs = retention_cutoffs(now)
    if dry_run:
        return _count(cutoffs)
    visitors = events = sessions = 0
    if cutoffs.anonymous is not None:
        visitors, own_events, own_sessions = _purge_anonymous(cutoffs.anonymous, chunk_size)
        events += own_events
        sessions += own_sessions
    if cutoffs.events is not None:
        events += _delete_in_chunks(
            Event.objects.filter(occurred_at__lt=cutoffs.events).order_by("occurred_at"),
            chunk_size,
        )
        sessions += _delete_sessions(Q(last_seen_at__lt=cutoffs.events), chunk_size)
    return PurgeResult(visitors=visitors, events=events, sessions=sessions)


def _purge_anonymous(cutoff: datetime, chunk_size: int) -> tuple[int, int, int]:
    visitors = events = sessions = 0
    while True:
        ids = list(
            expired_visitors(cutoff)
            .order_by("last_seen_at")
            .values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            return visitors, events, sessions
        # Their events in chunks of their own: one busy visitor (a crawler) may have millions.
        # Only events from before the cutoff: a visitor coming back while we work keeps its
        # new hits, and the conditional DELETE of visitors below then leaves it alone.
        events += _delete_in_chunks(
            Event.objects.filter(visitor_id__in=ids, contact__isnull=True, occurred_at__lt=cutoff),
            chunk_size,
        )
        # An event already folded onto a contact is the contact's history: it stays, without
        # the visitor it came from.
        Event.objects.filter(
            visitor_id__in=ids, contact__isnull=False, occurred_at__lt=cutoff
        ).update(visitor=None)
        sessions += _delete_sessions(Q(visitor_id__in=ids, last_seen_at__lt=cutoff), chunk_size)
        # Conditional: a visitor seen again since it was picked stays. Its remaining rows (none,
        # unless a writer was mid-batch) go with it.
        _total, deleted = expired_visitors(cutoff).filter(pk__in=ids).delete()
        visitors += deleted.get(Visitor._meta.label, 0)
        events += deleted.get(Event._meta.label, 0)
        sessions += deleted.get(Session._meta.label, 0)


def _delete_in_chunks(queryset, chunk_size: int) -> int:
    """Delete the rows of `queryset`, chunk_size ids per DELETE (each its own transaction; the
    model has no relations pointing at it, so Django deletes without loading the rows)."""
    model = queryset.model
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:chunk_size])
        if not ids:
            return deleted
        deleted += model.objects.filter(pk__in=ids).delete()[0]


def _delete_sessions(condition: Q, chunk_size: int) -> int:
    """Sessions have no index on last activity: walk them in primary-key order (keyset), so the
    whole purge reads the table once instead of once per chunk."""
    deleted = 0
    after = ""
    while True:
        ids = list(
            Session.objects.filter(condition, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            return deleted
        after = ids[-1]
        deleted += Session.objects.filter(pk__in=ids).delete()[0]


def _count(cutoffs: Cutoffs) -> PurgeResult:
    events = Q(pk__in=[])
    sessions = Q(pk__in=[])
    visitors = 0
    if cutoffs.anonymous is not None:
        expired = expired_visitors(cutoffs.anonymous)
        visitors = expired.count()
        expired_ids = expired.values("pk")
        events |= Q(visitor_id__in=expired_ids, contact__isnull=True)
        sessions |= Q(visitor_id__in=expired_ids)
    if cutoffs.events is not None:
        events |= Q(occurred_at__lt=cutoffs.events)
        sessions |= Q(last_seen_at__lt=cutoffs.events)
    return PurgeResult(
        visitors=visitors,
        events=Event.objects.filter(events).count(),
        sessions=Session.objects.filter(sessions).count(),
        dry_run=True,
    )
