from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "kizuna.tracking"
    label = "tracking"
    verbose_name = _("Behaviour tracking")

    def ready(self):
        from kizuna.core import navigation
        from kizuna.crm import contact_panels
        from kizuna.crm.timeline import register_timeline_source
        from kizuna.tracking import receivers, tasks  # noqa: F401 - connects the receivers
        from kizuna.tracking.timeline import tracking_entries

        register_timeline_source(tracking_entries)
        navigation.register_console_item(
            key="visitors",
            label=_("Visitors"),
            url_name="tracking:visitor_list",
            icon="eye",
            order=30,
        )
        navigation.register_console_item(
            key="top_pages",
            label=_("Top pages"),
            url_name="tracking:top_pages",
            icon="chart",
            order=35,
        )
        navigation.register_console_item(
            key="tracking_settings",
            label=_("Tracking settings"),
            url_name="tracking:settings",
            icon="settings",
            group=navigation.SYSTEM,
            order=20,
        )
        tasks.register_jobs()
        contact_panels.register_contact_panel("tracking:contact_activity", order=30)
