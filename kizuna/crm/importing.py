"""CSV import of contacts, set-based.

Per row, Python does only what must be done per row: decode, map, normalise and validate the cells
(fields.clean_value, the same rules as the forms) and build the search document. It works column
by column with a cache of the texts each column has seen, so a repeated value costs a dict
look-up. Each chunk of clean rows is then written by a few set-based statements (import_writing:
COPY into a staging table on PostgreSQL, one JSON array on SQLite) - no ORM object and no round
trip per row - in a second thread on the same connection, while the next chunk is cleaned (the
database and Python each keep a core busy).

Rules:
- Each row is all-or-nothing; a rejected row is reported as `line N: reason` (the header is line 1)
  and kept with its cells, so it can be downloaded, fixed and imported again.
- An empty cell leaves the stored value as it is (an import never erases data); custom fields are
  merged key by key.
- Modes: upsert (default), create (existing contacts are rejected), update (unknown ones are
  rejected); matched by email (case-insensitive) or external id. A key that appears twice in one
  file is rejected on its second line, and so is a row whose other unique value (the external id
  when matching by email, and the reverse) belongs to another contact or appeared earlier.
- Chunks commit one by one, so an import interrupted half-way can simply be run again (upsert).
"""

import codecs
import csv
import io
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from operator import attrgetter, itemgetter
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kizuna.accounts.models import User
from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import fields, import_writing, normalising
from kizuna.crm.exporting import restore_cell
from kizuna.crm.models import (
    Contact,
    FieldType,
    ImportJob,
    ImportKey,
    ImportMode,
    JobState,
    Lifecycle,
)

logger = logging.getLogger(__name__)

KEEP_REJECTIONS = 1000
# Chunks are sized to about CHUNK_SECONDS of work at the rate so far: progress at least every
# second, few statements.
FIRST_CHUNK_ROWS, MIN_CHUNK_ROWS, MAX_CHUNK_ROWS, CHUNK_SECONDS = 250, 250, 10_000, 0.2
PROGRESS_EVERY_SECONDS = 0.2
CACHE_LIMIT = 10_000  # distinct texts remembered per column
WRITE_IN_THREAD = True  # the database writes one chunk while Python cleans the next
DETECT_BYTES = 1 << 20
TEXT_LIMITS = {
    "family_name": 100,
    "given_name": 100,
    "family_name_kana": 100,
    "given_name_kana": 100,
    "prefecture": 10,
    "city": 100,
    "address": 255,
    "source": 100,
    "external_id": 100,
    "email": 254,
    "phone": 30,
    "company": 200,
}


class ImportFileError(Exception):
    """The file cannot be read at all (exit code 2); the message is translated."""


@dataclass
class Rejection:
    line: int
    reason: str
    cells: list[str]


@dataclass
class ImportResult:
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    # The first KEEP_REJECTIONS rejected rows; all of them go to on_rejection as they happen, so
    # a file with a million bad rows needs no memory for them.
    rejections: list[Rejection] = field(default_factory=list)
    dry_run: bool = False
    on_rejection: Callable[[Rejection], None] | None = None

    def reject(self, line: int, reason: str, cells: list[str]) -> None:
        rejection = Rejection(line, reason, cells)
        self.rejected += 1
        if len(self.rejections) < KEEP_REJECTIONS:
            self.rejections.append(rejection)
        if self.on_rejection is not None:
            self.on_rejection(rejection)


# --- Reading ------------------------------------------------------------------------------------


def detect_encoding(head: bytes) -> str:
    """utf-8-sig (BOM), utf-8, or cp932 (Japanese Excel's CSV), from the file's first bytes."""
    if b"\x00" in head:  # text never has NUL bytes; workbooks, PDFs and images do
        raise ImportFileError(
            _("The file is not CSV text (an Excel workbook, perhaps?). Save it as CSV first.")
        )
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError(_("The file is not UTF-8 or Shift_JIS (CP932) text."))


def open_csv(stream) -> tuple[str, list[str], Iterator[tuple[int, list[str]]]]:
    """(encoding, header, rows as (line number, cells)) of a binary stream."""
    buffered = io.BufferedReader(stream, DETECT_BYTES) if not hasattr(stream, "peek") else stream
    encoding = detect_encoding(buffered.peek(DETECT_BYTES)[:DETECT_BYTES])
    text = io.TextIOWrapper(buffered, encoding=encoding, newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ImportFileError(_("The file cannot be read: %(error)s") % {"error": error}) from None
    header = [normalising.normalize_text(name) for name in header]
    if not any(header):
        raise ImportFileError(_("The first line must name the columns."))

    def rows():
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    yield reader.line_num, cells
        except UnicodeDecodeError:
            raise ImportFileError(
                _("Line %(line)d is not %(encoding)s text.")
                % {"line": reader.line_num + 1, "encoding": encoding}
            ) from None
        except csv.Error as error:
            raise ImportFileError(
                _("Line %(line)d cannot be read: %(error)s")
                % {"line": reader.line_num, "error": error}
            ) from None

    return encoding, header, rows()


def automatic_mapping(header: list[str]) -> dict[str, str]:
    """{"0": "email", ...}: each file column mapped to the column whose key or label it names."""
    aliases = {}
    for column in fields.contact_columns():
        if column.importable:
            for alias in fields.column_aliases(column):
                aliases.setdefault(alias, column.key)
    mapping, used = {}, set()
    for index, name in enumerate(header):
        key = aliases.get(normalising.fold_for_search(name), "")
        if key and key not in used:
            mapping[str(index)] = key
            used.add(key)
        else:
            mapping[str(index)] = ""
    return mapping


# --- Importing ----------------------------------------------------------------------------------


def import_contacts(
    rows: Iterable[tuple[int, list[str]]],
    mapping: dict[str, str],
    *,
    mode: str = ImportMode.UPSERT,
    key: str = ImportKey.EMAIL,
    dry_run: bool = False,
    by=None,
    file_name: str = "",
    progress: Callable[[ImportResult], None] | None = None,
    on_rejection: Callable[[Rejection], None] | None = None,
) -> ImportResult:
    """Import mapped CSV rows; returns counts and rejected rows. Raises ImportFileError when the
    mapping cannot work (no key column). Rejected rows go to on_rejection in line order, and
    progress is called at least every PROGRESS_EVERY_SECONDS of work (both from the thread that
    writes, which may not be the caller's)."""
    plan = _Plan(mapping, mode, key)
    result = ImportResult(dry_run=dry_run, on_rejection=on_rejection)
    writer = _Writer(plan, result, dry_run, progress)
    with writer:
        for chunk in _chunks(rows):
            writer.put(_clean_chunk(plan, chunk))
    if progress:
        progress(result)
    if not dry_run and (result.created or result.updated):
        record_audit(
            by,
            AuditAction.IMPORT,
            Contact,
            rows=result.created + result.updated,
            changes={
                "file": file_name,
                "created": result.created,
                "updated": result.updated,
                "rejected": result.rejected,
                "mode": mode,
                "key": key,
            },
        )
    return result


def _chunks(rows: Iterable[tuple[int, list[str]]]) -> Iterator[list]:
    """The rows in chunks sized to about CHUNK_SECONDS of work at the rate so far, so progress
    is reported often on a slow machine and statements stay few on a fast one."""
    started, done, size = time.monotonic(), 0, FIRST_CHUNK_ROWS
    chunk: list[tuple[int, list[str]]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            done += len(chunk)
            chunk = []
            rate = done / max(time.monotonic() - started, 1e-3)
            size = max(MIN_CHUNK_ROWS, min(MAX_CHUNK_ROWS, int(rate * CHUNK_SECONDS)))
    if chunk:
        yield chunk


class _Bad:
    """A cell that cannot be stored, with the reasons."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[str]):
        self.messages = messages


class _Cleaner:
    """One mapped file column: how a cell becomes the stored value, with a cache of the texts
    seen - most columns repeat a few values (choices, prefectures, names, owners), so a repeated
    cell costs one dict look-up. The cache stops growing at CACHE_LIMIT texts and is dropped when
    it rarely hits (emails, phones), which bounds memory."""

    __slots__ = ("index", "column", "label", "convert", "cache", "hits", "misses", "bad")

    def __init__(self, index: int, column: fields.Column, convert: Callable[[str], object]):
        self.index, self.column, self.label = index, column, str(column.label)
        self.convert = convert  # stripped text -> stored value (None: empty); ValidationError
        self.cache: dict | None = {}
        self.hits = self.misses = 0
        self.bad = False  # some cell was bad: the chunk's values must be searched for _Bad

    def value(self, text: str):
        try:
            return self.convert(restore_cell(text.strip()))
        except ValidationError as error:
            self.bad = True
            return _Bad(error.messages)

    def values(self, texts: list[str]) -> list:
        cache = self.cache
        if cache is None:
            value = self.value
            return [value(text) for text in texts]
        get, missing, miss = cache.get, _NOT_CACHED, self._miss
        found = [get(text, missing) for text in texts]
        if missing in found:
            found = [
                miss(text) if v is missing else v for v, text in zip(found, texts, strict=True)
            ]
        self.hits += len(found)
        return found

    def _miss(self, text: str):
        value = self.value(text)
        self.misses += 1
        self.hits -= 1
        cache = self.cache
        if cache is not None:
            if len(cache) < CACHE_LIMIT:
                cache[text] = value
            elif self.misses > self.hits:  # full, and mostly distinct values: not worth it
                self.cache = None
        return value


_NOT_CACHED = object()


class _Plan:
    """What each file column becomes, and the look-ups every chunk shares."""

    def __init__(self, mapping: dict[str, str], mode: str, key: str):
        columns = {column.key: column for column in fields.contact_columns()}
        self.mode, self.key = mode, key
        targets = [
            (int(index), columns[name])
            for index, name in mapping.items()
            if name and name in columns and columns[name].importable
        ]
        self.has = {column.key for _, column in targets}
        if key not in self.has:
            raise ImportFileError(
                _("No column is mapped to %(key)s, which the import matches contacts by.")
                % {"key": str(columns[key].label)}
            )
        self.owners: dict[str, int] = {}
        staff = User.objects.filter(is_staff=True, is_active=True)
        for user in staff.only("id", "email", "name"):
            self.owners[user.email.lower()] = user.id
            if user.name:
                self.owners.setdefault(normalising.normalize_text(user.name), user.id)
                self.owners.setdefault(user.name.replace(" ", ""), user.id)
        self.cleaners = [
            _Cleaner(index, column, self._converter(column)) for index, column in targets
        ]
        for cleaner in self.cleaners:
            if cleaner.column.key in ("email", "phone", "external_id"):
                cleaner.cache = None  # one per contact: a cache would only cost
        self.builtin = [c for c in self.cleaners if not c.column.is_custom]
        self.custom = [c for c in self.cleaners if c.column.is_custom]
        self.width = max(index for index, _ in targets) + 1
        # A postal code fills the prefecture and city, as in the forms, unless the file has them.
        self.autofill = "postal_code" in self.has and "prefecture" not in self.has
        self.direct = [
            name
            for name in import_writing.DIRECT_COLUMNS
            if name in self.has or (self.autofill and name in ("prefecture", "city"))
        ]
        # Cleaning a file cell looks the file up in the database, which the writing thread uses.
        self.threadable = not any(c.column.type == FieldType.FILE for c in self.custom)
        self.seen_keys: dict[str, int] = {}
        # The other unique column, when the file has it: a value another contact has already,
        # or one that appears twice in the file, would break the unique index - such rows are
        # rejected instead.
        other = ImportKey.EXTERNAL_ID if key == ImportKey.EMAIL else ImportKey.EMAIL
        self.other = other if other in self.has else None
        self.seen_other: dict[str, int] = {}
        # Ids of the companies and tags named so far: most files name a few of them again and
        # again, so after the first chunks they cost no query.
        self.company_ids: dict[str, int] = {}
        self.tag_ids: dict[str, int] = {}
        self.id_sequence = ""  # PostgreSQL: crm_contact's id sequence, once known

    def _converter(self, column: fields.Column) -> Callable[[str], object]:
        if column.is_custom:
            return _custom_converter(column.definition)
        name = column.key
        limit = TEXT_LIMITS.get(name)
        if name == "email":
            convert = _clean_email
        elif name == "phone":
            convert = _clean_phone
        elif name in ("family_name_kana", "given_name_kana"):
            convert = normalising.normalize_kana
        elif name == "postal_code":
            convert = _clean_postal_code
        elif name == "lifecycle":
            convert = _clean_lifecycle
        elif name == "owner":
            convert = self._owner_id
        elif name == "tags":
            convert = _clean_tags
        elif name == "email_opt_in":
            convert = _clean_boolean
        else:
            convert = normalising.normalize_text
        if not limit:
            return lambda text: convert(text) if text else None

        def limited(text: str):
            if not text:
                return None
            value = convert(text)
            if len(value) > limit:
                raise ValidationError(
                    _("Use at most %(limit)d characters (it has %(count)d).")
                    % {"limit": limit, "count": len(value)}
                )
            return value

        return limited

    def _owner_id(self, text: str) -> int:
        owner = self.owners.get(text.lower()) or self.owners.get(normalising.normalize_text(text))
        if owner is None:
            raise ValidationError(_("No staff member “%(owner)s”.") % {"owner": text})
        return owner


# Emails and phone numbers rarely repeat, so they are never served from a cache: the usual
# already-clean forms take a short path that gives exactly what the full rules give
# (test_importing checks both paths against each other).
_EMAIL_QUICK = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*@"
    + EmailValidator.hostname_re
    + EmailValidator.domain_re
    + EmailValidator.tld_no_fqdn_re,
    re.IGNORECASE,
)
_PHONE_QUICK = re.compile(r"\+?[0-9](?:-?[0-9])*")


def _clean_email(text: str) -> str:
    if text.isascii() and text.isprintable() and " " not in text:
        local, _at, domain = text.rpartition("@")
        value = f"{local}@{domain.lower()}"
        if _EMAIL_QUICK.fullmatch(value) and len(value) <= 320:
            return value
    value = normalising.normalize_email(text)
    fields.clean_value(_EMAIL, value)
    return value


def _clean_phone(text: str) -> str:
    value = text.translate(normalising.WIDE_TO_ASCII)
    if len(value) <= 30 and _PHONE_QUICK.fullmatch(value) and len(value.replace("-", "")) >= 5:
        return value
    return fields.clean_value(_PHONE, text)


def _clean_postal_code(text: str) -> str:
    value = normalising.normalize_postal_code(text)
    if not (len(value) == 8 and value[3] == "-" and value.replace("-", "").isdigit()):
        raise ValidationError(_("Enter a postal code of seven digits, such as 100-0001."))
    return value


def _clean_lifecycle(text: str) -> str:
    return fields.clean_value(_LIFECYCLE, text)


def _clean_tags(text: str) -> list[str]:
    tags = [normalising.normalize_text(tag) for tag in fields.parse_cell(_TAGS, text)]
    if any(len(tag) > 100 for tag in tags):
        raise ValidationError(_("A tag may have at most 100 characters."))
    return tags


def _clean_boolean(text: str) -> bool:
    return fields.clean_value(_BOOLEAN, text)


def _custom_converter(definition) -> Callable[[str], str | None]:
    """A custom field's cell -> its `"key": value` JSON member (None: no value, key untouched)."""
    prefix = encode_basestring(definition.key) + ": "

    def convert(text: str):
        value = fields.clean_value(definition, fields.parse_cell(definition, text))
        return None if value is fields.MISSING else prefix + _json(value)

    return convert


def _custom_value(definition, text: str):
    """The stored value of a custom field's cell (for the preview)."""
    return fields.clean_value(definition, fields.parse_cell(definition, text))


def _json(value) -> str:
    """json.dumps(value, ensure_ascii=False) for the stored types, without its overhead."""
    if value.__class__ is str:
        return encode_basestring(value)
    if value is True or value is False:
        return "true" if value else "false"
    if value.__class__ is int:
        return str(value)
    if value.__class__ is list and all(item.__class__ is str for item in value):
        return "[" + ", ".join(map(encode_basestring, value)) + "]"
    return json.dumps(value, ensure_ascii=False)


_EMAIL = fields.FieldDefinition(key="email", type=FieldType.EMAIL)
_PHONE = fields.FieldDefinition(key="phone", type=FieldType.PHONE)
_BOOLEAN = fields.FieldDefinition(key="email_opt_in", type=FieldType.BOOLEAN)
_TAGS = fields.FieldDefinition(key="tags", type=FieldType.MULTI_CHOICE)
_LIFECYCLE = fields.FieldDefinition(
    key="lifecycle",
    type=FieldType.CHOICE,
    choices=[
        {"value": value, "ja": str(label), "en": str(label)} for value, label in Lifecycle.choices
    ],
)


@dataclass
class _Cleaned:
    """A chunk after cleaning: the rows to write, column by column, and the rows rejected."""

    count: int
    rejections: list[Rejection]
    lines: list[int]
    cells: list[list[str]]
    keys: list[str]  # the import key of each row (emails lower-cased)
    others: list[str | None]  # the other unique column's value (plan.other), emails lower-cased
    values: dict[str, list]  # built-in column -> a value or None per row
    customs: list[str]  # the custom fields of each row as a JSON object
    documents: list[tuple[str, str]]  # (search_text, search_pairs) from the row's own values


def _clean_chunk(plan: _Plan, chunk: list[tuple[int, list[str]]]) -> _Cleaned:
    """Clean a chunk column by column: the per-row work in Python is a few look-ups."""
    lines = [line for line, _cells in chunk]
    cells = [cells for _line, cells in chunk]
    width = plan.width
    padded = [row if len(row) >= width else row + [""] * (width - len(row)) for row in cells]
    problems: dict[int, list[tuple[str, list[str]]]] = {}
    columns = {}
    for cleaner in plan.cleaners:
        values = cleaner.values(list(map(itemgetter(cleaner.index), padded)))
        if cleaner.bad:
            for position, value in enumerate(values):
                if value.__class__ is _Bad:
                    problems.setdefault(position, []).append((cleaner.label, value.messages))
        columns[cleaner] = values
    values = {cleaner.column.key: columns[cleaner] for cleaner in plan.builtin}
    if plan.autofill:
        _fill_address(values)

    rejections, keep, seen, seen_other = [], [], plan.seen_keys, plan.seen_other
    key_values, lowered = values[plan.key], plan.key == ImportKey.EMAIL
    other_values = values[plan.other] if plan.other else [None] * len(lines)
    keys, others = [], []
    twice = _("%(value)s appears twice in the file (first on line %(line)d).")
    for position, line in enumerate(lines):
        if position in problems:
            reason = "; ".join(f"{label}: {' '.join(m)}" for label, m in problems[position])
            rejections.append(Rejection(line, reason, cells[position]))
            continue
        value = key_values[position]
        if not value:
            label = _("email") if lowered else _("external id")
            reason = _("%(key)s is empty.") % {"key": label}
            rejections.append(Rejection(line, reason, cells[position]))
            continue
        key = value.lower() if lowered else value
        if (first := seen.get(key)) is not None:
            reason = twice % {"value": value, "line": first}
            rejections.append(Rejection(line, reason, cells[position]))
            continue
        other = other_values[position]
        if other is not None:
            other = other if lowered else other.lower()
            if (first := seen_other.get(other)) is not None:
                reason = twice % {"value": other_values[position], "line": first}
                rejections.append(Rejection(line, reason, cells[position]))
                continue
            seen_other[other] = line
        seen[key] = line
        keep.append(position)
        keys.append(key)
        others.append(other)
    members = [columns[cleaner] for cleaner in plan.custom]
    if len(keep) < len(lines):
        lines = [lines[i] for i in keep]
        cells = [cells[i] for i in keep]
        values = {name: [column[i] for i in keep] for name, column in values.items()}
        members = [[column[i] for i in keep] for column in members]
    if members:  # the JSON members of each row's custom fields, as one object
        customs = ["{" + ", ".join(filter(None, row)) + "}" for row in zip(*members, strict=True)]
    else:
        customs = ["{}"] * len(keep)
    nothing = [None] * len(keep)
    sources = [values.get(name, nothing) for name in (*import_writing.SEARCH_SOURCES, "company")]
    documents = [import_writing.search_document(*row) for row in zip(*sources, strict=True)]
    return _Cleaned(len(chunk), rejections, lines, cells, keys, others, values, customs, documents)


def _fill_address(values: dict[str, list]) -> None:
    found = [
        normalising.lookup_postal_code(code) if code.__class__ is str else None
        for code in values["postal_code"]
    ]
    values["prefecture"] = [address.prefecture if address else None for address in found]
    cities = values.get("city") or [None] * len(found)
    values["city"] = [
        (city or address.city) if address else city
        for city, address in zip(cities, found, strict=True)
    ]


# --- Writing -------------------------------------------------------------------------------------


class _Writer:
    """Writes cleaned chunks in a second thread, on the caller's database connection (shared the
    way Django's live server tests share it): the database works on one chunk while Python cleans
    the next, and the caller's transaction, if any, still holds everything. The caller must not
    use the database until the `with` block ends."""

    def __init__(self, plan: _Plan, result: ImportResult, dry_run: bool, progress):
        self.plan, self.result, self.dry_run = plan, result, dry_run
        self.progress, self.last_progress = progress, time.monotonic()
        self.threaded = plan.threadable and WRITE_IN_THREAD
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def __enter__(self):
        if self.threaded:
            self.language = translation.get_language()  # rejection reasons in the caller's
            self.connection = connections[DEFAULT_DB_ALIAS]
            self.connection.inc_thread_sharing()
            self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
            self.thread.start()
        return self

    def put(self, cleaned: _Cleaned) -> None:
        if not self.threaded:
            self._write(cleaned)
            return
        self.queue.put(cleaned)
        if self.error is not None:
            raise self.error

    def __exit__(self, exc_type, exc, traceback):
        if self.threaded:
            self.queue.put(None)
            self.thread.join()
            self.connection.dec_thread_sharing()
            if self.error is not None and exc_type is None:
                raise self.error

    def _run(self) -> None:
        connections[DEFAULT_DB_ALIAS] = self.connection
        if self.language:
            translation.activate(self.language)
        else:
            translation.deactivate_all()
        while (cleaned := self.queue.get()) is not None:
            if self.error is None:  # after an error, the queue is only emptied
                try:
                    self._write(cleaned)
                except BaseException as error:  # noqa: BLE001 - raised again in the caller
                    self.error = error

    def _write(self, cleaned: _Cleaned) -> None:
        plan, result = self.plan, self.result
        rejections = list(cleaned.rejections)
        if cleaned.keys:
            own_transaction = not connection.in_atomic_block
            with transaction.atomic():
                existing = import_writing.existing_contacts(plan.key, cleaned.keys)
                holders = {}
                if plan.other:
                    taken = [other for other in cleaned.others if other]
                    holders = {
                        k: e.id
                        for k, e in import_writing.existing_contacts(
                            plan.other, taken, full=False
                        ).items()
                    }
                creates, updates = [], []
                for position, key in enumerate(cleaned.keys):
                    current = existing.get(key)
                    holder = holders.get(cleaned.others[position]) if holders else None
                    if current is None and plan.mode == ImportMode.UPDATE:
                        message = _("No contact matches it (mode: update only).")
                    elif current is not None and plan.mode == ImportMode.CREATE:
                        message = _("A contact with it already exists (mode: create only).")
                    elif holder is not None and (current is None or holder != current.id):
                        value = cleaned.values[plan.other][position]
                        message = _("%(value)s belongs to another contact.") % {"value": value}
                    elif current is None:
                        creates.append(position)
                        continue
                    else:
                        updates.append((position, current))
                        continue
                    line, cells = cleaned.lines[position], cleaned.cells[position]
                    rejections.append(Rejection(line, message, cells))
                if not self.dry_run and (creates or updates):
                    import_writing.write_chunk(plan, cleaned, creates, updates, own_transaction)
            result.created += len(creates)
            result.updated += len(updates)
        for rejection in sorted(rejections, key=attrgetter("line")):
            result.reject(rejection.line, rejection.reason, rejection.cells)
        result.total_rows += cleaned.count
        if self.progress and time.monotonic() - self.last_progress >= PROGRESS_EVERY_SECONDS:
            self.progress(result)
            self.last_progress = time.monotonic()


# --- Import jobs (console and background task) ---------------------------------------------------

INLINE_MAX_BYTES = 200_000  # small files import during the request; larger ones in the background


def start_import_job(uploaded_file, *, by) -> ImportJob:
    """Keep an uploaded CSV privately, read its header and map its columns automatically.
    Raises ImportFileError when the file cannot be read."""
    uploaded_file.seek(0)
    encoding, header, _rows = open_csv(io.BytesIO(uploaded_file.read(DETECT_BYTES * 2)))
    uploaded_file.seek(0)
    job = ImportJob(
        created_by=by if getattr(by, "pk", None) else None,
        file_name=Path(uploaded_file.name or "import.csv").name[:255],
        encoding=encoding,
        headers=header,
        mapping=automatic_mapping(header),
    )
    job.file.save("import.csv", uploaded_file, save=False)
    job.save()
    return job


def preview_rows(job: ImportJob, limit: int = 5) -> list[dict]:
    """The first rows as they would be stored (or why they would be rejected)."""
    plan_error = None
    try:
        plan = _Plan(job.mapping, job.mode, job.key)
    except ImportFileError as error:
        plan, plan_error = None, str(error)
    previews = []
    with job.file.open("rb") as stream:
        _encoding, _header, rows = open_csv(stream)
        for line, cells in rows:
            if len(previews) >= limit:
                break
            if plan is None:
                previews.append({"line": line, "error": plan_error, "values": []})
                continue
            values, problems = [], []
            for cleaner in plan.cleaners:
                text = cells[cleaner.index] if cleaner.index < len(cells) else ""
                value = _preview_value(cleaner, text)
                if value.__class__ is _Bad:
                    problems.append(f"{cleaner.label}: {' '.join(value.messages)}")
                else:
                    values.append((cleaner.label, value))
            error = "; ".join(problems)
            previews.append({"line": line, "error": error, "values": [] if error else values})
    return previews


def _preview_value(cleaner: _Cleaner, text: str):
    """A cell as it will be shown once stored, or _Bad."""
    column = cleaner.column
    if column.is_custom:
        try:
            value = _custom_value(column.definition, restore_cell(text.strip()))
        except ValidationError as error:
            return _Bad(error.messages)
        value = None if value is fields.MISSING else value
        return fields.display_value(column.definition, value)
    value = cleaner.value(text)
    if value is None or value.__class__ is _Bad:
        return "" if value is None else value
    if column.key == "owner":  # the staff member it names, as typed
        return normalising.normalize_text(text)
    if isinstance(value, list):
        return "、".join(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def queue_import_job(job: ImportJob) -> bool:
    """The settings are chosen: the job waits for a runner. True when the file is small enough
    to import during the request; the caller enqueues tasks.run_import otherwise."""
    ImportJob.objects.filter(pk=job.pk).update(
        state=JobState.QUEUED,
        mapping=job.mapping,
        mode=job.mode,
        key=job.key,
        dry_run=job.dry_run,
    )
    return job.file.size <= INLINE_MAX_BYTES


def run_import_job(job_id: int) -> None:
    """Run a queued import once: claimed with a conditional UPDATE, so a retried task or a second
    worker does nothing."""
    claimed = ImportJob.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    newlines, returns = 0, 0  # for the progress bar: about one row a line
    with job.file.open("rb") as stream:
        while block := stream.read(1 << 20):
            newlines, returns = newlines + block.count(b"\n"), returns + block.count(b"\r")
    ImportJob.objects.filter(pk=job_id).update(total_rows=max(newlines, returns, 2) - 1)

    def progress(result: ImportResult):
        ImportJob.objects.filter(pk=job_id).update(
            processed_rows=result.total_rows,
            created_count=result.created,
            updated_count=result.updated,
            rejected_count=result.rejected,
        )

    pending: list[tuple] = []

    def save_rejections():
        with connection.cursor() as cursor:
            import_writing.insert_rows(cursor, "crm_importrejection", REJECTION_FIELDS, pending)
        pending.clear()

    def keep(rejection: Rejection):
        pending.append((job_id, rejection.line, rejection.reason, rejection.cells))
        if len(pending) >= 2000:
            save_rejections()

    try:
        with job.file.open("rb") as stream:
            _encoding, _header, rows = open_csv(stream)
            result = import_contacts(
                rows,
                job.mapping,
                mode=job.mode,
                key=job.key,
                dry_run=job.dry_run,
                by=job.created_by,
                file_name=job.file_name,
                progress=progress,
                on_rejection=keep,
            )
    except Exception as error:  # noqa: BLE001 - the job says what happened; the log has the rest
        save_rejections()
        if isinstance(error, ImportFileError):
            message = str(error)
        else:
            logger.exception("Import %s stopped", job_id)
            message = _(
                "The import stopped because of an error. The rows before it were imported; "
                "run the file again to import the rest."
            )
        ImportJob.objects.filter(pk=job_id).update(
            state=JobState.FAILED, error_message=message, finished_at=timezone.now()
        )
        return
    save_rejections()
    ImportJob.objects.filter(pk=job_id).update(
        state=JobState.DONE,
        total_rows=result.total_rows,
        processed_rows=result.total_rows,
        created_count=result.created,
        updated_count=result.updated,
        rejected_count=result.rejected,
        finished_at=timezone.now(),
    )


REJECTION_FIELDS = {"job_id": "bigint", "line": "integer", "reason": "text", "cells": "jsonb"}
