"""How people become members: sign-up, email confirmation, approval, invitation.

The rule that matters most: a sign-up with the email of an existing contact joins that contact
only once the email is confirmed. Until then the Member row has no contact and its answers wait
in `signup_data`, so nothing of the contact (inquiries, tickets, fields) is reachable."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from kizuna.accounts.models import User
from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction, RegistrationPolicy, SiteSettings
from kizuna.crm import consent
from kizuna.crm.models import ConsentMethod, Contact, Lifecycle
from kizuna.members.mail import send_member_mail
from kizuna.members.models import JoinedVia, Member, MemberState, Tier
from kizuna.tracking.models import EventType
from kizuna.tracking.recording import record_event

# Contact fields a registration or profile form may set; anything else posted is ignored.
MEMBER_CONTACT_FIELDS = (
    "family_name", "given_name", "family_name_kana", "given_name_kana", "phone",
    "postal_code", "prefecture", "city", "address",
)  # fmt: skip


class MembershipError(Exception):
    """An operation that cannot be done in the member's current state; the message is shown."""


# --- Sign-up ---------------------------------------------------------------------------------


def register_member(user: User, profile: dict, *, opt_in_wording: str = "", request=None) -> Member:
    """A sign-up was saved (allauth made the user): the membership waits for the confirmation.

    `profile` holds MEMBER_CONTACT_FIELDS and `custom` from the form. With a new email the contact
    is created now (a lead, source "signup"); with a known one it is joined only on confirmation.
    """
    data = {key: profile.get(key, "") for key in MEMBER_CONTACT_FIELDS}
    data["custom"] = profile.get("custom") or {}
    data["opt_in_wording"] = str(opt_in_wording)
    data["ip"] = _ip(request)
    with transaction.atomic():
        existing = Contact.objects.filter(email__iexact=user.email).exists()
        member = Member.objects.create(
            user=user,
            state=MemberState.PENDING_VERIFICATION,
            tier=Tier.objects.filter(is_default=True).first(),
            joined_via=JoinedVia.SIGNUP,
            signup_data=data,
        )
        if not existing:
            _attach_contact(member, request=request)
    return member


def confirm_member(user: User, request=None) -> Member | None:
    """The email was confirmed (allauth's email_confirmed): join the contact, then active or,
    under the approval policy, waiting for staff."""
    with transaction.atomic():
        member = Member.objects.select_for_update(of=("self",)).filter(user=user).first()
        if member is None or member.state != MemberState.PENDING_VERIFICATION:
            return member
        if member.contact_id is None:
            _attach_contact(member, request=request)
        member.verified_at = timezone.now()
        _record_opt_in(member, request)
        record_event(member.contact, EventType.EMAIL_VERIFIED, request=request)
        policy = SiteSettings.current().registration_policy
        if member.joined_via == JoinedVia.SIGNUP and policy == RegistrationPolicy.APPROVAL:
            member.state = MemberState.PENDING_APPROVAL
            member.save()
            transaction.on_commit(lambda: notify_staff_of_pending(member.pk))
        else:
            _activate(member)
    return member


def _attach_contact(member: Member, *, request=None) -> None:
    """Join the member to the contact with their email (or a new one), applying the answers."""
    email = member.user.email
    contact = Contact.objects.select_for_update(of=("self",)).filter(
        email__iexact=email
    ).first() or Contact(email=email, lifecycle=Lifecycle.LEAD, source="signup")
    if contact.pk:
        old = Member.objects.filter(contact=contact).exclude(pk=member.pk).first()
        if old is not None and old.state != MemberState.WITHDRAWN:
            # The contact belongs to another login (its email changed since): a new contact
            # for this one; staff can merge the two.
            contact = Contact(email="", lifecycle=Lifecycle.LEAD, source="signup")
        elif old is not None:
            old.delete()  # re-registration after withdrawal: the new membership replaces it
    data = member.signup_data
    for key in MEMBER_CONTACT_FIELDS:
        if data.get(key):
            setattr(contact, key, data[key])
    contact.custom = {**(contact.custom or {}), **(data.get("custom") or {})}
    contact.user = member.user
    contact.normalize()
    contact.save()
    member.contact = contact
    member.save()
    record_event(contact, EventType.REGISTERED, request=request)


def _record_opt_in(member: Member, request) -> None:
    wording = member.signup_data.get("opt_in_wording")
    if wording:
        consent.record_consent(
            member.contact, True, ConsentMethod.FORM, wording, ip=member.signup_data.get("ip")
        )
    member.signup_data = {}  # applied: personal data is not kept twice


def _activate(member: Member) -> None:
    member.state = MemberState.ACTIVE
    member.save()
    member.contact.advance_lifecycle(Lifecycle.MEMBER)


def can_log_in(user: User) -> tuple[bool, str]:
    """(allowed, message) for allauth's pre_login: staff and active members may log in."""
    member = Member.objects.filter(user=user).only("state").first()
    # Unconfirmed sign-ups pass on to allauth, which sends the confirmation mail again instead.
    if member is None or member.state in (MemberState.ACTIVE, MemberState.PENDING_VERIFICATION):
        return True, ""
    if member.state == MemberState.PENDING_APPROVAL:
        return False, _(
            "Your registration is waiting for approval. We will email you when it is approved."
        )
    return False, _("This account cannot log in. Please contact us if you think this is wrong.")


# --- Approval --------------------------------------------------------------------------------


def approve_member(member: Member, *, by, request=None) -> None:
    with transaction.atomic():
        member = (
            Member.objects.select_for_update(of=("self",))
            .select_related("contact", "user")
            .get(pk=member.pk)
        )
        if member.state != MemberState.PENDING_APPROVAL:
            raise MembershipError(_("Only registrations waiting for approval can be approved."))
        member.approved_at = timezone.now()
        member.decided_by = by
        _activate(member)
        record_event(member.contact, EventType.APPROVED, props={"by": by.email})
        record_audit(by, AuditAction.APPROVE, member.contact)
        email, language = member.user.email, member.user.language
        transaction.on_commit(
            lambda: send_member_mail(
                "approved",
                email,
                language=language,
                context={"login_url": _absolute(request, "account_login")},
            )
        )


def reject_member(member: Member, *, by, reason: str = "", request=None) -> None:
    """The registration is refused: the login is deleted (the person may sign up again later),
    the contact stays in the CRM with a `rejected` event, the person is told."""
    with transaction.atomic():
        member = (
            Member.objects.select_for_update(of=("self",))
            .select_related("contact", "user")
            .get(pk=member.pk)
        )
        if member.state != MemberState.PENDING_APPROVAL:
            raise MembershipError(_("Only registrations waiting for approval can be rejected."))
        user, contact = member.user, member.contact
        email, language = user.email, user.language
        record_event(contact, EventType.REJECTED, props={"by": by.email, "reason": reason[:500]})
        record_audit(by, AuditAction.REJECT, contact)
        member.delete()
        Contact.objects.filter(pk=contact.pk).update(user=None)
        user.delete()
        transaction.on_commit(
            lambda: send_member_mail(
                "rejected", email, language=language, context={"reason": reason}
            )
        )


def notify_staff_of_pending(member_id: int) -> None:
    member = Member.objects.select_related("contact").filter(pk=member_id).first()
    if member is None:
        return
    for staff in User.objects.staff():
        send_member_mail(
            "staff_pending",
            staff.email,
            language=staff.language,
            context={
                "member": member,
                "contact": member.contact,
                "queue_url": settings.KIZUNA_SITE_URL + reverse("members:approval_queue"),
            },
        )


# --- Invitations (closed policy, claiming an account after an inquiry) ---------------------


def invite_contact(contact: Contact, *, by, request=None) -> Member:
    """Create the login for a contact and email them a link to set their password."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update(of=("self",)).get(pk=contact.pk)
        if not contact.email:
            raise MembershipError(_("The contact has no email address."))
        member = Member.objects.filter(contact=contact).first()
        if member is not None and member.state not in (
            MemberState.WITHDRAWN,
            MemberState.PENDING_VERIFICATION,
        ):
            raise MembershipError(_("The contact is already a member."))
        if (
            User.objects.filter(email__iexact=contact.email)
            .exclude(pk=getattr(member, "user_id", None))
            .exists()
        ):
            raise MembershipError(_("Another login already uses this email address."))
        if member is None or member.user_id is None:
            user = User.objects.create_user(contact.email, None, name=contact.full_name)
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
            member = member or Member(contact=contact)
            member.user = user
            member.tier = member.tier or Tier.objects.filter(is_default=True).first()
            contact.user = user
            contact.save(update_fields=["user"])
        member.state = MemberState.PENDING_VERIFICATION
        member.joined_via = JoinedVia.INVITATION
        member.invited_at = timezone.now()
        member.invited_by = by
        member.withdrawn_at = None
        member.save()
        record_audit(by, AuditAction.INVITE, contact)
        user = member.user
        link = _absolute(request, "members_site:accept_invitation", invitation_args(user))
        transaction.on_commit(
            lambda: send_member_mail(
                "invitation",
                user.email,
                language=user.language,
                context={"link": link, "contact": contact},
            )
        )
    return member


def invitation_args(user: User) -> list[str]:
    """uid and token of the set-your-password link: single use (the token hashes the password
    and last log-in) and valid PASSWORD_RESET_TIMEOUT seconds."""
    return [urlsafe_base64_encode(str(user.pk).encode()), default_token_generator.make_token(user)]


def accept_invitation(user: User, password: str, request=None) -> Member:
    """The invitee chose a password: the email is proven, the membership active."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
        member = (
            Member.objects.select_for_update(of=("self",)).select_related("contact").get(user=user)
        )
        member.verified_at = timezone.now()
        record_event(member.contact, EventType.EMAIL_VERIFIED, request=request)
        record_event(member.contact, EventType.REGISTERED, request=request)
        _activate(member)
    return member


def _absolute(request, url_name: str, args=None) -> str:
    path = reverse(url_name, args=args)
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.KIZUNA_SITE_URL + path


def _ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def follow_email_change(user: User, new_email: str) -> None:
    contact = Contact.objects.filter(user=user).first()
    if contact is None or Contact.objects.with_email(new_email).exclude(pk=contact.pk).exists():
        return
    contact.email = new_email
    contact.normalize()
    contact.save(update_fields=["email"])
