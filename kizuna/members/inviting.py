"""Inviting many contacts as members at once: ticked rows of the contacts list, or a segment.

Each contact goes through registration.invite_contact (its own transaction, audit entry and
invitation mail). Contacts without an email and contacts that already have a membership (active,
waiting, suspended — anything but withdrawn) are skipped and counted, which also makes a run
that is repeated, or a task delivered twice, harmless: nobody gets a second invitation."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from kizuna.accounts.models import User
from kizuna.crm.models import Contact
from kizuna.crm.selection import contacts_for_selection
from kizuna.members.models import MemberState
from kizuna.members.registration import MembershipError, invite_contact

logger = logging.getLogger(__name__)

CHUNK = 500


@dataclass(frozen=True)
class InviteResult:
    invited: int = 0
    skipped_no_email: int = 0
    skipped_members: int = 0
    # Refused by invite_contact for another reason (e.g. a staff login already has the email).
    failed: int = 0


def inline_limit() -> int:
    """Up to this many contacts are invited during the request; more by the task
    members.tasks.invite_selection (the console view decides, as crm's bulk update does)."""
    return settings.KIZUNA_BULK_INLINE_ROWS


def has_no_email() -> Q:
    return Q(email="") | Q(email__isnull=True)


def has_membership() -> Q:
    return Q(member__isnull=False) & ~Q(member__state=MemberState.WITHDRAWN)


@dataclass(frozen=True)
class InvitePreview:
    """What inviting a selection would do, for the confirmation page."""

    total: int
    no_email: int
    members: int

    @property
    def to_invite(self) -> int:
        return max(self.total - self.no_email - self.members, 0)


def preview_invitations(contacts) -> InvitePreview:
    no_email = contacts.filter(has_no_email())
    return InvitePreview(
        total=contacts.count(),
        no_email=no_email.count(),
        members=contacts.exclude(has_no_email()).filter(has_membership()).count(),
    )


def invite_contacts(contacts, *, by: User, request=None) -> InviteResult:
    """Invite every contact of the queryset that has an email and no membership, in chunks of
    ids (the queryset is read again for each chunk, so it may be a segment's)."""
    invited = no_email = members = failed = 0
    last_id = 0
    while True:
        ids = list(
            contacts.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:CHUNK]
        )
        if not ids:
            break
        last_id = ids[-1]
        chunk = Contact.objects.filter(pk__in=ids).select_related("member").order_by("pk")
        for contact in chunk:
            if not contact.email:
                no_email += 1
                continue
            member = getattr(contact, "member", None)
            if member is not None and member.state != MemberState.WITHDRAWN:
                members += 1
                continue
            try:
                invite_contact(contact, by=by, request=request)
            except MembershipError as error:
                logger.info("Contact %s was not invited: %s", contact.pk, error)
                failed += 1
            else:
                invited += 1
    return InviteResult(invited, no_email, members, failed)


def run_invite_selection(selection: dict, by_id: int) -> InviteResult | None:
    """The task's work: the staff user may have been deleted since (then nothing is done)."""
    by = User.objects.filter(pk=by_id, is_staff=True, is_active=True).first()
    if by is None:
        logger.warning("Invitations of %s not sent: user %s is gone", selection, by_id)
        return None
    result = invite_contacts(contacts_for_selection(selection), by=by)
    logger.info("Invitations of %s: %s", selection, result)
    return result
