"""Folding an identified visitor's earlier events onto its contact, in the background.

identify_visitor (stitching.py) only sets the alias Visitor.contact, in constant time; this moves
the visitor's events and sessions that have no contact yet onto it, in chunks, and recomputes the
contact's first / last seen and visits. Running it twice changes nothing the second time.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from kizuna.crm.models import Contact
from kizuna.tracking.models import Event, Session, Visitor

CHUNK = 5000


def fold_visitor_events(visitor_id: str) -> int:
    """Give the visitor's events without a contact to its contact; returns how many moved."""
    contact_id = Visitor.objects.filter(pk=visitor_id).values_list("contact_id", flat=True).first()
    if contact_id is None:
        return 0
    moved = 0
    while True:
        with transaction.atomic():
            ids = list(
                Event.objects.filter(visitor_id=visitor_id, contact__isnull=True).values_list(
                    "id", flat=True
                )[:CHUNK]
            )
            if not ids:
                break
            moved += Event.objects.filter(pk__in=ids, contact__isnull=True).update(
                contact_id=contact_id
            )
    Session.objects.filter(visitor_id=visitor_id, contact__isnull=True).update(
        contact_id=contact_id
    )
    refresh_contact_activity(contact_id)
    return moved


def refresh_contact_activity(contact_id: int) -> None:
    """First / last seen and visits of a contact, from all of its visitors and sessions."""
    seen = Visitor.objects.filter(contact_id=contact_id).aggregate(
        first=Min("first_seen_at"), last=Max("last_seen_at")
    )
    contact = Contact.objects.filter(pk=contact_id).values("first_seen_at", "last_seen_at").first()
    if contact is None:
        return
    first = min(filter(None, [seen["first"], contact["first_seen_at"]]), default=None)
    last = max(filter(None, [seen["last"], contact["last_seen_at"]]), default=None)
    Contact.objects.filter(pk=contact_id).update(
        first_seen_at=first,
        last_seen_at=last,
        sessions=Session.objects.filter(contact_id=contact_id).count(),
    )


def fold_recently_identified(now=None, minutes: int = 15) -> int:
    """Fold again the visitors identified lately: catches events a writer stored with no contact
    while the alias was being set (two transactions at the same moment)."""
    since = (now or timezone.now()) - timedelta(minutes=minutes)
    visitor_ids = Visitor.objects.filter(identified_at__gte=since).values_list("id", flat=True)
    return sum(fold_visitor_events(visitor_id) for visitor_id in visitor_ids)
