"""CSV export: the values the import reads back, safe in a spreadsheet, in the encoding Excel
wants, streamed in chunks, audited - from the console and as an operation."""

import csv
import io
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from kizuna.core.models import AuditLog
from kizuna.crm import exporting, fields
from kizuna.crm.importing import automatic_mapping, import_contacts, open_csv
from kizuna.crm.models import Contact, FieldType, Lifecycle, SavedView, StoredFile
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    TagFactory,
)
from kizuna.crm.views.exporting import attachment_header


def export(keys=None, queryset=None, encoding="utf-8", labels=False) -> bytes:
    columns = exporting.resolve_columns(keys)
    queryset = Contact.objects.all() if queryset is None else queryset
    out = io.BytesIO()
    exporting.write_contacts_csv(queryset, columns, out, encoding, labels=labels)
    return out.getvalue()


def read(data: bytes, encoding="utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


# --- Values the import reads back ----------------------------------------------------------------

EVERY_TYPE = [
    # type, choices, stored value (what clean_value keeps)
    (FieldType.TEXT, [], "=SUM(A1:A9) は式ではありません"),
    (FieldType.TEXTAREA, [], '-1行目\n2行目, "引用"'),
    (FieldType.NUMBER, [], -1500),
    (FieldType.DECIMAL, [], "-12.50"),
    (FieldType.DATE, [], "2026-11-22"),
    (FieldType.DATETIME, [], "2026-11-21T15:30:00+00:00"),
    (FieldType.BOOLEAN, [], False),
    (FieldType.CHOICE, [{"value": "gold", "ja": "ゴールド", "en": "Gold"}], "gold"),
    (FieldType.MULTI_CHOICE, [{"value": "tv"}, {"value": "aircon"}], ["tv", "aircon"]),
    (FieldType.EMAIL, [], "=1+1@example.com"),
    (FieldType.URL, [], "https://example.jp/?a=1&b=2"),
    (FieldType.PHONE, [], "+81-3-1234-5678"),
    (FieldType.FILE, [], None),  # a StoredFile id, made in the test
]


def test_every_field_type_exports_as_a_cell_that_reads_back_to_the_same_value(db):
    stored_file = StoredFile.objects.create(
        file="crm/card.png", name="名刺.png", content_type="image/png", size=1, sha256="0" * 64
    )
    definitions, custom = [], {}
    for number, (kind, choices, value) in enumerate(EVERY_TYPE):
        definition = FieldDefinitionFactory(key=f"f_{kind}", type=kind, choices=choices)
        definitions.append(definition)
        custom[definition.key] = str(stored_file.pk) if kind == FieldType.FILE else value
        assert fields.clean_value(definition, custom[definition.key]) == custom[definition.key]
        del number
    ContactFactory(custom=custom)
    header, row = read(export([d.key for d in definitions]))
    assert header == [d.key for d in definitions]
    for definition, cell in zip(definitions, row, strict=True):
        assert not cell.startswith(exporting.FORMULA_STARTS), (definition.key, cell)
        text = exporting.restore_cell(cell)
        value = fields.clean_value(definition, fields.parse_cell(definition, text))
        assert value == custom[definition.key], definition.type


def test_an_empty_custom_value_is_an_empty_cell(db):
    FieldDefinitionFactory(key="budget", type=FieldType.DECIMAL)
    ContactFactory(custom={})
    assert read(export(["email", "budget"]))[1][1] == ""


def test_built_in_columns_are_written_as_the_import_reads_them(db, staff, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    company = CompanyFactory(name="株式会社キズナ")
    contact = ContactFactory(
        email="hanako@example.jp",
        owner=staff,
        company=company,
        lifecycle=Lifecycle.MEMBER,
        email_opt_in=True,
    )
    Contact.objects.filter(pk=contact.pk).update(created_at="2026-11-21T15:30:00+00:00")
    contact.tags.add(TagFactory(name="展示会2026"), TagFactory(name="VIP"))
    keys = ["owner", "company", "tags", "lifecycle", "email_opt_in", "created_at", "sessions"]
    assert read(export(keys))[1] == [
        "staff@kizuna.test",
        "株式会社キズナ",
        "VIP;展示会2026",
        "member",
        "true",
        "2026-11-22T00:30:00+09:00",
        "0",
    ]


def test_an_export_imports_back_to_the_same_contacts(db, staff):
    FieldDefinitionFactory(key="rank", type=FieldType.CHOICE, choices=[{"value": "gold"}])
    FieldDefinitionFactory(key="budget", type=FieldType.DECIMAL)
    FieldDefinitionFactory(key="since", type=FieldType.DATETIME)
    FieldDefinitionFactory(
        key="interests", type=FieldType.MULTI_CHOICE, choices=[{"value": "a"}, {"value": "b"}]
    )
    contact = ContactFactory(
        owner=staff,
        company=CompanyFactory(name="丸山商事"),
        lifecycle=Lifecycle.MEMBER,
        custom={
            "rank": "gold",
            "budget": "10.50",
            "since": "2026-11-21T15:30:00+00:00",
            "interests": ["a", "b"],
        },
    )
    contact.tags.add(TagFactory(name="VIP"))
    shape = ("email", "custom", "owner", "family_name_kana", "lifecycle", "company__name")
    before = Contact.objects.values(*shape).get()
    data = export()
    Contact.objects.all().delete()
    _, header, rows = open_csv(io.BytesIO(data))
    assert import_contacts(rows, automatic_mapping(header), by=staff).created == 1
    assert Contact.objects.values(*shape).get() == before
    assert list(Contact.objects.get().tags.values_list("name", flat=True)) == ["VIP"]


def test_values_that_look_like_formulas_import_back_without_the_apostrophe(db, staff):
    FieldDefinitionFactory(key="delta", type=FieldType.NUMBER)
    FieldDefinitionFactory(key="memo")
    ContactFactory(
        family_name="-田中",
        source="=展示会",
        phone="+81-3-1234-5678",
        custom={"delta": -5, "memo": "@営業"},
    )
    shape = ("family_name", "source", "phone", "custom")
    before = Contact.objects.values(*shape).get()
    data = export()
    Contact.objects.all().delete()
    _, header, rows = open_csv(io.BytesIO(data))
    assert import_contacts(rows, automatic_mapping(header), by=staff).created == 1
    assert Contact.objects.values(*shape).get() == before


def test_unknown_columns_are_named_in_the_error(db):
    with pytest.raises(exporting.ExportError, match="nope, nada"):
        exporting.resolve_columns(["email", "nope", "nada"])


def test_archived_custom_fields_are_not_exported_by_default(db):
    FieldDefinitionFactory(key="active_one")
    FieldDefinitionFactory(key="old_one", archived_at="2026-01-01T00:00:00+00:00")
    keys = [column.key for column in exporting.resolve_columns(None)]
    assert "active_one" in keys and "old_one" not in keys
    assert keys[: len(exporting.DEFAULT_COLUMNS)] == exporting.DEFAULT_COLUMNS


# --- Formula injection ---------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_that_would_run_as_formulas_are_neutralised_in_every_column(db, start):
    FieldDefinitionFactory(key="memo", label_ja=f"{start}HYPERLINK(1)", label_en=f"{start}x")
    company = CompanyFactory(name=f"{start}会社")
    tag = TagFactory(name=f"{start}タグ")
    contact = ContactFactory(
        email=f"{start}1+1@example.com",
        family_name=f"{start}cmd|' /C calc'!A0",
        given_name=f"{start}名",
        family_name_kana=f"{start}カナ",
        given_name_kana=f"{start}カナ",
        phone=f"{start}81",
        postal_code=f"{start}1",
        prefecture=f"{start}都",
        city=f"{start}市",
        address=f"{start}1-1",
        source=f"{start}展示会",
        external_id=f"{start}42",
        company=company,
        custom={"memo": f"{start}2+3"},
    )
    contact.tags.add(tag)
    everything = [column.key for column in fields.contact_columns()]
    for labels in (False, True):
        rows = read(export(everything, labels=labels))
        for cell in [*rows[0], *rows[1]]:
            assert not cell.startswith(exporting.FORMULA_STARTS), repr(cell)
    header, row = read(export(everything))
    values = dict(zip(header, row, strict=True))
    assert values["email"] == f"'{start}1+1@example.com"
    assert values["tags"] == f"'{start}タグ"
    assert {exporting.restore_cell(values[key]) for key in ("memo", "company")} == {
        f"{start}2+3",
        f"{start}会社",
    }


@pytest.mark.parametrize("text", ["=1", "+1", "-1", "@x", "\t1", "\r1", "\0x", "'=1", "''@", "a"])
def test_neutralising_is_reversed_exactly_by_restore_cell(text):
    neutralised = exporting.neutralise_cell(text)
    assert not neutralised.startswith(exporting.FORMULA_STARTS)
    assert exporting.restore_cell(neutralised) == text


def test_ordinary_cells_are_left_as_they_are():
    for text in ["山田", "'quoted'", "1-2", "a=b", ""]:
        assert exporting.neutralise_cell(text) == text


# --- Encodings -----------------------------------------------------------------------------------


def test_utf8_with_bom_for_excel_and_without_for_other_programs(db):
    ContactFactory(family_name="髙橋")
    assert export(["family_name"], encoding="utf-8-sig").startswith(b"\xef\xbb\xbffamily_name\r\n")
    plain = export(["family_name"], encoding="utf-8")
    assert plain == "family_name\r\n髙橋\r\n".encode()


def test_cp932_writes_what_excel_reads_and_the_nearest_character_for_the_rest(db):
    ContactFactory(family_name="髙橋", given_name="𠮷男", city="10時〜12時 — José ™", address="🍣")
    with translation.override("ja"):
        data = export(
            ["family_name", "given_name", "city", "address"], encoding="cp932", labels=True
        )
    rows = read(data, "cp932")
    assert rows[0] == ["姓", "名", "市区町村", "住所"]
    # 〜 is CP932's ～; — becomes ―; é loses its accent; ™ is TM; the emoji has no equivalent.
    assert rows[1] == ["髙橋", "吉男", "10時～12時 ― Jose TM", "?"]


def test_an_unknown_encoding_is_refused(db):
    with pytest.raises(exporting.ExportError):
        exporting.CsvExport(Contact.objects.all(), [], encoding="latin-1", labels=False)


# --- Streaming -----------------------------------------------------------------------------------


def test_the_export_reads_keyset_chunks_not_every_row_at_once(db, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 10)
    contacts = [ContactFactory() for _ in range(35)]
    contacts[0].tags.add(TagFactory(name="VIP"))
    columns = exporting.resolve_columns(["email", "tags"])
    with CaptureQueriesContext(connection) as queries:
        rows = exporting.contact_rows(Contact.objects.all(), columns)
        first = next(rows)
        assert len(queries) == 2  # the first chunk and its tags, nothing more
        rest = list(rows)
    assert first == [contacts[0].email, "VIP"] and len(rest) == 34
    chunk_reads = [q["sql"] for q in queries.captured_queries if 'FROM "crm_contact"' in q["sql"]]
    assert len(chunk_reads) == 4  # 10 + 10 + 10 + 5, and the short last chunk ends it
    assert all("LIMIT 10" in sql for sql in chunk_reads)
    tag_reads = [q for q in queries.captured_queries if "crm_contact_tags" in q["sql"]]
    assert len(tag_reads) == 4


def test_the_queries_grow_with_the_number_of_chunks_not_rows(db, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 10)
    columns = exporting.resolve_columns(["email", "company", "owner", "tags"])
    counts = []
    for total in (20, 40):
        while Contact.objects.count() < total:
            ContactFactory(company=CompanyFactory())
        with CaptureQueriesContext(connection) as queries:
            list(exporting.contact_rows(Contact.objects.all(), columns))
        counts.append(len(queries))
    assert counts == [2 * 2 + 1, 4 * 2 + 1]  # per chunk: contacts + tags; one empty read ends it


def test_the_export_follows_a_filtered_queryset(db):
    ContactFactory(email="tokyo@example.jp", prefecture="東京都")
    ContactFactory(email="osaka@example.jp", prefecture="大阪府")
    rows = read(export(["email"], Contact.objects.filter(prefecture="東京都")))
    assert rows == [["email"], ["tokyo@example.jp"]]


# --- The console ---------------------------------------------------------------------------------


def download(client, data: dict):
    response = client.post("/console/contacts/export/", data)
    assert response.status_code == 200, response.content[:500]
    return response, b"".join(response.streaming_content)


def test_staff_download_the_ticked_contacts_and_the_export_is_audited(staff_client, staff):
    a, _b = ContactFactory(email="a@example.jp"), ContactFactory(email="b@example.jp")
    form = staff_client.post("/console/contacts/export/", {"ids": [a.pk]})
    assert form.status_code == 200 and form.context["count"] == 1
    response, body = download(
        staff_client, {"ids": [a.pk], "columns": ["email", "family_name"], "encoding": "utf-8"}
    )
    assert read(body) == [["email", "family_name"], ["a@example.jp", "山田"]]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    entry = AuditLog.objects.get(action="export")
    assert (entry.actor, entry.rows, entry.object_type) == (staff, 1, "crm.contact")
    assert entry.changes["columns"] == ["email", "family_name"]
    assert entry.changes["selection"] == {"ids": [a.pk]}


def test_the_download_has_a_file_name_in_the_users_language_and_an_ascii_one(staff_client):
    ContactFactory()
    response, _body = download(
        staff_client, {"select_all": "1", "columns": ["email"], "encoding": "utf-8-sig"}
    )
    assert re.fullmatch(
        r"attachment; filename=\"contacts-\d{8}-\d{4}\.csv\"; filename\*=UTF-8''\S+\.csv",
        response["Content-Disposition"],
    )
    header = attachment_header("顧客")
    assert "filename*=UTF-8''%E9%A1%A7%E5%AE%A2-" in header and 'filename="contacts-' in header


def test_a_whole_search_and_filter_result_in_cp932(staff_client):
    ContactFactory(email="t1@example.jp", family_name="田中", prefecture="東京都")
    ContactFactory(email="t2@example.jp", family_name="田中", prefecture="大阪府")
    ContactFactory(email="s1@example.jp", family_name="鈴木", prefecture="東京都")
    response, body = download(
        staff_client,
        {
            "select_all": "1",
            "q": "田中",
            "filter": '{"field": "prefecture", "op": "eq", "value": "東京都"}',
            "columns": ["email", "family_name"],
            "encoding": "cp932",
        },
    )
    assert response["Content-Type"] == "text/csv; charset=Windows-31J"
    assert read(body, "cp932") == [["email", "family_name"], ["t1@example.jp", "田中"]]
    selection = AuditLog.objects.get(action="export").changes["selection"]
    assert selection == {
        "query": "田中",
        "filter": {"field": "prefecture", "op": "eq", "value": "東京都"},
    }


def test_with_nothing_ticked_the_lists_whole_result_is_offered(staff_client):
    ContactFactory(family_name="田中")
    ContactFactory(family_name="鈴木")
    form = staff_client.post("/console/contacts/export/", {"q": "鈴木"})
    assert form.context["everything"] and form.context["count"] == 1


def test_the_columns_of_the_list_are_ticked_first(staff_client, staff):
    FieldDefinitionFactory(key="rank")
    page = staff_client.post(
        "/console/contacts/export/",
        {"select_all": "1"},
        headers={"referer": "http://testserver/console/contacts/?columns=rank,phone"},
    )
    form = page.context["form"]
    assert form.initial["columns"] == ["family_name", "given_name", "rank", "phone"]
    assert [key for key, _label in form.fields["columns"].choices][:4] == form.initial["columns"]
    saved = SavedView.objects.create(
        name="営業", owner=staff, target="contact", columns=["email", "owner"]
    )
    page = staff_client.get("/console/contacts/export/", {"select_all": "1", "view": saved.pk})
    assert page.context["form"].initial["columns"] == [
        "family_name",
        "given_name",
        "email",
        "owner",
    ]
    plain = staff_client.get("/console/contacts/export/", {"select_all": "1"})
    assert plain.context["form"].initial["columns"] == exporting.DEFAULT_COLUMNS


def test_a_get_never_downloads(staff_client):
    ContactFactory()
    response = staff_client.get(
        "/console/contacts/export/", {"select_all": "1", "columns": "email", "encoding": "utf-8"}
    )
    assert response.status_code == 200 and not response.streaming
    assert not AuditLog.objects.filter(action="export").exists()


def test_a_bad_filter_or_no_column_is_explained(staff_client):
    bad = staff_client.post("/console/contacts/export/", {"select_all": "1", "filter": "{nope"})
    assert bad.status_code == 400 and "JSON" in bad.context["error"]
    unknown = staff_client.post(
        "/console/contacts/export/",
        {"select_all": "1", "filter": '{"field": "nope", "op": "eq", "value": 1}'},
    )
    assert unknown.status_code == 400 and "nope" in unknown.context["error"]
    no_columns = staff_client.post(
        "/console/contacts/export/", {"select_all": "1", "encoding": "utf-8"}
    )
    assert no_columns.status_code == 400 and no_columns.context["form"].errors["columns"]
    assert not AuditLog.objects.filter(action="export").exists()


def test_members_and_visitors_cannot_export(member_client, client, db):
    ContactFactory()
    data = {"select_all": "1", "columns": ["email"], "encoding": "utf-8"}
    assert member_client.post("/console/contacts/export/", data).status_code == 403
    member_client.logout()
    response = client.post("/console/contacts/export/", data)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not AuditLog.objects.filter(action="export").exists()


def test_the_uuid_of_a_file_field_is_exported(db):
    stored = StoredFile.objects.create(
        file="crm/x.pdf", name="x.pdf", content_type="application/pdf", size=1, sha256="0" * 64
    )
    FieldDefinitionFactory(key="card", type=FieldType.FILE)
    ContactFactory(custom={"card": str(stored.pk)})
    assert uuid.UUID(read(export(["card"]))[1][0]) == stored.pk
