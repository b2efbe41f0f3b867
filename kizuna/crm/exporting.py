"""CSV export of contacts, streamed.

- Rows are read in keyset chunks of CHUNK ids (`id > last id … LIMIT CHUNK`) with owner and company
  joined and the chunk's tags in one more query, so a million rows need no more memory than a
  thousand and no page is ever OFFSET-scanned.
- Values are written as the import reads them back: custom fields through fields.format_cell,
  built-ins the same way (owner by email, company by name, tags joined with ";", the lifecycle
  code, true / false, date-times in the site's time zone as ISO 8601).
- Every cell that a spreadsheet would run as a formula (=, +, -, @, tab, CR, NUL at the start) gets
  a leading apostrophe, in every column and in the header (labels are typed by staff). The
  neutralising is reversible: `restore_cell` gives the exact value back, so the import can undo it.
- CP932 (what Japanese Excel reads without a BOM) cannot hold every character; `cp932_fallback`
  writes the nearest character it can (― for —, e for é, 吉 for 𠮷) and "?" when there is none.
- Every export is audit-logged: who, how many rows, which columns, which selection.
"""

import codecs
import csv
import datetime
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO

from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import fields
from kizuna.crm.models import Contact

CHUNK = 2000
LINES_PER_WRITE = 500
ENCODINGS = ("utf-8-sig", "utf-8", "cp932")
# The columns of an export when none are chosen: the built-in ones a person fills in, then every
# custom field. Visits and timestamps are left out; ask for them by key.
DEFAULT_COLUMNS = [
    "email", "family_name", "given_name", "family_name_kana", "given_name_kana", "phone",
    "postal_code", "prefecture", "city", "address", "company", "owner", "lifecycle", "source",
    "external_id", "tags", "email_opt_in",
]  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


class ExportError(ValueError):
    """Unknown columns or encoding; the message is translated."""


# --- Columns and cells --------------------------------------------------------------------------


def resolve_columns(keys: list[str] | None) -> list[fields.Column]:
    """The columns for these keys in this order (None: the default columns and every custom
    field). Raises ExportError naming the keys that are not columns."""
    available = {column.key: column for column in fields.contact_columns()}
    if not keys:
        keys = [*DEFAULT_COLUMNS, *(key for key, c in available.items() if c.is_custom)]
    unknown = [key for key in keys if key not in available]
    if unknown:
        raise ExportError(
            _("Unknown columns: %(columns)s. Columns are field keys, such as %(example)s.")
            % {"columns": ", ".join(unknown), "example": "email, family_name, tags"}
        )
    return [available[key] for key in dict.fromkeys(keys)]


def neutralise_cell(text: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe (CSV injection).

    A cell that already starts with apostrophes before such a character gets one more, so that
    restore_cell can always take exactly one away: restore_cell(neutralise_cell(t)) == t."""
    if text.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def restore_cell(text: str) -> str:
    """The value a neutralised cell stood for (what the import should read)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text


def header_row(columns: list[fields.Column], labels: bool) -> list[str]:
    return [neutralise_cell(str(c.label) if labels else c.key) for c in columns]


def contact_rows(queryset, columns: list[fields.Column]) -> Iterator[list[str]]:
    """The neutralised CSV cells of each contact of `queryset`, chunk by chunk in id order.

    Rows are read as tuples of just the needed columns (owner and company joined), not as model
    instances: half the time of an export went into building objects."""
    sources = ["id", "custom"]  # what each chunk reads; cells pick from it by position
    readers = [_reader(column, sources) for column in columns]
    base = queryset.order_by("id").values_list(*sources)
    wants_tags = any(column.key == "tags" for column in columns)
    last_id = 0
    while True:
        chunk = list(base.filter(id__gt=last_id)[:CHUNK])
        if not chunk:
            return
        last_id = chunk[-1][0]
        tags = _tags_of([row[0] for row in chunk]) if wants_tags else {}
        for row in chunk:
            yield [neutralise_cell(read(row, tags)) for read in readers]
        if len(chunk) < CHUNK:
            return


def _reader(column: fields.Column, sources: list[str]):
    """A function (row, tags) -> the column's CSV text; adds what it reads to `sources`."""
    if column.is_custom:
        definition, key = column.definition, column.key
        return lambda row, tags: fields.format_cell(definition, (row[1] or {}).get(key))
    if column.key == "tags":
        return lambda row, tags: fields.MULTI_SEPARATOR.join(tags.get(row[0], ()))
    source = {"owner": "owner__email", "company": "company__name"}.get(column.key, column.key)
    if source not in sources:
        sources.append(source)
    index = sources.index(source)
    return lambda row, tags: _text(row[index])


def _text(value) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    return str(value)


def _tags_of(contact_ids: list[int]) -> dict[int, list[str]]:
    links = Contact.tags.through.objects.filter(contact_id__in=contact_ids).order_by("tag__name")
    tags: dict[int, list[str]] = {}
    for contact_id, name in links.values_list("contact_id", "tag__name"):
        tags.setdefault(contact_id, []).append(name)
    return tags


# --- Encoding -----------------------------------------------------------------------------------

# Characters CP932 lacks, with the CP932 character people write in their place (JIS 2004 forms
# of names -> the forms Shift_JIS has).
CP932_NEAREST = {
    "\u2014": "\u2015",  # EM DASH -> HORIZONTAL BAR (CP932's 0x815C)
    "\u2013": "-",  # EN DASH
    "\u00a0": " ",  # NO-BREAK SPACE
    "\U00020bb7": "吉",  # 𠮷 (つちよし)
    "\u9dd7": "鴎",  # 鷗
    "\u4ff1": "倶",  # 俱
    "\u525d": "剥",  # 剝
    "\u9830": "頬",  # 頰
    "\u7626": "痩",  # 瘦
}


def cp932_fallback(error: UnicodeEncodeError) -> tuple[str, int]:
    """Codec error handler "kizuna-cp932": the nearest CP932 text for what CP932 cannot hold."""
    text = error.object[error.start : error.end]
    return "".join(_nearest_cp932(character) for character in text), error.end


def _nearest_cp932(character: str) -> str:
    if unicodedata.category(character) == "Mn":
        return ""  # combining marks and variation selectors (異体字セレクタ) carry no letter
    candidates = [
        CP932_NEAREST.get(character, ""),
        unicodedata.normalize("NFKC", character),
        "".join(
            c for c in unicodedata.normalize("NFKD", character) if unicodedata.category(c) != "Mn"
        ),
    ]
    for candidate in candidates:
        if candidate and candidate != character and _fits_cp932(candidate):
            return candidate
    return "?"


def _fits_cp932(text: str) -> bool:
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


codecs.register_error("kizuna-cp932", cp932_fallback)


def _codec(encoding: str) -> tuple[str, str]:
    if encoding not in ENCODINGS:
        raise ExportError(
            _("Unknown encoding: %(encoding)s. Use one of %(encodings)s.")
            % {"encoding": encoding, "encodings": ", ".join(ENCODINGS)}
        )
    return ("cp932", "kizuna-cp932") if encoding == "cp932" else ("utf-8", "strict")


# --- Writing ------------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


class CsvExport:
    """The export as an iterable of encoded byte chunks (a StreamingHttpResponse's content);
    `rows` counts the rows written so far."""

    def __init__(self, queryset, columns: list[fields.Column], *, encoding: str, labels: bool):
        self.codec, self.errors = _codec(encoding)
        self.bom = encoding == "utf-8-sig"
        self.queryset, self.columns, self.labels = queryset, columns, labels
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        writer = csv.writer(_Echo(), lineterminator="\r\n")
        if self.bom:
            yield codecs.BOM_UTF8
        yield self._encode(writer.writerow(header_row(self.columns, self.labels)))
        lines = []
        for row in contact_rows(self.queryset, self.columns):
            lines.append(writer.writerow(row))
            self.rows += 1
            if len(lines) >= LINES_PER_WRITE:
                yield self._encode("".join(lines))
                lines = []
        if lines:
            yield self._encode("".join(lines))

    def _encode(self, text: str) -> bytes:
        return text.encode(self.codec, self.errors)


def write_contacts_csv(
    queryset, columns: list[fields.Column], out: BinaryIO, encoding: str, labels: bool = False
) -> int:
    """Write the contacts of `queryset` as CSV to the binary stream `out`; returns the number of
    rows. The caller records the export with audit_export."""
    export = CsvExport(queryset, columns, encoding=encoding, labels=labels)
    for chunk in export:
        out.write(chunk)
    return export.rows


def audit_export(by, queryset, columns, *, selection: dict, encoding: str, via: str) -> int:
    """Record who exported how many contacts, which columns and which selection; returns the
    number of rows. Recorded before the rows are sent, so an export cut off half-way is
    recorded too."""
    count = queryset.count()
    record_audit(
        by,
        AuditAction.EXPORT,
        Contact,
        rows=count,
        changes={
            "columns": [column.key for column in columns],
            "selection": selection,
            "encoding": encoding,
            "via": via,
        },
    )
    return count
