"""CSV export: the values the import reads back, safe in a spreadsheet, streamed, audited."""

import csv
import io

import pytest
from django.core.management import call_command

from kizuna.core.models import AuditLog
from kizuna.crm import exporting
from kizuna.crm.importing import FORMULA_STARTS, automatic_mapping, import_contacts, open_csv
from kizuna.crm.models import Contact, FieldType
from kizuna.crm.tests.factories import ContactFactory, FieldDefinitionFactory, TagFactory


def export(queryset=None, keys=None, encoding="utf-8", labels=False) -> bytes:
    columns = exporting.resolve_columns(keys)
    queryset = Contact.objects.all() if queryset is None else queryset
    return b"".join(exporting.csv_chunks(queryset, columns, encoding=encoding, labels=labels))


def test_an_export_imports_back_to_the_same_contacts(db, staff):
    FieldDefinitionFactory(key="rank", type=FieldType.CHOICE, choices=[{"value": "gold"}])
    FieldDefinitionFactory(key="budget", type=FieldType.DECIMAL)
    FieldDefinitionFactory(key="since", type=FieldType.DATETIME)
    FieldDefinitionFactory(
        key="tags_of_interest",
        type=FieldType.MULTI_CHOICE,
        choices=[{"value": "a"}, {"value": "b"}],
    )
    contact = ContactFactory(
        owner=staff,
        custom={
            "rank": "gold",
            "budget": "10.50",
            "since": "2026-11-21T15:30:00+00:00",
            "tags_of_interest": ["a", "b"],
        },
    )
    contact.tags.add(TagFactory(name="VIP"))
    data = export()
    before = Contact.objects.values("email", "custom", "owner", "family_name_kana").get()
    Contact.objects.all().delete()
    _, header, rows = open_csv(io.BytesIO(data))
    assert import_contacts(rows, automatic_mapping(header)).created == 1
    after = Contact.objects.values("email", "custom", "owner", "family_name_kana").get()
    assert after == before
    assert list(Contact.objects.get().tags.values_list("name", flat=True)) == ["VIP"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_that_would_run_as_formulas_are_neutralised_in_every_column(db, start):
    ContactFactory(email=f"{start}1+1@example.com", family_name=f"{start}cmd", city=f"{start}x")
    text = export(keys=["email", "family_name", "city"]).decode()
    cells = next(csv.reader(io.StringIO(text.split("\n", 1)[1])))
    for cell in cells:
        assert not cell.startswith(FORMULA_STARTS), cells
    assert cells[1] == f"'{start}cmd"


def test_encodings_and_labels(db):
    ContactFactory(family_name="髙橋", given_name="🍣")
    assert export(encoding="utf-8-sig").startswith(b"\xef\xbb\xbf")
    cp932 = export(keys=["family_name", "given_name"], encoding="cp932", labels=True)
    assert cp932.decode("cp932").splitlines()[1] == "髙橋,?"
    assert cp932.decode("cp932").splitlines()[0] in ("姓,名", "Family name,Given name")


def test_the_export_reads_in_chunks_not_all_at_once(db, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK", 10)
    for _ in range(35):
        ContactFactory()
    columns = exporting.resolve_columns(["email", "tags"])
    rows = exporting.contact_rows(Contact.objects.all(), columns)
    first = next(rows)
    assert first and len(list(rows)) == 34
    # 4 chunks of contacts + 4 tag look-ups + the empty chunk that ends it
    with django_assert_max_num_queries(9):
        list(exporting.contact_rows(Contact.objects.all(), columns))


def test_the_command_writes_csv_with_keys_filters_and_columns(db, capsys):
    ContactFactory(email="a@example.jp", prefecture="東京都")
    ContactFactory(email="b@example.jp", prefecture="大阪府")
    call_command(
        "export_contacts",
        "--columns",
        "email,prefecture",
        "--filter",
        '{"field": "prefecture", "op": "eq", "value": "東京都"}',
    )
    assert capsys.readouterr().out.splitlines() == ["email,prefecture", "a@example.jp,東京都"]
    entry = AuditLog.objects.get(action="export")
    assert entry.rows == 1


@pytest.mark.parametrize(
    "arguments",
    [
        ["--filter", "{not json"],
        ["--filter", '{"field": "nope", "op": "eq", "value": 1}'],
        ["--columns", "email,nope"],
    ],
)
def test_the_command_exits_2_on_bad_input(db, arguments):
    with pytest.raises(SystemExit) as exit_2:
        call_command("export_contacts", *arguments)
    assert exit_2.value.code == 2


def test_staff_download_the_selected_contacts(staff_client):
    a, b = ContactFactory(email="a@example.jp"), ContactFactory(email="b@example.jp")
    form = staff_client.post("/console/contacts/export/", {"ids": [a.pk]})
    assert form.status_code == 200 and form.context["count"] == 1
    response = staff_client.post(
        "/console/contacts/export/", {"ids": [a.pk], "columns": ["email"], "encoding": "utf-8"}
    )
    assert response["Content-Disposition"].startswith("attachment")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines() == ["email", "a@example.jp"]
    assert AuditLog.objects.get(action="export").actor.is_staff
    del b


def test_members_cannot_export(member_client):
    assert member_client.post("/console/contacts/export/", {"select_all": "1"}).status_code == 403
