"""CSV export of contacts, streamed: rows are read in keyset chunks by id, so a million rows need
no more memory than a thousand. Values are written as the import reads them back (choice values,
`;`-joined lists, ISO dates), and every cell a spreadsheet would run as a formula is neutralised."""

import csv
from collections.abc import Iterator

from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import fields
from kizuna.crm.importing import neutralise_cells
from kizuna.crm.models import Contact

CHUNK = 2000
ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
DEFAULT_COLUMNS = [
    "email", "family_name", "given_name", "family_name_kana", "given_name_kana", "phone",
    "postal_code", "prefecture", "city", "address", "company", "owner", "tags",
]  # fmt: skip


class ExportError(ValueError):
    """Unknown columns or encoding; the message is translated."""


def resolve_columns(keys: list[str] | None) -> list[fields.Column]:
    available = {column.key: column for column in fields.contact_columns()}
    keys = keys or [*DEFAULT_COLUMNS, *(k for k, c in available.items() if c.is_custom)]
    unknown = [key for key in keys if key not in available]
    if unknown:
        raise ExportError(_("Unknown columns: %(columns)s") % {"columns": ", ".join(unknown)})
    return [available[key] for key in keys]


def header_row(columns: list[fields.Column], labels: bool) -> list[str]:
    return [str(column.label) if labels else column.key for column in columns]


def contact_rows(queryset, columns: list[fields.Column]) -> Iterator[list[str]]:
    """The CSV cells of each contact, chunk by chunk in id order."""
    wants_tags = any(column.key == "tags" for column in columns)
    base = queryset.select_related("owner", "company").order_by("id")
    last_id = 0
    while True:
        chunk = list(base.filter(id__gt=last_id)[:CHUNK])
        if not chunk:
            return
        last_id = chunk[-1].id
        tags = _tags_of(chunk) if wants_tags else {}
        for contact in chunk:
            yield neutralise_cells([_cell(contact, column, tags) for column in columns])


def _tags_of(contacts) -> dict[int, list[str]]:
    through = Contact.tags.through.objects.filter(contact__in=contacts).order_by("tag__name")
    tags: dict[int, list[str]] = {}
    for contact_id, name in through.values_list("contact_id", "tag__name"):
        tags.setdefault(contact_id, []).append(name)
    return tags


def _cell(contact: Contact, column: fields.Column, tags: dict) -> str:
    if column.is_custom:
        return fields.format_cell(column.definition, contact.custom.get(column.key))
    key = column.key
    if key == "owner":
        return contact.owner.email if contact.owner else ""
    if key == "company":
        return contact.company.name if contact.company else ""
    if key == "tags":
        return fields.MULTI_SEPARATOR.join(tags.get(contact.id, []))
    value = getattr(contact, key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).isoformat()
    return str(value)


class _Echo:
    def write(self, value):
        return value


def csv_chunks(queryset, columns, *, encoding: str, labels: bool) -> Iterator[bytes]:
    """The export as encoded byte chunks. CP932 cannot hold every character (emoji, some
    kanji variants): those become "?" - the console says so next to the choice."""
    if encoding not in ENCODINGS:
        raise ExportError(_("Unknown encoding: %(encoding)s") % {"encoding": encoding})
    writer = csv.writer(_Echo())
    codec = "cp932" if encoding == "cp932" else "utf-8"
    if encoding == "utf-8-sig":
        yield "\ufeff".encode()
    yield writer.writerow(header_row(columns, labels)).encode(codec, errors="replace")
    lines = []
    for row in contact_rows(queryset, columns):
        lines.append(writer.writerow(row))
        if len(lines) >= 500:
            yield "".join(lines).encode(codec, errors="replace")
            lines = []
    if lines:
        yield "".join(lines).encode(codec, errors="replace")


def audit_export(by, queryset, columns, *, selection: dict | None = None) -> int:
    """Record who exported how many contacts, which columns and which selection."""
    count = queryset.count()
    record_audit(
        by,
        AuditAction.EXPORT,
        Contact,
        rows=count,
        changes={"columns": [c.key for c in columns], "selection": selection or {}},
    )
    return count
