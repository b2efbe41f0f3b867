from django.utils.translation import gettext_lazy as _

from kizuna.core import navigation


def register() -> None:
    navigation.register_console_item(
        key="pages",
        label=_("Pages"),
        url_name="content_console:page_list",
        icon="file",
        order=38,
    )
    navigation.register_console_item(
        key="faq", label=_("FAQ"), url_name="content_console:faq_list", icon="help", order=40
    )
    navigation.register_console_item(
        key="announcements",
        label=_("Announcements"),
        url_name="content_console:announcement_list",
        icon="megaphone",
        order=42,
    )
