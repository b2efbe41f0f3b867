"""The database side of the CSV import (importing.py): a chunk of cleaned rows written with a few
set-based statements.

PostgreSQL: the rows go by COPY into a temporary staging table, then one statement inserts the new
contacts (ids taken from crm_contact's sequence), updates the existing ones, links the tags and
writes the consent records, all joined to the staging table. SQLite: the chunk is one JSON array,
one parameter of one INSERT … SELECT (and one UPDATE … FROM), unpacked by json_each in C.
Neither makes an ORM object or a round trip per row.
"""

import json
import re
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from kizuna.crm import normalising
from kizuna.crm.models import Company, ConsentMethod, Contact, ImportKey, Lifecycle, Tag

IMPORT_CONSENT_WORDING = "Imported from CSV"
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


@dataclass
class _Existing:
    id: int
    values: dict  # the search-relevant fields, company name, email_opt_in


def existing_contacts(kind: str, keys: list[str], full: bool = True) -> dict[str, _Existing]:
    """The contacts whose email (lower-cased) or external id is one of keys, with what the
    search document needs (unless not full). Each key is an index look-up (the partial unique
    indexes, NOT email = '' / NOT external_id = ''), never a scan of every contact: on
    PostgreSQL a LATERAL … LIMIT 1 per key, which the planner cannot turn into a scan of the
    whole table (it would for a long IN list once the table has grown)."""
    if not keys:
        return {}
    if kind == ImportKey.EMAIL:
        condition, match = "NOT c.email = ''", "LOWER(c.email)"
    else:
        condition, match = "NOT c.external_id = ''", "c.external_id"
    names = ["id", "match", "company__name", "email_opt_in", *SEARCH_SOURCES]
    columns = ["c.id", match, "co.name", "c.email_opt_in", *(f"c.{n}" for n in SEARCH_SOURCES)]
    if not full:
        names, columns = names[:2], columns[:2]
    join = " LEFT JOIN crm_company co ON co.id = c.company_id" if full else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns[1] = "k.key"
            rest = (
                "FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL (SELECT * FROM crm_contact "  # noqa: S608
                f"AS c WHERE {condition} AND {match} = k.key LIMIT 1) AS c{join}"
            )
            found = _fetch(cursor, columns, rest, [keys])
        else:
            rest = (
                f"FROM crm_contact c{join} "  # noqa: S608
                f"WHERE {condition} AND {match} IN (SELECT value FROM json_each(%s))"
            )
            found = _fetch(cursor, columns, rest, [json.dumps(keys)])
    return {row[1]: _Existing(row[0], dict(zip(names, row, strict=True))) for row in found}


CACHED_IDS_LIMIT = 100_000  # company and tag names whose ids an import remembers


def _company_ids(plan, names: list) -> dict[str, int]:
    """Company ids by name (the oldest company of a name); companies named in the file and
    missing are created. Remembered for the rest of the import."""
    ids = plan.company_ids
    if len(ids) > CACHED_IDS_LIMIT:
        ids.clear()
    wanted = {name for name in names if name and name not in ids}
    if not wanted:
        return ids
    for company_id, name in (
        Company.objects.filter(name__in=wanted).order_by("id").values_list("id", "name")
    ):
        ids.setdefault(name, company_id)
    missing = [Company(name=name) for name in wanted if name not in ids]
    for company in Company.objects.bulk_create(missing):
        if company.pk is not None:
            ids[company.name] = company.pk
    if missing and any(c.pk is None for c in missing):
        ids.update(
            Company.objects.filter(name__in=[c.name for c in missing]).values_list("name", "id")
        )
    return ids


def _tag_ids(plan, tag_lists: list) -> dict[str, int]:
    """Tag ids by name; tags named in the file and missing are created. Remembered for the rest
    of the import."""
    ids = plan.tag_ids
    if len(ids) > CACHED_IDS_LIMIT:
        ids.clear()
    wanted = {tag for tags in tag_lists if tags for tag in tags if tag not in ids}
    if not wanted:
        return ids
    ids.update(Tag.objects.filter(name__in=wanted).values_list("name", "id"))
    missing = [Tag(name=name) for name in wanted if name not in ids]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        ids.update(Tag.objects.filter(name__in=wanted).values_list("name", "id"))
    return ids


# On SQLite (and for the small writes of both databases: rejected rows, tag links), rows go to the
# database as one JSON array, one parameter of one statement, unpacked in C by json_each
# (PostgreSQL: jsonb_array_elements). executemany would bind each row in Python and give up the
# GIL for each row stepped, then wait for it while the other thread cleans. Queries that return
# many rows aggregate them into one JSON value for the same reason.
ROW_FIELDS = {
    "existing_id": "bigint",
    **dict.fromkeys(DIRECT_COLUMNS, "text"),
    "owner_id": "bigint",
    "company_id": "bigint",
    "custom": "jsonb",
    "search_text": "text",
    "search_pairs": "text",
    "email_opt_in": "boolean",
}


def _json_rows(fields_types: dict[str, str]) -> tuple[str, str]:
    """(select list naming each field of a row, FROM clause with one %s for the JSON array)."""
    if connection.vendor == "postgresql":
        select = [
            f"r->>{i} AS {name}" if kind == "text" else f"(r->>{i})::{kind} AS {name}"
            for i, (name, kind) in enumerate(fields_types.items())
        ]
        return ", ".join(select), "jsonb_array_elements(%s::jsonb) AS r"
    select = [f"json_extract(r.value, '$[{i}]') AS {name}" for i, name in enumerate(fields_types)]
    return ", ".join(select), "json_each(%s) AS r"


def insert_rows(
    cursor, table: str, fields_types: dict[str, str], rows: list, *, constant=(), conflict=""
) -> None:
    """INSERT rows (tuples in the order of fields_types: name -> PostgreSQL type) with one
    statement. constant: (column, value) pairs the same for every row (datetimes: they keep the
    database's own format). Table and column names are ours, never input."""
    if not rows:
        return
    select, source = _json_rows(fields_types)
    names = [*fields_types, *(name for name, _value in constant)]
    select += "".join(", %s" for _constant in constant)
    _execute(
        cursor,
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {select} FROM {source} "  # noqa: S608
        f"WHERE true {conflict}",  # WHERE true: SQLite's rule for INSERT … SELECT … ON CONFLICT
        [*(value for _name, value in constant), json.dumps(rows, ensure_ascii=False)],
    )


def _execute(cursor, sql: str, params: list) -> None:
    """Run a statement whose parameter is a whole chunk on the DB-API cursor, past Django's
    debug query log: under DEBUG it keeps the last 9,000 statements with their parameters,
    which for an import of a large file would be gigabytes."""
    with connection.wrap_database_errors:
        cursor.cursor.execute(sql, params)


def _fetch(cursor, columns: list[str], rest: str, params: list) -> list[list]:
    """SELECT columns + rest: the rows, as lists; on SQLite as one JSON array (see above)."""
    if connection.vendor == "postgresql":
        _execute(cursor, f"SELECT {', '.join(columns)} {rest}", params)  # noqa: S608
        return cursor.fetchall()
    _execute(cursor, f"SELECT json_group_array(json_array({', '.join(columns)})) {rest}", params)  # noqa: S608
    return json.loads(cursor.fetchone()[0])


def write_chunk(plan, cleaned, creates: list[int], updates: list, own_transaction: bool) -> None:
    """Write a chunk of importing's cleaned rows (plan: what the columns become; creates and
    updates: positions in the chunk, updates with the stored contact). own_transaction: the chunk
    has its own transaction, not the caller's. SQLite: new contacts with one INSERT … SELECT,
    existing ones with one UPDATE … FROM, then tags and consent records."""
    if connection.vendor == "postgresql":
        _write_staged(plan, cleaned, creates, updates, own_transaction)
        return
    # As the ORM stores it (on SQLite, text in UTC without an offset), so comparisons hold.
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    values, order = cleaned.values, creates + [position for position, _current in updates]
    nothing = [None] * len(order)

    def column(name: str) -> list:
        found = values.get(name)
        return [found[i] for i in order] if found is not None else nothing

    companies = column("company")
    company_ids = _company_ids(plan, companies) if "company" in values else {}
    documents = [cleaned.documents[i] for i in creates]
    documents += [_updated_document(cleaned, i, current.values) for i, current in updates]
    rows = list(
        zip(
            [None] * len(creates) + [current.id for _position, current in updates],
            *(column(name) for name in DIRECT_COLUMNS),
            column("owner"),
            [company_ids.get(name) for name in companies] if company_ids else nothing,
            [cleaned.customs[i] for i in order],
            *zip(*documents, strict=True),
            column("email_opt_in"),
            strict=True,
        )
    )
    with connection.cursor() as cursor:
        new_keys = [cleaned.keys[i] for i in creates]
        new_ids = _insert_new(cursor, plan, rows[: len(creates)], new_keys, now) if creates else {}
        if updates:
            _update_existing(cursor, plan, rows[len(creates) :], now)
        ids = [new_ids[key] for key in new_keys] + [c.id for _p, c in updates]
        if "tags" in values:
            _write_tags(cursor, plan, ids, column("tags"))
        if "email_opt_in" in values:
            previous = [None] * len(creates) + [c.values["email_opt_in"] for _p, c in updates]
            _write_consents(cursor, ids, column("email_opt_in"), previous, len(creates), now)


# --- PostgreSQL: COPY into a staging table, then set-based statements ---------------------------

# One row of the staging table per contact written: its id (known before it is inserted), whether
# it exists, the built-in values (None: the file leaves it empty), the resolved foreign keys, the
# custom fields as one JSON object, the search document, the consent answer and whether it makes a
# consent record, and the tag ids.
STAGE_FIELDS = {
    "id": "bigint",
    "existing": "boolean",
    **dict.fromkeys(DIRECT_COLUMNS, "text"),
    "owner_id": "bigint",
    "company_id": "bigint",
    "custom": "jsonb",
    "search_text": "text",
    "search_pairs": "text",
    "email_opt_in": "boolean",
    "consent": "boolean",
    "tag_ids": "bigint[]",
}
STAGE_TABLE = "kizuna_import_stage"
_STAGE_COLUMNS = ", ".join(f"{name} {kind}" for name, kind in STAGE_FIELDS.items())
# Created once per connection and emptied by every commit (in place: no catalog change, unlike a
# table dropped or truncated per chunk); emptied first too, in case the caller's transaction holds
# several chunks.
STAGE_SQL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} ({_STAGE_COLUMNS}) ON COMMIT DELETE ROWS; "  # noqa: S608 - our names only
    f"DELETE FROM {STAGE_TABLE}"
)


def _write_staged(plan, cleaned, creates: list[int], updates: list, own_transaction: bool) -> None:
    """Write a chunk on PostgreSQL in three round trips: the staging table made ready, the rows
    sent into it by COPY, then one statement whose parts take the new contacts' ids from
    crm_contact's sequence, insert them, update the existing ones, link the tags and write the
    consent records - all joined to the staging table, with no per-row parameter, JSON parsing or
    round trip (each costs the most when the machine is busy)."""
    values, order = cleaned.values, creates + [position for position, _current in updates]
    nothing = [None] * len(order)

    def column(name: str) -> list:
        found = values.get(name)
        return [found[i] for i in order] if found is not None else nothing

    companies = column("company")
    if "company" in values:
        company_ids = _company_ids(plan, companies)
        companies = [company_ids[name] if name else None for name in companies]
    tags = column("tags")
    if "tags" in values:
        tag_ids = _tag_ids(plan, tags)
        tags = [[tag_ids[tag] for tag in names] if names else None for names in tags]
    answers = column("email_opt_in")
    if "email_opt_in" in values:
        # A consent record for every answer that changes the contact's (a new contact's default
        # is not opting in), as _write_consents does.
        before = [False] * len(creates) + [bool(c.values["email_opt_in"]) for _p, c in updates]
        consents = [
            answer is not None and answer != was
            for answer, was in zip(answers, before, strict=True)
        ]
    else:
        consents = [False] * len(order)
    documents = [cleaned.documents[i] for i in creates]
    documents += [_updated_document(cleaned, i, current.values) for i, current in updates]
    rows = zip(
        [None] * len(creates) + [current.id for _p, current in updates],
        [False] * len(creates) + [True] * len(updates),
        *(column(name) for name in DIRECT_COLUMNS),
        column("owner"),
        companies,
        [cleaned.customs[i] for i in order],
        *zip(*documents, strict=True),
        answers,
        consents,
        tags,
        strict=True,
    )
    with connection.cursor() as django_cursor, connection.wrap_database_errors:
        cursor = django_cursor.cursor
        if creates and not plan.id_sequence:
            cursor.execute("SELECT pg_get_serial_sequence('crm_contact', 'id')")
            plan.id_sequence = cursor.fetchone()[0]
        cursor.execute(_COMMIT_WITHOUT_WAITING + STAGE_SQL if own_transaction else STAGE_SQL)
        with cursor.copy(f"COPY {STAGE_TABLE} ({', '.join(STAGE_FIELDS)}) FROM STDIN") as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        sql, params = _staged_statement(plan, bool(creates), bool(updates), any(consents))
        cursor.execute(sql, params)


# The chunk's commit does not wait for its WAL to reach the disk. Safe here: a crash of the
# database server can lose only the chunks committed in its last fraction of a second, whole,
# never half of one; the job's progress and the audit entry are written after them with ordinary
# commits, which flush the chunks' WAL first, so what the job reports as imported is on disk, and
# running the file again (upsert) imports the rest. Only for chunks in their own transaction: a
# caller's transaction keeps its own rules.
_COMMIT_WITHOUT_WAITING = "SET LOCAL synchronous_commit = off; "


def _staged_statement(plan, creates: bool, updates: bool, consents: bool):
    """One statement writing the staged chunk (its parts see the staging table as it was when it
    began; the new ids come from the part that numbers the new rows)."""
    parts, params = [], {"now": timezone.now()}
    rows = []  # the written contacts: (id, tag_ids, email_opt_in, consent)
    if creates:
        params["sequence"] = plan.id_sequence
        parts.append(
            f"numbered AS (UPDATE {STAGE_TABLE} SET id = nextval(%(sequence)s::regclass) "  # noqa: S608
            "WHERE NOT existing RETURNING *)"
        )
        defaults = {"lifecycle": f"'{Lifecycle.LEAD}'", "email_opt_in": "FALSE"}
        written = ["id", *DIRECT_COLUMNS, "owner_id", "company_id", "custom"]
        written += ["search_text", "search_pairs", "email_opt_in"]
        values = [
            f"COALESCE({name}, {defaults.get(name, chr(39) * 2)})"
            if name in DIRECT_COLUMNS or name == "email_opt_in"
            else name
            for name in written
        ]
        parts.append(
            f"inserted AS (INSERT INTO crm_contact ({', '.join(written)}, sessions, created_at, "  # noqa: S608
            f"updated_at) SELECT {', '.join(values)}, 0, %(now)s, %(now)s FROM numbered)"
        )
        rows.append("SELECT id, tag_ids, email_opt_in, consent FROM numbered")
    if updates:
        set_columns = list(plan.direct)
        for name, key in (("owner_id", "owner"), ("company_id", "company")):
            if key in plan.has:
                set_columns.append(name)
        if "email_opt_in" in plan.has:
            set_columns.append("email_opt_in")
        assignments = [f"{name} = COALESCE(s.{name}, c.{name})" for name in set_columns]
        assignments += ["search_text = s.search_text", "search_pairs = s.search_pairs"]
        assignments.append("updated_at = %(now)s")
        if plan.custom:
            assignments.append("custom = c.custom || s.custom")
        parts.append(
            f"updated AS (UPDATE crm_contact AS c SET {', '.join(assignments)} "  # noqa: S608
            f"FROM {STAGE_TABLE} s WHERE s.existing AND c.id = s.id)"
        )
        rows.append(f"SELECT id, tag_ids, email_opt_in, consent FROM {STAGE_TABLE} WHERE existing")  # noqa: S608
    parts.append(f"written AS ({' UNION ALL '.join(rows)})")
    if "tags" in plan.has:
        parts.append(
            "tagged AS (INSERT INTO crm_contact_tags (contact_id, tag_id) "
            "SELECT w.id, t.tag_id FROM written w, unnest(w.tag_ids) AS t(tag_id) "
            "ON CONFLICT (contact_id, tag_id) DO NOTHING)"
        )
    if consents:
        params["method"], params["wording"] = ConsentMethod.IMPORT.value, IMPORT_CONSENT_WORDING
        parts.append(
            "consented AS (INSERT INTO crm_consentrecord "
            "(contact_id, opted_in, method, wording, detail, recorded_at) "
            "SELECT id, email_opt_in, %(method)s, %(wording)s, '', %(now)s FROM written "
            "WHERE consent)"
        )
    return f"WITH {', '.join(parts)} SELECT 1", params


def _insert_new(cursor, plan, rows: list[tuple], keys: list[str], now) -> dict[str, int]:
    """Insert the new contacts; returns their ids by import key (lower-cased email)."""
    defaults = {"lifecycle": f"'{Lifecycle.LEAD}'", "email_opt_in": "FALSE"}
    written = [name for name in ROW_FIELDS if name != "existing_id"]
    values = [
        f"COALESCE({name}, {defaults.get(name, chr(39) * 2)})"
        if name in DIRECT_COLUMNS or name == "email_opt_in"
        else name
        for name in written
    ]
    select, source = _json_rows(ROW_FIELDS)
    returned = "LOWER(email)" if plan.key == ImportKey.EMAIL else "external_id"
    sql = (
        f"INSERT INTO crm_contact ({', '.join(written)}, sessions, created_at, updated_at) "  # noqa: S608
        f"SELECT {', '.join(values)}, 0, %s, %s FROM (SELECT {select} FROM {source}) AS s"
    )
    params = [now, now, json.dumps(rows, ensure_ascii=False)]
    if connection.vendor == "postgresql":
        _execute(cursor, f"{sql} RETURNING id, {returned}", params)
        return {key: contact_id for contact_id, key in cursor.fetchall()}
    _execute(cursor, sql, params)
    condition = "NOT email = ''" if plan.key == ImportKey.EMAIL else "NOT external_id = ''"
    rest = f"FROM crm_contact WHERE {condition} AND {returned} IN (SELECT value FROM json_each(%s))"  # noqa: S608
    found = _fetch(cursor, ["id", returned], rest, [json.dumps(keys)])
    return {key: contact_id for contact_id, key in found}


def _update_existing(cursor, plan, rows: list[tuple], now) -> None:
    """Update the matched contacts: what the file has, empty cells keep the stored value, custom
    fields merged key by key."""
    set_columns = list(plan.direct)
    if "owner" in plan.has:
        set_columns.append("owner_id")
    if "company" in plan.has:
        set_columns.append("company_id")
    assignments = [f"{name} = COALESCE(s.{name}, crm_contact.{name})" for name in set_columns]
    assignments += [
        "search_text = s.search_text",
        "search_pairs = s.search_pairs",
        "updated_at = %s",
    ]
    if plan.custom:
        if connection.vendor == "postgresql":
            assignments.append("custom = crm_contact.custom || s.custom")
        else:
            assignments.append("custom = json_patch(crm_contact.custom, s.custom)")
    select, source = _json_rows(ROW_FIELDS)
    _execute(
        cursor,
        f"UPDATE crm_contact SET {', '.join(assignments)} "  # noqa: S608
        f"FROM (SELECT {select} FROM {source}) AS s WHERE crm_contact.id = s.existing_id",
        [now, json.dumps(rows, ensure_ascii=False)],
    )


def _updated_document(cleaned, position: int, stored: dict) -> tuple[str, str]:
    """The search document of an updated contact: what the file leaves empty is kept."""
    values = cleaned.values
    row = [values[name][position] if name in values else None for name in SEARCH_SOURCES]
    row.append(values["company"][position] if "company" in values else None)
    merged = [
        value or stored[name] or None
        for value, name in zip(row, (*SEARCH_SOURCES, "company__name"), strict=True)
    ]
    return cleaned.documents[position] if merged == row else search_document(*merged)


def search_document(family, given, family_kana, given_kana, email, phone, company):
    """contact_search_document(...) of the values (None for empty): the parts that repeat
    (names, companies) are folded once (normalising's cache), the others (emails, phone
    numbers) by _fold_ascii."""
    texts, pairs = [], []
    for part in (f"{family or ''}{given or ''}", f"{family_kana or ''}{given_kana or ''}"):
        if part:
            folded, part_pairs = normalising._folded_part(part)
            if folded:
                texts.append(folded)
                pairs += part_pairs
    if email:
        folded, part_pairs = _fold_ascii(email)
        if folded:
            texts.append(folded)
            pairs += part_pairs
    if phone:
        for part in (phone, phone.replace("-", "")):
            if part:
                folded, part_pairs = _fold_ascii(part)
                if folded:
                    texts.append(folded)
                    pairs += part_pairs
    if company:
        folded, part_pairs = normalising._folded_part(company)
        if folded:
            texts.append(folded)
            pairs += part_pairs
    return " ".join(texts), " ".join(dict.fromkeys(pairs))


_ASCII_WORD = re.compile(r"[0-9a-z]{2,}")


def _fold_ascii(part: str) -> tuple[str, list[str]]:
    """normalising._folded_part(part), without its cache: for printable ASCII without double
    spaces, folding is lower() (NFKC and kana changes nothing) and the pairs of letters and
    digits are those inside runs of letters and digits."""
    if not (part.isascii() and part.isprintable() and "  " not in part):
        folded, pairs = normalising._folded_part(part)
        return folded, list(pairs)
    folded = part.strip().lower()
    return folded, [
        run[i : i + 2] for run in _ASCII_WORD.findall(folded) for i in range(len(run) - 1)
    ]


def _write_tags(cursor, plan, contact_ids: list[int], tag_lists: list) -> None:
    tag_ids = _tag_ids(plan, tag_lists)
    links = [
        (contact_id, tag_ids[tag])
        for contact_id, tags in zip(contact_ids, tag_lists, strict=True)
        if tags
        for tag in tags
    ]
    insert_rows(
        cursor,
        "crm_contact_tags",
        {"contact_id": "bigint", "tag_id": "bigint"},
        links,
        conflict="ON CONFLICT (contact_id, tag_id) DO NOTHING",
    )


def _write_consents(cursor, ids: list[int], answers: list, previous: list, new: int, now) -> None:
    """A consent record for every contact whose answer the file changes (proof of how: import).
    A new contact's record is written only when it opts in (not opting in is the default)."""
    records, opted = [], {True: [], False: []}
    for position, (contact_id, answer, before) in enumerate(
        zip(ids, answers, previous, strict=True)
    ):
        if answer is None or (position < new and not answer):
            continue
        if position >= new and answer == bool(before):
            continue
        records.append((contact_id, answer))
        if position >= new:
            opted[answer].append(contact_id)
    insert_rows(
        cursor,
        "crm_consentrecord",
        {"contact_id": "bigint", "opted_in": "boolean"},
        records,
        constant=[
            ("method", ConsentMethod.IMPORT.value),
            ("wording", IMPORT_CONSENT_WORDING),
            ("detail", ""),
            ("recorded_at", now),
        ],
    )
    for answer, contact_ids in opted.items():
        if contact_ids:
            Contact.objects.filter(pk__in=contact_ids).update(email_opt_in=answer)
