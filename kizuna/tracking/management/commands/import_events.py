import sys

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from kizuna.tracking.backfill import BackfillFileError, import_events


class Command(BaseCommand):
    help = (
        "Import past events from a JSON Lines file (one object a line: type, occurred_at with "
        "its UTC offset, exactly one of email / contact_id / visitor_id, and optionally url, "
        "referrer, ip, user_agent, props, event_id). UTF-8 (with or without a BOM) or "
        "Shift_JIS/CP932; '-' reads standard input. Running a file again stores nothing twice. "
        "Exit status: 0 every line stored, 1 some lines rejected (the rest stored), 2 the file "
        "could not be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the .jsonl file, or - for standard input")

    def handle(self, *args, **options):
        name = options["file"]
        try:
            if name == "-":
                result = self._import(sys.stdin.buffer)
            else:
                with open(name, "rb") as stream:
                    result = self._import(stream)
        except OSError as error:
            self.stderr.write(
                _("%(file)s cannot be read: %(error)s")
                % {"file": name, "error": error.strerror or error}
            )
            raise SystemExit(2) from None
        except BackfillFileError as error:
            self.stderr.write(_("%(file)s: %(error)s") % {"file": name, "error": error})
            raise SystemExit(2) from None
        self.stdout.write(
            _(
                "Lines read: %(read)d. Stored: %(stored)d, already present: %(present)d, "
                "rejected: %(rejected)d."
            )
            % {
                "read": result.read,
                "stored": result.stored,
                "present": result.present,
                "rejected": result.rejected,
            }
        )
        if result.rejected:
            raise SystemExit(1)

    def _import(self, stream):
        return import_events(
            stream,
            on_rejection=lambda rejection: self.stderr.write(
                _("line %(line)d: %(reason)s")
                % {"line": rejection.line, "reason": rejection.reason}
            ),
        )
