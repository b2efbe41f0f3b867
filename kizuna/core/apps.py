from datetime import timedelta

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kizuna.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from kizuna.core import navigation, scheduling, tasks

        scheduling.register_periodic_job(
            "requeue_abandoned_tasks", tasks.requeue_abandoned_tasks, every=timedelta(minutes=1)
        )
        navigation.register_console_item(
            key="outbox",
            label=_("Outbox"),
            url_name="core:outbox_list",
            icon="mail",
            group=navigation.SYSTEM,
            order=90,
        )
        navigation.register_console_item(
            key="audit",
            label=_("Audit log"),
            url_name="core:audit_list",
            icon="shield",
            group=navigation.SYSTEM,
            order=80,
        )
