"""Identity stitching: a visitor becomes a known contact (log-in, form post, email click, identify).

`identify_visitor` only points the visitor at the contact — one UPDATE, whatever the number of
earlier events — and enqueues the fold of those events for after the commit (folding.py). Until
it has run, Event.objects.of_contact() finds them through the alias. One contact may have many
visitors (devices); a visitor already known as another contact moves to the new one from now on,
its earlier events stay with the first (a shared computer).
"""

import datetime

from django.db import transaction
from django.utils import timezone

from kizuna.crm.models import Contact
from kizuna.tracking import tasks
from kizuna.tracking.models import Visitor


def identify_visitor(
    visitor_id: str, contact: Contact, *, at: datetime.datetime | None = None
) -> None:
    """From now on the visitor is the contact; its earlier events follow in the background."""
    at = at or timezone.now()
    with transaction.atomic():
        changed = (
            Visitor.objects.filter(pk=visitor_id)
            .exclude(contact_id=contact.pk)
            .update(contact_id=contact.pk, identified_at=at)
        )
        if not changed:
            _, created = Visitor.objects.get_or_create(
                pk=visitor_id,
                defaults={
                    "contact_id": contact.pk,
                    "identified_at": at,
                    "first_seen_at": at,
                    "last_seen_at": at,
                },
            )
            if not created:
                return  # already this contact's visitor
        transaction.on_commit(lambda: tasks.fold_visitor.enqueue(visitor_id))
