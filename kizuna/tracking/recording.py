"""Events Kizuna records about a contact itself, written at once in the caller's transaction
(a membership approved and its `approved` event commit together or not at all)."""

import uuid

from django.utils import timezone

from kizuna.crm.models import Contact
from kizuna.tracking.middleware import request_ip
from kizuna.tracking.models import Event


def record_event(contact: Contact, kind: str, *, props: dict | None = None, request=None) -> Event:
    """One server-side event on the contact's timeline; with `request`, its page, IP and agent."""
    event = Event(
        event_id=f"srv:{uuid.uuid4().hex}",
        type=kind,
        occurred_at=timezone.now(),
        contact=contact,
        props=props or {},
    )
    if request is not None:
        event.host = request.get_host().split(":")[0][:255]
        event.url = request.get_full_path()[:2000]
        event.ip = request_ip(request) or None
    event.save()
    return event
