from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "kizuna.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self):
        from kizuna.core import navigation
        from kizuna.crm import contact_panels, filtering
        from kizuna.segments import functions, tasks  # noqa: F401 - functions: SQLite
        from kizuna.segments.compiler import SegmentCompiler

        filtering.use_compiler(SegmentCompiler)
        tasks.register_jobs()
        navigation.register_console_item(
            key="segments",
            label=_("Segments"),
            url_name="segments:segment_list",
            icon="filter",
            order=25,
        )
        contact_panels.register_contact_panel("segments:contact_segments", order=20)
