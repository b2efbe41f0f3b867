from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentConfig(AppConfig):
    name = "kizuna.content"
    label = "content"
    verbose_name = _("Members-only content")

    def ready(self):
        from kizuna.content import navigation, panels, receivers  # noqa: F401 - connects them

        navigation.register()
        panels.register()
