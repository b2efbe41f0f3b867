from pathlib import Path

from django.core.management.base import BaseCommand

from kizuna.crm.importing import ImportFileError, automatic_mapping, import_contacts, open_csv
from kizuna.crm.models import ImportKey, ImportMode


class Command(BaseCommand):
    help = (
        "Import contacts from a CSV file (UTF-8, UTF-8 with BOM or Shift_JIS/CP932). Columns are "
        "matched by field key or by their Japanese or English label. Exit status: 0 every row "
        "imported, 1 some rows rejected (the rest imported), 2 nothing could be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.UPSERT)
        parser.add_argument(
            "--key",
            choices=ImportKey.values,
            default=ImportKey.EMAIL,
            help="match existing contacts by this column (default: email)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check every row, save nothing")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            with path.open("rb") as stream:
                encoding, header, rows = open_csv(stream)
                mapping = automatic_mapping(header)
                result = import_contacts(
                    rows,
                    mapping,
                    mode=options["mode"],
                    key=options["key"],
                    dry_run=options["dry_run"],
                    file_name=path.name,
                    on_rejection=lambda r: self.stdout.write(f"line {r.line}: {r.reason}"),
                )
        except OSError as error:
            self.stderr.write(f"{path}: {error.strerror}")
            raise SystemExit(2) from None
        except ImportFileError as error:
            self.stderr.write(f"{path}: {error}")
            raise SystemExit(2) from None
        ignored = [header[int(i)] for i, key in mapping.items() if not key and header[int(i)]]
        verb = "would be" if result.dry_run else "were"
        self.stdout.write(
            f"{result.total_rows} rows read ({encoding}): {result.created} {verb} created, "
            f"{result.updated} {verb} updated, {result.rejected} rejected."
        )
        if ignored:
            self.stdout.write(f"Columns not imported (no matching field): {', '.join(ignored)}")
        if result.rejected:
            raise SystemExit(1)
