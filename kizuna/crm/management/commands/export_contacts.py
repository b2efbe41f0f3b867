import getpass
import json
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from kizuna.crm import exporting
from kizuna.crm.filtering import FilterError, filter_contacts
from kizuna.crm.models import Contact


class Command(BaseCommand):
    help = (
        "Write contacts as CSV to standard output, streamed (any number of rows): field keys as "
        "the header row (labels with --labels), cells a spreadsheet would run as formulas "
        "neutralised with a leading apostrophe. Exit status 2 for a bad filter, column or "
        "encoding."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--filter",
            help="field and tag conditions of the segment filter language (SEGMENTS.md) as JSON, "
            "or @FILE to read them from a file",
        )
        parser.add_argument(
            "--columns", help="comma-separated field keys (default: the usual columns and every "
            "custom field)"
        )  # fmt: skip
        parser.add_argument(
            "--encoding",
            default="utf-8",
            choices=exporting.ENCODINGS,
            help="utf-8 (default), utf-8-sig (with a BOM, for Excel) or cp932 (Shift_JIS; "
            "characters it cannot hold become the nearest one or ?)",
        )
        parser.add_argument(
            "--labels", action="store_true", help="field labels as the header row instead of keys"
        )

    def handle(self, *args, **options):
        document = None
        try:
            contacts = Contact.objects.all()
            if options["filter"]:
                document = _read_filter(options["filter"])
                contacts = filter_contacts(contacts, document)
            keys = [key.strip() for key in (options["columns"] or "").split(",") if key.strip()]
            columns = exporting.resolve_columns(keys)
        except (FilterError, exporting.ExportError) as error:
            raise CommandError(str(error), returncode=2) from None
        exporting.audit_export(
            None,
            contacts,
            columns,
            selection={"filter": document} if document is not None else {},
            encoding=options["encoding"],
            via=f"manage.py export_contacts ({_os_user()})",
        )
        out = getattr(self.stdout, "buffer", None)
        if out is None:  # a text stream (call_command(stdout=StringIO()))
            out = _TextSink(self.stdout, options["encoding"])
        try:
            exporting.write_contacts_csv(
                contacts, columns, out, options["encoding"], labels=options["labels"]
            )
            out.flush()
        except BrokenPipeError:  # `export_contacts | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(1) from None


def _read_filter(raw: str):
    if raw.startswith("@"):
        try:
            with open(raw[1:], encoding="utf-8-sig") as source:
                raw = source.read()
        except OSError as error:
            raise FilterError(f"{raw[1:]}: {error.strerror}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise FilterError(
            f"The filter is not valid JSON: {error.msg} (line {error.lineno}, column "
            f"{error.colno})."
        ) from None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


class _TextSink:
    def __init__(self, stream, encoding: str):
        self.stream, self.codec = stream, "cp932" if encoding == "cp932" else "utf-8"

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode(self.codec), ending="")

    def flush(self) -> None:
        self.stream.flush()
