"""allauth's signals: a confirmed email completes the registration."""

from allauth.account.signals import email_changed, email_confirmed
from django.dispatch import receiver

from kizuna.members.registration import confirm_member, follow_email_change


@receiver(email_confirmed, dispatch_uid="members.confirm_on_email_confirmed")
def complete_registration(sender, request, email_address, **kwargs):
    confirm_member(email_address.user, request=request)


@receiver(email_changed, dispatch_uid="members.contact_follows_email_change")
def contact_follows_email_change(sender, request, user, from_email_address, to_email_address, **kw):
    """The member confirmed a new address: the contact's email follows (unless another contact
    already has it, then staff see both and can merge)."""
    follow_email_change(user, to_email_address.email)
