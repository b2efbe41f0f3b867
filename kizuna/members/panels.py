"""The members app's own My Page panels: profile, membership, account security, my data."""

from django.utils.translation import gettext_lazy as _

from kizuna.crm import fields
from kizuna.crm.models import FieldDefinition
from kizuna.members import mypage
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


def profile_panel(request, member):
    if member is None or member.contact_id is None:
        return None
    contact = member.contact
    rows = [(PROFILE_LABELS[name], getattr(contact, name)) for name in MEMBER_CONTACT_FIELDS]
    definitions = FieldDefinition.objects.for_contacts().active().filter(member_visible=True)
    for definition in definitions:
        value = (contact.custom or {}).get(definition.key)
        rows.append((definition.label, fields.display_value(definition, value)))
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
