"""`member_state` and `tier` in the filter language (SEGMENTS.md), reached through the member row:
a contact who is no member has neither, which `empty` / `ne` / `not_in` match."""

from django.utils.translation import gettext_lazy as _

from kizuna.crm import filtering
from kizuna.crm.models import FieldType
from kizuna.members.models import MemberState, Tier


def _tier_choices() -> list[tuple[str, str]]:
    return [(tier.slug, tier.name) for tier in Tier.objects.all()]


def install() -> None:
    filtering.register_contact_field(
        "member_state",
        "member__state",
        FieldType.CHOICE,
        label=_("Member state"),
        choices=lambda: MemberState.choices,
    )
    filtering.register_contact_field(
        "tier",
        "member__tier__slug",
        FieldType.CHOICE,
        label=_("Membership rank"),
        choices=_tier_choices,
    )
