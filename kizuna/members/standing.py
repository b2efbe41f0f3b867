"""A member's standing after joining: suspension, reactivation, withdrawal (退会), erasure.

Each ends every session of the login at once; Django also refuses an inactive or deleted user's
session on its next request, so member pages and files are refused from then on."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction, AuditLog, OutboxMessage
from kizuna.crm.models import Contact, StoredFile
from kizuna.members.models import Member, MemberState, Tier
from kizuna.members.registration import MembershipError
from kizuna.members.sessions import end_all_sessions
from kizuna.tracking.models import Event, EventType, Session, Visitor
from kizuna.tracking.recording import record_event


def _locked(member: Member) -> Member:
    return (
        Member.objects.select_for_update(of=("self",))
        .select_related("contact", "user")
        .get(pk=member.pk)
    )


def suspend_member(member: Member, *, by) -> None:
    with transaction.atomic():
        member = _locked(member)
        if member.state != MemberState.ACTIVE:
            raise MembershipError(_("Only active members can be suspended."))
        member.state = MemberState.SUSPENDED
        member.suspended_at = timezone.now()
        member.save()
        if member.user_id:
            member.user.is_active = False
            member.user.save(update_fields=["is_active"])
            end_all_sessions(member.user)
        record_event(member.contact, EventType.SUSPENDED, props={"by": by.email})
        record_audit(by, AuditAction.SUSPEND, member.contact)


def change_tier(member: Member, tier: Tier | None, *, by) -> bool:
    """Give the member `tier` (staff now; automations and payments later), audited; False when
    they already had it."""
    with transaction.atomic():
        member = (
            Member.objects.select_for_update(of=("self",))
            .select_related("tier", "contact")
            .get(pk=member.pk)
        )
        if member.tier_id == (tier.pk if tier else None):
            return False
        before = member.tier.slug if member.tier else ""
        member.tier = tier
        member.save(update_fields=["tier", "updated_at"])
        record_audit(
            by,
            AuditAction.UPDATE,
            member.contact or member,
            changes={"tier": [before, tier.slug if tier else ""]},
        )
    return True


def reactivate_member(member: Member, *, by) -> None:
    with transaction.atomic():
        member = _locked(member)
        if member.state != MemberState.SUSPENDED:
            raise MembershipError(_("Only suspended members can be reactivated."))
        member.state = MemberState.ACTIVE
        member.suspended_at = None
        member.save()
        if member.user_id:
            member.user.is_active = True
            member.user.save(update_fields=["is_active"])
        record_event(member.contact, EventType.REACTIVATED, props={"by": by.email})
        record_audit(by, AuditAction.REACTIVATE, member.contact)


def withdraw_member(
    member: Member, *, reason: str = "", request_erasure: bool = False, request=None, by=None
) -> None:
    """The member leaves: the login is deleted (so they can register again later), the contact
    stays in the CRM with member_state `withdrawn` and a `withdrawn` event."""
    with transaction.atomic():
        member = _locked(member)
        if member.state == MemberState.WITHDRAWN:
            return
        user = member.user
        member.state = MemberState.WITHDRAWN
        member.withdrawn_at = timezone.now()
        member.withdrawal_reason = reason[:2000]
        if request_erasure:
            member.erasure_requested_at = member.withdrawn_at
        member.user = None
        member.save()
        if member.contact_id:
            Contact.objects.filter(pk=member.contact_id).update(user=None)
            record_event(member.contact, EventType.WITHDRAWN, props={"reason": reason[:500]})
            record_audit(by, AuditAction.WITHDRAW, member.contact)
        if user is not None:
            end_all_sessions(user)
            user.delete()


def force_password_reset(member: Member, *, by) -> None:
    """The password stops working at once; the member sets a new one through "forgot password"."""
    with transaction.atomic():
        member = _locked(member)
        if member.user_id is None:
            raise MembershipError(_("The member has no login."))
        member.user.set_unusable_password()
        member.user.save(update_fields=["password"])
        end_all_sessions(member.user)
        record_audit(by, AuditAction.UPDATE, member.contact, changes={"password": ["", "reset"]})


ERASED_FIELDS = (
    "email", "family_name", "given_name", "family_name_kana", "given_name_kana", "phone",
    "postal_code", "city", "address", "external_id", "source",
)  # fmt: skip


def erase_contact(contact: Contact, *, by) -> None:
    """Right to erasure: remove the person's data, files, events, login and mail; keep an
    anonymous stub (lifecycle, prefecture, company, records, dates) so that counts stay right."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update(of=("self",)).get(pk=contact.pk)
        member = Member.objects.filter(contact=contact).select_related("user").first()
        email = contact.email
        if member is not None:
            if member.user_id:
                email = email or member.user.email
                end_all_sessions(member.user)
                AuditLog.objects.filter(actor=member.user).update(actor_label="")
                member.user.delete()
            member.user = None
            member.state = MemberState.WITHDRAWN
            member.withdrawn_at = member.withdrawn_at or timezone.now()
            member.withdrawal_reason = ""
            member.signup_data = {}
            member.erasure_requested_at = None
            member.save()
        file_ids = [value for value in (contact.custom or {}).values() if _looks_like_file(value)]
        for stored in StoredFile.objects.filter(pk__in=file_ids):
            stored.file.delete(save=False)
            stored.delete()
        visitors = Visitor.objects.filter(contact=contact)
        Event.objects.filter(visitor__in=visitors).delete()
        Session.objects.filter(visitor__in=visitors).delete()
        visitors.delete()
        Event.objects.filter(contact=contact).delete()
        Session.objects.filter(contact=contact).delete()
        note_ids = [str(pk) for pk in contact.notes.values_list("pk", flat=True)]
        AuditLog.objects.filter(object_type="crm.note", object_id__in=note_ids).delete()
        record_ids = [str(pk) for pk in contact.records.values_list("pk", flat=True)]
        AuditLog.objects.filter(object_type="crm.record", object_id__in=record_ids).update(
            object_repr="", changes={}
        )
        contact.notes.all().delete()
        contact.consents.all().delete()
        contact.merges.all().delete()
        AuditLog.objects.filter(object_type="crm.contact", object_id=str(contact.pk)).delete()
        if email:
            OutboxMessage.objects.filter(to__icontains=email).delete()
        for name in ERASED_FIELDS:
            setattr(contact, name, "")
        contact.custom = {}
        contact.user = None
        contact.email_opt_in = False
        contact.save()
        record_audit(by, AuditAction.ERASE, contact)


def _looks_like_file(value) -> bool:
    return isinstance(value, str) and len(value) == 36 and value.count("-") == 4
