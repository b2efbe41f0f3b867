from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "kizuna.members"
    label = "members"
    verbose_name = _("Members")

    def ready(self):
        from kizuna.members import navigation, panels, receivers, segment_fields  # noqa: F401

        segment_fields.install()
        panels.register()
        navigation.register()
