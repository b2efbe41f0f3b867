"""The members app's own My Page panels: profile, membership, account security, my data."""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kizuna.core import mypage
from kizuna.crm import fields
from kizuna.crm.models import FieldDefinition, FieldType
from kizuna.members.registration import MEMBER_CONTACT_FIELDS

PROFILE_LABELS = {
    "family_name": _("Family name"),
    "given_name": _("Given name"),
    "family_name_kana": _("Family name (kana)"),
    "given_name_kana": _("Given name (kana)"),
    "phone": _("Phone"),
    "postal_code": _("Postal code"),
    "prefecture": _("Prefecture"),
    "city": _("City"),
    "address": _("Address"),
}

VISIBLE_FIELDS_KEY = "members:visible_contact_fields"
# How long another process (with the default per-process cache) may still show a field staff
# changed; this process, and every process sharing Redis, forget it at once on save or delete.
VISIBLE_FIELDS_MAX_AGE = 5


def visible_contact_fields() -> list[FieldDefinition]:
    """The contact fields members see on My Page: the same few rows for every member, so read
    from the cache, not once a page view (a query and a dozen model objects a page)."""
    definitions = cache.get(VISIBLE_FIELDS_KEY)
    if definitions is None:
        definitions = list(
            FieldDefinition.objects.for_contacts().active().filter(member_visible=True)
        )
        cache.set(VISIBLE_FIELDS_KEY, definitions, VISIBLE_FIELDS_MAX_AGE)
    return definitions


@receiver(post_save, sender=FieldDefinition, dispatch_uid="members.forget_visible_fields_save")
@receiver(post_delete, sender=FieldDefinition, dispatch_uid="members.forget_visible_fields_delete")
def forget_visible_contact_fields(sender, **kwargs):
    cache.delete(VISIBLE_FIELDS_KEY)
    # Again after the commit: a page read between the save and the commit cached the old rows.
    transaction.on_commit(lambda: cache.delete(VISIBLE_FIELDS_KEY))


def profile_panel(request, member):
    if member is None or member.contact_id is None:
        return None
    contact = member.contact
    rows = [(PROFILE_LABELS[name], getattr(contact, name), "") for name in MEMBER_CONTACT_FIELDS]
    for definition in visible_contact_fields():
        value = (contact.custom or {}).get(definition.key)
        if definition.type == FieldType.FILE:  # the member's own file, through a checked view
            url = reverse("members_site:my_file", args=[definition.key]) if value else ""
            rows.append((definition.label, _("Download the file") if value else "", url))
        else:
            rows.append((definition.label, fields.display_value(definition, value), ""))
    return {"rows": rows, "contact": contact}


def membership_panel(request, member):
    return {"member": member} if member is not None else None


def account_panel(request, member):
    return {"account_user": request.user}


def data_panel(request, member):
    return {"member": member} if member is not None else None


def register() -> None:
    mypage.register_panel(
        key="profile", template="members/site/panel_profile.html", context=profile_panel, order=10
    )
    mypage.register_panel(
        key="membership",
        template="members/site/panel_membership.html",
        context=membership_panel,
        order=20,
    )
    mypage.register_panel(
        key="account", template="members/site/panel_account.html", context=account_panel, order=80
    )
    mypage.register_panel(
        key="data", template="members/site/panel_data.html", context=data_panel, order=90
    )
