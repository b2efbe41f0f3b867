from django.utils.translation import gettext_lazy as _

from kizuna.core import navigation
from kizuna.crm import contact_panels, selection_actions


def register() -> None:
    navigation.register_console_item(
        key="members", label=_("Members"), url_name="members:member_list", icon="users", order=15
    )
    navigation.register_console_item(
        key="registration_settings",
        label=_("Registration settings"),
        url_name="members:settings",
        icon="settings",
        group=navigation.SYSTEM,
        order=15,
    )
    contact_panels.register_contact_panel("members:contact_membership", order=10)
    selection_actions.register_selection_action(
        "invite_members",
        label=_("Invite as members"),
        url_name="members:invite_segment",
        order=10,
    )
