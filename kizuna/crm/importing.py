"""CSV import of contacts, set-based.

Per row, Python does only what must be done per row: decode, map, normalise and validate the cells
(fields.clean_value, the same rules as the forms). Each chunk of clean rows is then loaded into a
temporary staging table (COPY on PostgreSQL, executemany on SQLite) and written with one INSERT …
SELECT for new contacts and one UPDATE … FROM for existing ones — no ORM object per row.

Rules:
- Each row is all-or-nothing; a rejected row is reported as `line N: reason` (the header is line 1)
  and kept with its cells, so it can be downloaded, fixed and imported again.
- An empty cell leaves the stored value as it is (an import never erases data); custom fields are
  merged key by key.
- Modes: upsert (default), create (existing contacts are rejected), update (unknown ones are
  rejected); matched by email (case-insensitive) or external id. A key that appears twice in one
  file is rejected on its second line.
- Chunks commit one by one, so an import interrupted half-way can simply be run again (upsert).
"""

import codecs
import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.accounts.models import User
from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import fields, normalising
from kizuna.crm.models import (
    Company,
    ConsentMethod,
    ConsentRecord,
    Contact,
    FieldType,
    ImportJob,
    ImportKey,
    ImportMode,
    ImportRejection,
    JobState,
    Lifecycle,
    Tag,
    contact_search_document,
)

KEEP_REJECTIONS = 1000
CHUNK_ROWS = 2000  # about half a second of work: progress at least every second
PROGRESS_EVERY_SECONDS = 0.2
DETECT_BYTES = 1 << 20
IMPORT_CONSENT_WORDING = "Imported from CSV"
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
# Built-in columns written straight to crm_contact (the others are resolved: company, owner, tags).
DIRECT_COLUMNS = [
    "email",
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "phone",
    "postal_code",
    "prefecture",
    "city",
    "address",
    "lifecycle",
    "source",
    "external_id",
]
SEARCH_SOURCES = [
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "email",
    "phone",
]


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
    mapping cannot work (no key column)."""
    plan = _Plan(mapping, mode, key)
    result = ImportResult(dry_run=dry_run, on_rejection=on_rejection)
    last_progress = time.monotonic()
    chunk: list[tuple[int, list[str]]] = []

    def flush():
        nonlocal last_progress
        _import_chunk(plan, chunk, result, dry_run)
        chunk.clear()
        if progress and time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS:
            progress(result)
            last_progress = time.monotonic()

    for line, cells in rows:
        result.total_rows += 1
        chunk.append((line, cells))
        if len(chunk) >= CHUNK_ROWS:
            flush()
    if chunk:
        flush()
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


class _Plan:
    """What each file column becomes, and the look-ups every chunk shares."""

    def __init__(self, mapping: dict[str, str], mode: str, key: str):
        columns = {column.key: column for column in fields.contact_columns()}
        self.mode, self.key = mode, key
        self.targets: list[tuple[int, fields.Column]] = [
            (int(index), columns[name])
            for index, name in mapping.items()
            if name and name in columns and columns[name].importable
        ]
        mapped = {column.key for _, column in self.targets}
        if key not in mapped:
            raise ImportFileError(
                _("No column is mapped to %(key)s, which the import matches contacts by.")
                % {"key": str(columns[key].label)}
            )
        self.direct = [name for name in DIRECT_COLUMNS if name in mapped]
        self.custom = [column.definition for _, column in self.targets if column.is_custom]
        self.has = mapped
        self.cache = {column.key: {} for _, column in self.targets}
        self.cache_hits = dict.fromkeys(self.cache, 0)
        self.cache_misses = dict.fromkeys(self.cache, 0)
        self.seen_keys: dict[str, int] = {}
        staff = User.objects.filter(is_staff=True, is_active=True)
        self.owners = {}
        for user in staff.only("id", "email", "name"):
            self.owners[user.email.lower()] = user.id
            if user.name:
                self.owners.setdefault(normalising.normalize_text(user.name), user.id)
                self.owners.setdefault(user.name.replace(" ", ""), user.id)


def _import_chunk(plan: _Plan, chunk, result: ImportResult, dry_run: bool) -> None:
    clean = []
    for line, cells in chunk:
        try:
            row = _clean_row(plan, cells)
        except ValidationError as error:
            result.reject(line, _reason(error), cells)
            continue
        key_value = row.get(plan.key, "")
        key_value = key_value.lower() if plan.key == ImportKey.EMAIL else key_value
        if not key_value:
            label = _("email") if plan.key == ImportKey.EMAIL else _("external id")
            result.reject(line, _("%(key)s is empty.") % {"key": label}, cells)
            continue
        if key_value in plan.seen_keys:
            message = _("%(value)s appears twice in the file (first on line %(line)d).")
            result.reject(
                line, message % {"value": row[plan.key], "line": plan.seen_keys[key_value]}, cells
            )
            continue
        plan.seen_keys[key_value] = line
        clean.append((line, cells, key_value, row))
    if not clean:
        return
    with transaction.atomic():
        existing = _existing(plan, [item[2] for item in clean])
        to_create, to_update = [], []
        for line, cells, key_value, row in clean:
            current = existing.get(key_value)
            if current is None and plan.mode == ImportMode.UPDATE:
                result.reject(line, _("No contact matches it (mode: update only)."), cells)
            elif current is not None and plan.mode == ImportMode.CREATE:
                message = _("A contact with it already exists (mode: create only).")
                result.reject(line, message, cells)
            elif current is None:
                to_create.append(row)
            else:
                to_update.append((current, row))
        if not dry_run:
            company_ids = _company_ids(
                {
                    row["company"]
                    for row in [*to_create, *(r for _, r in to_update)]
                    if row.get("company")
                }
            )
            _write(plan, to_create, to_update, company_ids)
        result.created += len(to_create)
        result.updated += len(to_update)


def _reason(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


CACHE_LIMIT = 5000  # distinct texts remembered per column
CACHE_TRIAL = 2000  # look-ups after which a column that rarely repeats stops being cached


def _clean_row(plan: _Plan, cells: list[str]) -> dict:
    """A row's mapped cells -> stored values; raises ValidationError naming the column.

    Most columns repeat a few values (choices, prefectures, names, owners), so such a column
    remembers what its texts cleaned to and a repeated cell costs one dict look-up. Columns whose
    values rarely repeat (emails, phones) stop caching after a trial, which bounds memory."""
    row: dict = {"custom": {}}
    errors = {}
    for index, column in plan.targets:
        text = cells[index] if index < len(cells) else ""
        cache = plan.cache.get(column.key)
        known = cache.get(text) if cache is not None else None
        if known is None:
            part: dict = {"custom": {}}
            try:
                _clean_cell(plan, column, text, part)
                custom = part.pop("custom")
                has_lists = any(isinstance(v, list) for v in (*part.values(), *custom.values()))
                known = (True, tuple(part.items()), tuple(custom.items()), has_lists)
            except ValidationError as error:
                known = (False, error.messages, (), False)
            if cache is not None:
                _remember(plan, column.key, cache, text, known)
        elif cache is not None:
            plan.cache_hits[column.key] += 1
        if known[0] and not known[3]:
            row.update(known[1])
            row["custom"].update(known[2])
        elif known[0]:  # lists (tags, multiple choices) are copied: rows must not share them
            for name, value in known[1]:
                row[name] = list(value) if isinstance(value, list) else value
            for name, value in known[2]:
                row["custom"][name] = list(value) if isinstance(value, list) else value
        else:
            errors[str(column.label)] = known[1]
    if errors:
        raise ValidationError(errors)
    fill_address = row.get("postal_code") and "prefecture" not in plan.has
    if fill_address and (found := normalising.lookup_postal_code(row["postal_code"])):
        row["prefecture"], row["city"] = found.prefecture, row.get("city") or found.city
    return row


def _remember(plan: _Plan, key: str, cache: dict, text: str, known: tuple) -> None:
    if len(cache) < CACHE_LIMIT:
        cache[text] = known
    plan.cache_misses[key] += 1
    if plan.cache_misses[key] == CACHE_TRIAL and plan.cache_hits[key] < CACHE_TRIAL:
        del plan.cache[key]  # mostly distinct values: caching costs more than it saves


def _clean_cell(plan: _Plan, column: fields.Column, text: str, row: dict) -> None:
    text = text.strip()
    name = column.key
    if column.is_custom:
        value = fields.clean_value(column.definition, fields.parse_cell(column.definition, text))
        if value is not fields.MISSING:
            row["custom"][name] = value
        return
    if not text:
        return
    if name == "email":
        value = normalising.normalize_email(text)
        fields.clean_value(_EMAIL, value)
    elif name == "phone":
        value = fields.clean_value(_PHONE, text)
    elif name in ("family_name_kana", "given_name_kana"):
        value = normalising.normalize_kana(text)
    elif name == "postal_code":
        value = normalising.normalize_postal_code(text)
        if not (len(value) == 8 and value[3] == "-" and value.replace("-", "").isdigit()):
            raise ValidationError(_("Enter a postal code of seven digits, such as 100-0001."))
    elif name == "lifecycle":
        value = fields.clean_value(_LIFECYCLE, text)
    elif name == "owner":
        owner = plan.owners.get(text.lower()) or plan.owners.get(normalising.normalize_text(text))
        if owner is None:
            raise ValidationError(_("No staff member “%(owner)s”.") % {"owner": text})
        row["owner_id"] = owner
        return
    elif name == "tags":
        row["tags"] = [normalising.normalize_text(t) for t in fields.parse_cell(_TAGS, text)]
        if any(len(tag) > 100 for tag in row["tags"]):
            raise ValidationError(_("A tag may have at most 100 characters."))
        return
    elif name == "email_opt_in":
        row["email_opt_in"] = fields.clean_value(_BOOLEAN, text)
        return
    else:
        value = normalising.normalize_text(text)
    limit = TEXT_LIMITS.get(name)
    if limit and len(value) > limit:
        raise ValidationError(
            _("Use at most %(limit)d characters (it has %(count)d).")
            % {"limit": limit, "count": len(value)}
        )
    row[name] = value


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


# --- Looking up and writing ----------------------------------------------------------------------


@dataclass
class _Existing:
    id: int
    values: dict  # the search-relevant fields, company name, email_opt_in


def _existing(plan: _Plan, keys: list[str]) -> dict[str, _Existing]:
    """The contacts the chunk's keys match, with what the search document needs."""
    found = {}
    queryset = Contact.objects.all()
    # Both conditions match the partial unique indexes (NOT email = '' / NOT external_id = ''),
    # so each chunk is an index look-up instead of a scan of every contact.
    if plan.key == ImportKey.EMAIL:
        queryset = queryset.exclude(email="").annotate(match=Lower("email")).filter(match__in=keys)
    else:
        queryset = queryset.exclude(external_id="").annotate(match=F("external_id"))
        queryset = queryset.filter(match__in=keys)
    values_list = queryset.order_by().values(
        "id", "match", "company__name", "email_opt_in", *SEARCH_SOURCES
    )
    for values in values_list:
        found[values["match"]] = _Existing(values["id"], values)
    return found


def _company_ids(names: set[str]) -> dict[str, int]:
    """Company ids by name; companies named in the file and missing are created."""
    ids = {}
    for company_id, name in (
        Company.objects.filter(name__in=names).order_by("id").values_list("id", "name")
    ):
        ids.setdefault(name, company_id)
    missing = [Company(name=name) for name in names if name not in ids]
    for company in Company.objects.bulk_create(missing):
        ids[company.name] = company.pk
    if missing and connection.vendor == "sqlite" and any(c.pk is None for c in missing):
        ids.update(
            Company.objects.filter(name__in=[c.name for c in missing]).values_list("name", "id")
        )
    return ids


STAGING_COLUMNS = [
    "existing_id",
    *DIRECT_COLUMNS,
    "owner_id",
    "company_id",
    "custom",
    "search_text",
    "search_pairs",
    "email_opt_in",
]


def _write(plan: _Plan, to_create: list[dict], to_update: list, company_ids: dict) -> None:
    now = timezone.now()
    staged = []
    for row in to_create:
        staged.append(_staged_row(None, {}, row, company_ids))
    for current, row in to_update:
        staged.append(_staged_row(current, current.values, row, company_ids))
    with connection.cursor() as cursor:
        _load_staging(cursor, staged)
        set_columns = [name for name in plan.direct]
        if "owner" in plan.has:
            set_columns.append("owner_id")
        if "company" in plan.has:
            set_columns.append("company_id")
        if connection.vendor == "postgresql":
            # Statistics for the planner (a fresh temp table has none): index look-ups by id
            # in the UPDATE instead of a scan of every contact.
            cursor.execute("ANALYZE kizuna_import_staging")
        new_ids = _insert_new(cursor, plan, now) if to_create else {}
        if to_update:
            _update_existing(cursor, set_columns, bool(plan.custom), now)
        _write_tags(cursor, plan, to_create, to_update, new_ids)
        _write_consents(plan, to_create, to_update, new_ids, now)
        cursor.execute("DROP TABLE kizuna_import_staging")


def _staged_row(current: _Existing | None, stored: dict, row: dict, company_ids: dict) -> tuple:
    company_id = company_ids.get(row.get("company")) if row.get("company") else None
    merged = {name: row.get(name) or stored.get(name) or "" for name in SEARCH_SOURCES}
    company_name = row.get("company") or stored.get("company__name") or ""
    text, pairs = contact_search_document(
        merged["family_name"],
        merged["given_name"],
        merged["family_name_kana"],
        merged["given_name_kana"],
        merged["email"],
        merged["phone"],
        company_name,
    )
    direct = [row.get(name) for name in DIRECT_COLUMNS]
    custom = json.dumps(row["custom"], ensure_ascii=False)
    opt_in = row.get("email_opt_in")
    return (
        current.id if current else None,
        *direct,
        row.get("owner_id"),
        company_id,
        custom,
        text,
        pairs,
        opt_in,
    )


def _load_staging(cursor, staged: list[tuple]) -> None:
    text_columns = ", ".join(f"{name} text" for name in DIRECT_COLUMNS)
    if connection.vendor == "postgresql":
        cursor.execute(
            "CREATE TEMP TABLE kizuna_import_staging (existing_id bigint, "
            f"{text_columns}, owner_id bigint, company_id bigint, custom jsonb, "
            "search_text text, search_pairs text, email_opt_in boolean) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            f"COPY kizuna_import_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in staged:
                copy.write_row(row)
        return
    cursor.execute(
        "CREATE TEMP TABLE kizuna_import_staging (existing_id integer, "
        f"{text_columns}, owner_id integer, company_id integer, custom text, "
        "search_text text, search_pairs text, email_opt_in integer)"
    )
    # Only our own column names are formatted into the SQL; values go as parameters.
    names, placeholders = ", ".join(STAGING_COLUMNS), ", ".join(["%s"] * len(STAGING_COLUMNS))
    sql = f"INSERT INTO kizuna_import_staging ({names}) VALUES ({placeholders})"  # noqa: S608
    cursor.executemany(sql, staged)


def _insert_new(cursor, plan: _Plan, now) -> dict[str, int]:
    """Insert the new contacts; returns their ids by import key (lower-cased email)."""
    defaults = {"lifecycle": f"'{Lifecycle.LEAD}'"}
    columns = [
        *DIRECT_COLUMNS,
        "owner_id",
        "company_id",
        "custom",
        "search_text",
        "search_pairs",
        "email_opt_in",
    ]
    values = []
    for name in DIRECT_COLUMNS:
        values.append(f"COALESCE({name}, {defaults.get(name, chr(39) * 2)})")
    false = "FALSE" if connection.vendor == "postgresql" else "0"
    returned = "LOWER(email)" if plan.key == ImportKey.EMAIL else "external_id"
    values += [
        "owner_id",
        "company_id",
        "custom",
        "search_text",
        "search_pairs",
        f"COALESCE(email_opt_in, {false})",
    ]
    cursor.execute(
        f"INSERT INTO crm_contact ({', '.join(columns)}, sessions, created_at, updated_at) "  # noqa: S608
        f"SELECT {', '.join(values)}, 0, %s, %s FROM kizuna_import_staging "
        f"WHERE existing_id IS NULL RETURNING id, {returned}",
        [now, now],
    )
    return {key: contact_id for contact_id, key in cursor.fetchall()}


def _update_existing(cursor, set_columns: list[str], has_custom: bool, now) -> None:
    assignments = [f"{name} = COALESCE(s.{name}, crm_contact.{name})" for name in set_columns]
    assignments += [
        "search_text = s.search_text",
        "search_pairs = s.search_pairs",
        "updated_at = %s",
    ]
    if has_custom:
        if connection.vendor == "postgresql":
            assignments.append("custom = crm_contact.custom || s.custom")
        else:
            assignments.append("custom = json_patch(crm_contact.custom, s.custom)")
    cursor.execute(
        f"UPDATE crm_contact SET {', '.join(assignments)} FROM kizuna_import_staging AS s "  # noqa: S608
        "WHERE crm_contact.id = s.existing_id",
        [now],
    )


def _key(plan: _Plan, row: dict) -> str:
    return row[plan.key].lower() if plan.key == ImportKey.EMAIL else row[plan.key]


def _write_tags(cursor, plan, to_create, to_update, new_ids) -> None:
    if "tags" not in plan.has:
        return
    pairs = []
    names = set()
    for row in to_create:
        for tag in row.get("tags", []):
            pairs.append((new_ids[_key(plan, row)], tag))
            names.add(tag)
    for current, row in to_update:
        for tag in row.get("tags", []):
            pairs.append((current.id, tag))
            names.add(tag)
    if not pairs:
        return
    tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    Tag.objects.bulk_create([Tag(name=n) for n in names if n not in tag_ids], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    contact_ids = [contact_id for contact_id, _name in pairs]
    ids_of_tags = [tag_ids[name] for _contact_id, name in pairs]
    if connection.vendor == "postgresql":  # one statement, not one round trip per link
        cursor.execute(
            "INSERT INTO crm_contact_tags (contact_id, tag_id) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) "
            "ON CONFLICT (contact_id, tag_id) DO NOTHING",
            [contact_ids, ids_of_tags],
        )
        return
    cursor.executemany(
        "INSERT INTO crm_contact_tags (contact_id, tag_id) VALUES (%s, %s) "
        "ON CONFLICT (contact_id, tag_id) DO NOTHING",
        list(zip(contact_ids, ids_of_tags, strict=True)),
    )


def _write_consents(plan, to_create, to_update, new_ids, now) -> None:
    """A consent record for every contact whose answer the file changes (proof of how: import)."""
    if "email_opt_in" not in plan.has:
        return
    records, opted = [], {True: [], False: []}
    for row in to_create:
        if row.get("email_opt_in"):
            contact_id = new_ids[_key(plan, row)]
            records.append(
                ConsentRecord(
                    contact_id=contact_id,
                    opted_in=True,
                    recorded_at=now,
                    method=ConsentMethod.IMPORT,
                    wording=IMPORT_CONSENT_WORDING,
                )
            )
    for current, row in to_update:
        answer = row.get("email_opt_in")
        if answer is not None and answer != current.values["email_opt_in"]:
            records.append(
                ConsentRecord(
                    contact_id=current.id,
                    opted_in=answer,
                    recorded_at=now,
                    method=ConsentMethod.IMPORT,
                    wording=IMPORT_CONSENT_WORDING,
                )
            )
            opted[answer].append(current.id)
    ConsentRecord.objects.bulk_create(records, batch_size=2000)
    for answer, ids in opted.items():
        if ids:
            Contact.objects.filter(pk__in=ids).update(email_opt_in=answer)


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
            try:
                row = _clean_row(plan, cells)
            except ValidationError as error:
                previews.append({"line": line, "error": _reason(error), "values": []})
                continue
            values = [
                (str(column.label), _preview_value(column, row)) for _i, column in plan.targets
            ]
            previews.append({"line": line, "error": "", "values": values})
    return previews


def _preview_value(column: fields.Column, row: dict) -> str:
    if column.is_custom:
        return fields.display_value(column.definition, row["custom"].get(column.key))
    value = row.get({"owner": "owner_id"}.get(column.key, column.key), "")
    if isinstance(value, list):
        return "、".join(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return "" if value is None else str(value)


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

    def progress(result: ImportResult):
        ImportJob.objects.filter(pk=job_id).update(
            processed_rows=result.total_rows,
            created_count=result.created,
            updated_count=result.updated,
            rejected_count=result.rejected,
        )

    pending: list[ImportRejection] = []

    def keep(rejection: Rejection):
        pending.append(
            ImportRejection(
                job_id=job_id, line=rejection.line, reason=rejection.reason, cells=rejection.cells
            )
        )
        if len(pending) >= 2000:
            ImportRejection.objects.bulk_create(pending)
            pending.clear()

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
    except ImportFileError as error:
        ImportJob.objects.filter(pk=job_id).update(
            state=JobState.FAILED, error_message=str(error), finished_at=timezone.now()
        )
        return
    ImportRejection.objects.bulk_create(pending)
    ImportJob.objects.filter(pk=job_id).update(
        state=JobState.DONE,
        total_rows=result.total_rows,
        processed_rows=result.total_rows,
        created_count=result.created,
        updated_count=result.updated,
        rejected_count=result.rejected,
        finished_at=timezone.now(),
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise_cells(cells: list) -> list:
    """Cells a spreadsheet would run as a formula get a leading apostrophe (CSV injection)."""
    return [
        f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell
        for cell in cells
    ]
