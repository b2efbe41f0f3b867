"""Who may see a piece of content, decided for one viewer.

An item's audience becomes a SEGMENTS.md filter (always with an active membership: a suspended or
withdrawn member sees only public content from their next request on) and is checked with the
segments app's one-contact query. The members app brings `member_state` and `tier` to the filter
language; content needs nothing of it but those names."""

import json
from dataclasses import dataclass, field

from django.utils import timezone

from kizuna.content.models import AudienceKind
from kizuna.crm.models import Contact
from kizuna.segments.compiler import matches

ACTIVE_MEMBER = {"field": "member_state", "op": "eq", "value": "active"}


def audience_document(item) -> dict | None:
    """The filter an item's viewers must match; None for public items."""
    kind = item.audience
    if kind == AudienceKind.PUBLIC:
        return None
    if kind == AudienceKind.TIERS:
        return {"all": [ACTIVE_MEMBER, {"field": "tier", "op": "in", "value": item.audience_tiers}]}
    if kind == AudienceKind.TAGS:
        return {"all": [ACTIVE_MEMBER, {"any": [{"tag": name} for name in item.audience_tags]}]}
    if kind == AudienceKind.SEGMENT:
        return {"all": [ACTIVE_MEMBER, item.audience_filter or {"all": []}]}
    return ACTIVE_MEMBER


@dataclass
class Viewer:
    """The person looking: their contact (None for anonymous visitors and staff without one),
    whether they are staff (who see everything, to check their work), and the answers already
    given in this request, one query per distinct audience."""

    contact: Contact | None
    is_staff: bool = False
    answers: dict = field(default_factory=dict)

    @property
    def is_anonymous(self) -> bool:
        return self.contact is None and not self.is_staff

    def may_see(self, item) -> bool:
        document = audience_document(item)
        if document is None or self.is_staff:
            return True
        if self.contact is None:
            return False
        key = json.dumps(document, sort_keys=True, ensure_ascii=False)
        if key not in self.answers:
            self.answers[key] = matches(document, self.contact, now=timezone.now())
        return self.answers[key]

    def visible(self, items) -> list:
        return [item for item in items if self.may_see(item)]


def viewer_for(request) -> Viewer:
    """The request's viewer, made once per request."""
    if not hasattr(request, "_content_viewer"):
        user = request.user
        contact = None
        if user.is_authenticated and user.is_active:
            try:
                contact = user.contact  # crm's reverse one-to-one (cached when already read)
            except Contact.DoesNotExist:
                contact = None
        request._content_viewer = Viewer(contact, is_staff=user.is_authenticated and user.is_staff)
    return request._content_viewer


def viewer_as(contact: Contact) -> Viewer:
    """Staff's "view as": what this contact would see."""
    return Viewer(contact)
