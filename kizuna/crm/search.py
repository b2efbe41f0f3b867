"""Quick search that works for Japanese on SQLite and PostgreSQL (see normalising.search_pairs).

A query is folded like the stored text; each word of two or more characters must have all of its
character pairs in the index (PostgreSQL: GIN over to_tsvector('simple', search_pairs); SQLite: the
FTS5 table crm_contact_search kept by triggers), and every word must then occur in search_text.
A one-character query cannot use the index and scans; it still answers correctly.
"""

from django.db import connection
from django.db.models.expressions import RawSQL

from kizuna.crm import normalising

POSTGRES_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS crm_contact_search ON crm_contact "
    "USING gin (to_tsvector('simple'::regconfig, search_pairs))"
)
SQLITE_INDEX_SQL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS crm_contact_search USING fts5("
    "search_pairs, content='crm_contact', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER IF NOT EXISTS crm_contact_search_insert AFTER INSERT ON crm_contact BEGIN "
    "INSERT INTO crm_contact_search(rowid, search_pairs) VALUES (new.id, new.search_pairs); END",
    "CREATE TRIGGER IF NOT EXISTS crm_contact_search_delete AFTER DELETE ON crm_contact BEGIN "
    "INSERT INTO crm_contact_search(crm_contact_search, rowid, search_pairs) "
    "VALUES ('delete', old.id, old.search_pairs); END",
    "CREATE TRIGGER IF NOT EXISTS crm_contact_search_update AFTER UPDATE OF search_pairs "
    "ON crm_contact WHEN old.search_pairs IS NOT new.search_pairs BEGIN "
    "INSERT INTO crm_contact_search(crm_contact_search, rowid, search_pairs) "
    "VALUES ('delete', old.id, old.search_pairs); "
    "INSERT INTO crm_contact_search(rowid, search_pairs) VALUES (new.id, new.search_pairs); END",
]
SQLITE_TRIGGERS = {
    "crm_contact_search_insert",
    "crm_contact_search_delete",
    "crm_contact_search_update",
}


def ensure_search_index(using_connection=connection) -> None:
    """Create the search index where missing. Run by the migration and after every migrate:
    SQLite drops a table's triggers when a migration rebuilds the table, and the FTS table is
    rebuilt from crm_contact when they had to be created again."""
    with using_connection.cursor() as cursor:
        if using_connection.vendor == "postgresql":
            cursor.execute(POSTGRES_INDEX_SQL)
        elif using_connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'crm_contact'"
            )
            present = {row[0] for row in cursor.fetchall()}
            for statement in SQLITE_INDEX_SQL:
                cursor.execute(statement)
            if not present >= SQLITE_TRIGGERS:
                cursor.execute(
                    "INSERT INTO crm_contact_search(crm_contact_search) VALUES ('rebuild')"
                )


def search_contacts(queryset, query: str):
    """The contacts of `queryset` whose name, kana, email, phone or company contain `query`."""
    words = [word for word in normalising.fold_for_search(query).split(" ") if word]
    if not words:
        return queryset
    pairs = normalising.search_pairs(" ".join(words))
    if pairs:
        queryset = queryset.filter(id__in=_ids_with_pairs(pairs))
    for word in words:
        queryset = queryset.filter(search_text__contains=word)
    return queryset


def _ids_with_pairs(pairs: str) -> RawSQL:
    if connection.vendor == "postgresql":
        return RawSQL(
            "SELECT id FROM crm_contact WHERE to_tsvector('simple'::regconfig, search_pairs) "
            "@@ plainto_tsquery('simple'::regconfig, %s)",
            [pairs],
        )
    if connection.vendor == "sqlite":
        match = " ".join(f'"{pair}"' for pair in pairs.split(" "))
        return RawSQL(
            "SELECT rowid FROM crm_contact_search WHERE crm_contact_search MATCH %s", [match]
        )
    return RawSQL("SELECT id FROM crm_contact", [])
