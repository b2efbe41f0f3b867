from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from kizuna.core.models import SiteSettings
from kizuna.tracking.purging import purge_tracking


class Command(BaseCommand):
    help = (
        "Delete tracking data older than the site settings keep: anonymous visitors (with their "
        "events and visits) after 'keep anonymous visitors for', and every event and visit after "
        "'keep events for'. 0 days keeps them. Runs daily on its own; this runs it now."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )

    def handle(self, *args, dry_run, **options):
        site = SiteSettings.current()
        self.stdout.write(self._rules(site))
        result = purge_tracking(dry_run=dry_run)
        counts = {"visitors": result.visitors, "events": result.events, "sessions": result.sessions}
        if dry_run:
            message = _(
                "Would delete (dry run, nothing deleted): anonymous visitors %(visitors)d, "
                "events %(events)d, visits %(sessions)d."
            )
        else:
            message = _(
                "Deleted: anonymous visitors %(visitors)d, events %(events)d, visits %(sessions)d."
            )
        self.stdout.write(message % counts)

    def _rules(self, site) -> str:
        return _("Retention: anonymous visitors %(anonymous)s, events %(events)s.") % {
            "anonymous": self._period(site.anonymous_retention_days),
            "events": self._period(site.event_retention_days),
        }

    def _period(self, days: int) -> str:
        if not days:
            return pgettext("retention", "forever")
        return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}
