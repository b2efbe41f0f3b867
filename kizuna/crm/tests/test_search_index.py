"""The Japanese search index stays in step with the contacts table on SQLite and PostgreSQL."""

import pytest
from django.db import connection

from kizuna.crm.models import Contact
from kizuna.crm.search import ensure_search_index, search_contacts
from kizuna.crm.tests.factories import CompanyFactory, ContactFactory


def found(query):
    return sorted(c.family_name for c in search_contacts(Contact.objects.all(), query))


@pytest.fixture
def people(db):
    company = CompanyFactory(name="山本商事株式会社", name_kana="ヤマモトショウジ")
    ContactFactory(
        family_name="田中",
        given_name="太郎",
        family_name_kana="たなか",
        given_name_kana="ﾀﾛｳ",
        email="taro@example.com",
        phone="03-1234-5678",
        company=company,
    )
    ContactFactory(family_name="中田", given_name="花子", family_name_kana="ナカタ", email="h@x.jp")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("田中", ["田中"]),
        ("タナカ", ["田中"]),
        ("たなか", ["田中"]),
        ("ﾀﾅｶ", ["田中"]),
        ("田中太郎", ["田中"]),
        ("田中 太郎", ["田中"]),
        ("山本", ["田中"]),  # by company
        ("TARO@EXAMPLE", ["田中"]),
        ("0312345678", ["田中"]),
        ("03-1234", ["田中"]),
        ("中", ["中田", "田中"]),  # one character: no index, still correct
        ("中田", ["中田"]),
        ("田太", []),  # both pairs' characters are there, but not next to each other
        ("", ["中田", "田中"]),
    ],
)
def test_quick_search_finds_japanese_names_kana_email_phone_and_company(people, query, expected):
    assert found(query) == expected


def test_the_index_follows_updates_and_deletes(people):
    hanako = Contact.objects.get(family_name="中田")
    hanako.family_name = "山口"
    hanako.save()
    assert found("山口") == ["山口"]
    assert found("中田") == []
    hanako.delete()
    assert found("山口") == []


def test_the_index_is_put_back_when_a_migration_dropped_it(people):
    """SQLite loses a table's triggers when a migration rebuilds it; post_migrate restores them
    and refills the FTS table. On PostgreSQL the GIN index is recreated the same way."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for trigger in ("insert", "delete", "update"):
                cursor.execute(f"DROP TRIGGER crm_contact_search_{trigger}")
            cursor.execute(
                "INSERT INTO crm_contact_search(crm_contact_search) VALUES ('delete-all')"
            )
            assert found("田中") == []
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred FK checks
            cursor.execute("DROP INDEX crm_contact_search")
    ensure_search_index(connection)
    assert found("田中") == ["田中"]
    ContactFactory(family_name="森", given_name="一郎")
    assert found("森一") == ["森"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'crm_contact_search'")
            assert cursor.fetchone() == (1,)
