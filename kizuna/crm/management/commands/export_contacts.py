import json
import sys

from django.core.management.base import BaseCommand

from kizuna.crm import exporting
from kizuna.crm.filtering import FilterError, filter_contacts
from kizuna.crm.models import Contact


class Command(BaseCommand):
    help = (
        "Write contacts as CSV to standard output: field keys as the header row (labels with "
        "--labels); cells that a spreadsheet would run as formulas are neutralised. Exit status 2 "
        "for a bad filter, column or encoding."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--filter", help="a segment filter (SEGMENTS.md) as JSON, or @file.json to read one"
        )
        parser.add_argument("--columns", help="comma-separated field keys (default: all)")
        parser.add_argument("--encoding", default="utf-8", choices=exporting.ENCODINGS)
        parser.add_argument("--labels", action="store_true", help="labels instead of keys")

    def handle(self, *args, **options):
        queryset = Contact.objects.all()
        try:
            if raw := options["filter"]:
                if raw.startswith("@"):
                    with open(raw[1:], encoding="utf-8") as source:
                        raw = source.read()
                queryset = filter_contacts(queryset, json.loads(raw))
            keys = [k.strip() for k in (options["columns"] or "").split(",") if k.strip()]
            columns = exporting.resolve_columns(keys or None)
            chunks = exporting.csv_chunks(
                queryset, columns, encoding=options["encoding"], labels=options["labels"]
            )
            out = getattr(self.stdout._out, "buffer", None)
            for chunk in chunks:
                if out is not None:
                    out.write(chunk)
                else:  # an in-memory text stream (call_command in tests)
                    self.stdout._out.write(chunk.decode(options["encoding"].replace("-sig", "")))
            if out is not None:
                out.flush()
        except (FilterError, exporting.ExportError, json.JSONDecodeError, OSError) as error:
            sys.stderr.write(f"export_contacts: {error}\n")
            raise SystemExit(2) from None
        exporting.audit_export(None, queryset, columns, selection={"filter": options["filter"]})
