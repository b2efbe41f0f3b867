"""CSV import: every field type, Japanese files, bad rows reported and nothing else lost."""

import io

import pytest
from django.core.management import call_command
from django.utils import translation

from kizuna.core.models import AuditLog
from kizuna.crm import fields
from kizuna.crm.importing import (
    ImportFileError,
    automatic_mapping,
    import_contacts,
    open_csv,
)
from kizuna.crm.models import Company, ConsentRecord, Contact, FieldType
from kizuna.crm.search import search_contacts
from kizuna.crm.tests.factories import ContactFactory, FieldDefinitionFactory

CHOICES = [{"value": "gold", "ja": "ゴールド", "en": "Gold"}, {"value": "silver", "ja": "シルバー"}]


def run(text: str, encoding="utf-8", **options):
    _, header, rows = open_csv(io.BytesIO(text.encode(encoding)))
    return import_contacts(rows, automatic_mapping(header), **options)


@pytest.fixture
def every_type(db):
    kinds = {
        "f_text": FieldType.TEXT,
        "f_textarea": FieldType.TEXTAREA,
        "f_number": FieldType.NUMBER,
        "f_decimal": FieldType.DECIMAL,
        "f_date": FieldType.DATE,
        "f_datetime": FieldType.DATETIME,
        "f_boolean": FieldType.BOOLEAN,
        "f_choice": FieldType.CHOICE,
        "f_multi": FieldType.MULTI_CHOICE,
        "f_email": FieldType.EMAIL,
        "f_url": FieldType.URL,
        "f_phone": FieldType.PHONE,
    }
    return [
        FieldDefinitionFactory(key=key, type=kind, choices=CHOICES) for key, kind in kinds.items()
    ]


def test_every_field_type_is_imported_as_the_form_would_store_it(every_type):
    result = run(
        "email,f_text,f_textarea,f_number,f_decimal,f_date,f_datetime,f_boolean,f_choice,f_multi,"
        "f_email,f_url,f_phone\n"
        'a@example.jp,東京,"一行目\n二行目",１，２００,12.50,2026/11/22,2026-11-22 09:30,はい,'
        "ゴールド,silver;gold,ＢＯＳＳ＠ＥＸＡＭＰＬＥ．ＪＰ,https://example.jp/,０３－１２３４－５６７８\n"
    )
    assert (result.created, result.rejected) == (1, 0)
    assert Contact.objects.get().custom == {
        "f_text": "東京",
        "f_textarea": "一行目\n二行目",
        "f_number": 1200,
        "f_decimal": "12.50",
        "f_date": "2026-11-22",
        "f_datetime": "2026-11-22T00:30:00+00:00",
        "f_boolean": True,
        "f_choice": "gold",
        "f_multi": ["gold", "silver"],
        "f_email": "BOSS@example.jp",
        "f_url": "https://example.jp/",
        "f_phone": "03-1234-5678",
    }


def test_an_exported_value_imports_back_to_the_same_value(every_type):
    contact = ContactFactory(
        custom={"f_decimal": "3.10", "f_multi": ["silver"], "f_boolean": False}
    )
    line = [contact.email] + [fields.format_cell(d, contact.custom.get(d.key)) for d in every_type]
    header = ["email"] + [d.key for d in every_type]
    run(",".join(header) + "\n" + ",".join(line) + "\n")
    contact.refresh_from_db()
    assert contact.custom == {"f_decimal": "3.10", "f_multi": ["silver"], "f_boolean": False}


def test_japanese_columns_cp932_and_normalisation(db, staff):
    text = (
        "メールアドレス,姓,名,セイ,メイ,電話番号,郵便番号,会社名,担当者,タグ,メール配信同意\n"
        "taro@example.jp,田中,太郎,ﾀﾅｶ,たろう,０３－１２３４－５６７８,1500001,山田商事,"
        f"{staff.email},VIP;展示会,はい\n"
    )
    result = run(text, encoding="cp932")
    assert (result.created, result.rejected) == (1, 0)
    taro = Contact.objects.get()
    assert (taro.family_name_kana, taro.given_name_kana, taro.phone) == (
        "タナカ",
        "タロウ",
        "03-1234-5678",
    )
    assert (taro.postal_code, taro.prefecture, taro.city) == ("150-0001", "東京都", "渋谷区")
    assert (taro.company.name, taro.owner) == ("山田商事", staff)
    assert sorted(taro.tags.values_list("name", flat=True)) == ["VIP", "展示会"]
    assert taro.email_opt_in and ConsentRecord.objects.get().method == "import"
    assert list(search_contacts(Contact.objects.all(), "タナカ")) == [taro]


def test_utf8_with_bom_is_read(db):
    assert run("\ufeffemail,姓\na@example.jp,山田\n").created == 1


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("b@example.jp,abc,,", "整数"),  # wrong type
        ("b@example.jp,,platinum,", "platinum"),  # unknown choice
        ("b@example.jp,,," + "あ" * 11, "10"),  # over length
        ("not-an-email,,,", "メールアドレス"),
        (",1,gold,", ""),  # no email to match by
    ],
)
def test_a_bad_row_is_rejected_with_its_line_and_reason_and_the_rest_imported(db, row, reason):
    FieldDefinitionFactory(key="count", type=FieldType.NUMBER)
    FieldDefinitionFactory(key="rank", type=FieldType.CHOICE, choices=CHOICES)
    FieldDefinitionFactory(key="short", type=FieldType.TEXT, max_length=10)
    result = run(f"email,count,rank,short\na@example.jp,1,gold,ok\n{row}\nc@example.jp,2,,\n")
    assert result.created == 2
    assert [
        (r.line, reason in r.reason or reason.lower() in r.reason.lower())
        for r in result.rejections
    ] == [(3, True)]
    assert Contact.objects.count() == 2


def test_a_duplicate_email_in_one_file_is_rejected_on_its_second_line(db):
    with translation.override("en"):
        result = run("email,姓\nA@example.jp,一\na@EXAMPLE.jp,二\n")
    assert result.created == 1
    assert result.rejections[0].line == 3
    assert "first on line 2" in result.rejections[0].reason
    assert Contact.objects.get().family_name == "一"


def test_a_missing_required_value_rejects_the_row(db):
    FieldDefinitionFactory(key="must", type=FieldType.TEXT, required=True)
    result = run("email,must\na@example.jp,\nb@example.jp,x\n")
    assert (result.created, [r.line for r in result.rejections]) == (1, [2])


def test_upsert_updates_existing_contacts_and_keeps_what_the_file_leaves_empty(db):
    contact = ContactFactory(
        email="a@example.jp", family_name="旧姓", phone="03-0000-0000", custom={"x": "keep"}
    )
    result = run("email,姓,電話番号\nA@EXAMPLE.JP,新姓,\nnew@example.jp,新,\n")
    assert (result.created, result.updated) == (1, 1)
    contact.refresh_from_db()
    assert (contact.family_name, contact.phone, contact.custom) == (
        "新姓",
        "03-0000-0000",
        {"x": "keep"},
    )
    assert list(search_contacts(Contact.objects.all(), "新姓")) == [contact]


def test_create_and_update_modes_reject_what_they_may_not_touch(db):
    ContactFactory(email="a@example.jp")
    created = run("email\na@example.jp\nb@example.jp\n", mode="create")
    assert (created.created, [r.line for r in created.rejections]) == (1, [2])
    updated = run("email\na@example.jp\nc@example.jp\n", mode="update")
    assert (updated.updated, [r.line for r in updated.rejections]) == (1, [3])


def test_matching_by_external_id(db):
    contact = ContactFactory(external_id="C-001", family_name="旧")
    result = run("external_id,姓\nC-001,新\nC-002,別\n", key="external_id")
    assert (result.created, result.updated) == (1, 1)
    contact.refresh_from_db()
    assert contact.family_name == "新"


def test_a_dry_run_counts_but_writes_nothing(db):
    ContactFactory(email="a@example.jp")
    result = run("email,会社名\na@example.jp,新会社\nb@example.jp,新会社\n", dry_run=True)
    assert (result.created, result.updated) == (1, 1)
    assert Contact.objects.count() == 1 and not Company.objects.exists()
    assert not AuditLog.objects.filter(action="import").exists()


def test_an_import_is_audited(db, staff):
    run("email\na@example.jp\n", by=staff, file_name="list.csv")
    entry = AuditLog.objects.get(action="import")
    assert (entry.actor, entry.rows, entry.changes["file"]) == (staff, 1, "list.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"\xff\xfe\x00\x01\x80\x81", "UTF-8"), (b"name\n", "email")],
)
def test_a_file_that_cannot_be_read_is_refused_as_a_whole(db, data, message):
    with pytest.raises(ImportFileError):
        _, header, rows = open_csv(io.BytesIO(data))
        import_contacts(rows, automatic_mapping(header))


def test_the_command_exits_0_1_or_2(db, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text("email\na@example.jp\n", encoding="utf-8")
    call_command("import_contacts", str(good))
    assert "1 were created" in capsys.readouterr().out
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("email\nb@example.jp\nbad\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_1:
        call_command("import_contacts", str(mixed))
    assert exit_1.value.code == 1
    assert "line 3: " in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_2:
        call_command("import_contacts", str(tmp_path / "missing.csv"))
    assert exit_2.value.code == 2
    assert Contact.objects.count() == 2
