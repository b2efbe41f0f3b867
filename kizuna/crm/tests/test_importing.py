"""CSV import: every field type, Japanese files, bad rows reported and nothing else lost."""

import io
import random

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation

from kizuna.core.models import AuditLog
from kizuna.crm import fields, import_writing, importing, normalising
from kizuna.crm.importing import (
    ImportFileError,
    automatic_mapping,
    import_contacts,
    open_csv,
)
from kizuna.crm.models import Company, ConsentRecord, Contact, FieldType, contact_search_document
from kizuna.crm.search import search_contacts
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    TagFactory,
)

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
    assert list(search_contacts(Contact.objects.all(), "03-0000-0000")) == [contact]


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


def test_owner_company_and_tags_are_found_by_name(db, staff, colleague):
    existing = CompanyFactory(name="山田商事")
    TagFactory(name="VIP")
    result = run(
        "email,担当者,会社名,タグ\n"
        "a@example.jp,スタッフ　一郎,山田商事,VIP\n"
        f"b@example.jp,{colleague.email.upper()},新しい会社,VIP;新規\n"
        "c@example.jp,だれでもない人,,\n"
    )
    assert (result.created, [r.line for r in result.rejections]) == (2, [4])
    a, b = Contact.objects.order_by("email")
    assert (a.owner, a.company, b.owner, b.company.name) == (
        staff,
        existing,
        colleague,
        "新しい会社",
    )
    assert Company.objects.count() == 2
    assert sorted(b.tags.values_list("name", flat=True)) == ["VIP", "新規"]


def test_changed_consent_is_recorded_and_an_unchanged_answer_is_not(db):
    said_yes = ContactFactory(email="yes@example.jp", email_opt_in=True)
    said_no = ContactFactory(email="no@example.jp", email_opt_in=False)
    run(
        "email,メール配信同意\n"
        "yes@example.jp,いいえ\nno@example.jp,いいえ\nnew@example.jp,はい\nquiet@example.jp,いいえ\n"
    )
    said_yes.refresh_from_db()
    said_no.refresh_from_db()
    assert not said_yes.email_opt_in and not said_no.email_opt_in
    assert sorted(ConsentRecord.objects.values_list("contact__email", "opted_in", "method")) == [
        ("new@example.jp", True, "import"),
        ("yes@example.jp", False, "import"),
    ]


def test_a_postal_code_fills_the_address_of_new_and_updated_contacts(db):
    contact = ContactFactory(email="a@example.jp", prefecture="北海道", city="札幌市中央区")
    run("email,郵便番号\na@example.jp,５３００００１\nb@example.jp,150-0001\n")
    contact.refresh_from_db()
    new = Contact.objects.get(email="b@example.jp")
    assert (contact.postal_code, contact.prefecture, contact.city) == (
        "530-0001",
        "大阪府",
        "大阪市北区",
    )
    assert (new.prefecture, new.city) == ("東京都", "渋谷区")


def test_imported_contacts_are_found_by_quick_search(db):
    run("email,姓,名,セイ,メイ,電話番号\ntaro@example.jp,山本,太郎,やまもと,たろう,03-1234-5678\n")
    taro = Contact.objects.get()
    for query in ("山本", "ヤマモト", "やまも", "taro@", "1234", "0312345678"):
        assert list(search_contacts(Contact.objects.all(), query)) == [taro], query
    assert (taro.search_text, taro.search_pairs) == contact_search_document(
        "山本", "太郎", "ヤマモト", "タロウ", "taro@example.jp", "03-1234-5678", ""
    )


def test_a_large_file_is_imported_in_chunks_with_progress(db, monkeypatch):
    monkeypatch.setattr(importing, "FIRST_CHUNK_ROWS", 100)
    monkeypatch.setattr(importing, "MIN_CHUNK_ROWS", 100)
    monkeypatch.setattr(importing, "MAX_CHUNK_ROWS", 100)
    monkeypatch.setattr(importing, "PROGRESS_EVERY_SECONDS", 0)
    rows = "".join(f"user{n}@example.jp,{n % 7}\n" for n in range(1000))
    rows += "user5@example.jp,1\n"  # line 1002: a repeat from the first chunk
    FieldDefinitionFactory(key="score", type=FieldType.NUMBER)
    seen = []
    result = run("email,score\n" + rows, progress=lambda r: seen.append(r.total_rows))
    assert (result.created, [r.line for r in result.rejections]) == (1000, [1002])
    assert seen[:3] == [100, 200, 300] and seen[-1] == 1001
    assert Contact.objects.count() == 1000
    assert Contact.objects.get(email="user999@example.jp").custom == {"score": 999 % 7}


@pytest.mark.parametrize("threaded", [True, False])
def test_writing_in_a_second_thread_or_not_gives_the_same_result(db, monkeypatch, threaded):
    monkeypatch.setattr(importing, "WRITE_IN_THREAD", threaded)
    ContactFactory(email="old@example.jp")
    with translation.override("en"):
        result = run("email,姓\nold@example.jp,旧\nbad,x\nnew@example.jp,新\n", mode="create")
    assert [(r.line, r.reason) for r in result.rejections] == [
        (2, "A contact with it already exists (mode: create only)."),
        (3, "Email: Enter a valid email address."),
    ]
    assert result.created == 1


def test_a_database_error_while_writing_reaches_the_caller(db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_writing, "write_chunk", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run("email\na@example.jp\n")
    assert not Contact.objects.exists()


# The import's short paths for the values that never repeat must agree with the full rules.
TRICKY = list("aZ09-+.@_!'\" \t　０９－ー‐()（）ｱあ漢Ａ＠．") + ["example", ".jp", "@ex.co.jp"]


def tricky_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["".join(rng.choices(TRICKY, k=rng.randrange(1, 12))) for _ in range(count)]
    return texts + ["taro@example.jp", "Taro.Yamada+x@Example.CO.JP", "a@localhost", "03-1234-5678"]


def outcome(clean, text):
    try:
        return clean(text)
    except ValidationError as error:
        return error.messages


def full_email(text):
    value = normalising.normalize_email(text)
    fields.clean_value(importing._EMAIL, value)
    return value


def test_the_short_paths_agree_with_the_full_rules(db):
    for text in tricky_texts(3000, seed=1):
        text = text.strip()
        if not text:
            continue
        assert outcome(importing._clean_email, text) == outcome(full_email, text), text
        expected = outcome(lambda t: fields.clean_value(importing._PHONE, t), text)
        assert outcome(importing._clean_phone, text) == expected, text
    parts = tricky_texts(600, seed=2)
    for family, kana, email, phone, company in zip(*[iter(parts)] * 5, strict=False):
        document = import_writing.search_document(family, "太", kana, "タ", email, phone, company)
        assert document == contact_search_document(family, "太", kana, "タ", email, phone, company)


def test_imported_dates_compare_like_dates_saved_by_the_orm(db):
    run("email\na@example.jp\n")
    contact = Contact.objects.get()
    assert Contact.objects.filter(created_at=contact.created_at).get() == contact
    assert Contact.objects.filter(updated_at__gte=contact.updated_at).count() == 1


def test_a_row_taking_another_contacts_unique_value_is_rejected_and_the_rest_imported(db):
    ContactFactory(email="owner@example.jp", external_id="C-1")
    with translation.override("en"):
        by_email = run(
            "email,external_id\n"
            "new@example.jp,C-1\nb@example.jp,C-2\nc@example.jp,C-2\nowner@example.jp,C-1\n"
        )
        by_id = run(
            "external_id,email\nC-9,OWNER@example.jp\nC-2,b@example.jp\n", key="external_id"
        )
    assert [(r.line, r.reason) for r in by_email.rejections] == [
        (2, "C-1 belongs to another contact."),
        (4, "C-2 appears twice in the file (first on line 3)."),
        (5, "C-1 appears twice in the file (first on line 2)."),
    ]
    assert (by_email.created, by_email.updated) == (1, 0)
    assert [(r.line, r.reason) for r in by_id.rejections] == [
        (2, "OWNER@example.jp belongs to another contact.")
    ]
    assert by_id.updated == 1 and Contact.objects.count() == 2


def small_chunks(monkeypatch, rows=2):
    for name in ("FIRST_CHUNK_ROWS", "MIN_CHUNK_ROWS", "MAX_CHUNK_ROWS"):
        monkeypatch.setattr(importing, name, rows)


def test_an_update_sets_tags_consent_company_and_merges_custom_fields_of_existing_contacts(db):
    FieldDefinitionFactory(key="rank", type=FieldType.CHOICE, choices=CHOICES)
    contact = ContactFactory(email="a@example.jp", custom={"x": "keep"}, email_opt_in=False)
    contact.tags.add(TagFactory(name="古い"))
    result = run(
        "email,タグ,会社名,メール配信同意,rank\n"
        "a@example.jp,VIP,山田商事,はい,gold\n"
        "b@example.jp,VIP,山田商事,いいえ,\n"
    )
    assert (result.created, result.updated, result.rejected) == (1, 1, 0)
    contact.refresh_from_db()
    new = Contact.objects.get(email="b@example.jp")
    assert contact.custom == {"x": "keep", "rank": "gold"} and new.custom == {}
    assert contact.company == new.company and Company.objects.get().name == "山田商事"
    assert sorted(contact.tags.values_list("name", flat=True)) == ["VIP", "古い"]
    assert list(new.tags.values_list("name", flat=True)) == ["VIP"]
    assert contact.email_opt_in and not new.email_opt_in
    assert list(ConsentRecord.objects.values_list("contact", "opted_in")) == [(contact.pk, True)]


def test_chunks_inside_the_callers_transaction_are_each_written_once(db, monkeypatch):
    small_chunks(monkeypatch)
    ContactFactory(email="c@example.jp", family_name="旧")
    text = "".join(f"u{n}@example.jp,姓{n},T{n % 2}\n" for n in range(7)) + "c@example.jp,新,T1\n"
    with transaction.atomic():
        result = run("email,姓,タグ\n" + text)
    assert (result.created, result.updated) == (7, 1)
    assert Contact.objects.count() == 8
    assert Contact.objects.get(email="c@example.jp").family_name == "新"
    assert Contact.objects.filter(tags__name="T1").count() == 4
    assert list(search_contacts(Contact.objects.all(), "姓6")) == [
        Contact.objects.get(email="u6@example.jp")
    ]


def test_contacts_created_after_an_import_get_ids_of_their_own(db, monkeypatch):
    small_chunks(monkeypatch, 3)
    run("email\n" + "".join(f"u{n}@example.jp\n" for n in range(10)))
    later = ContactFactory()
    assert Contact.objects.count() == 11
    assert later.pk > max(Contact.objects.exclude(pk=later.pk).values_list("pk", flat=True))


def test_cells_with_tabs_backslashes_and_line_breaks_are_stored_as_written(db):
    FieldDefinitionFactory(key="memo", type=FieldType.TEXTAREA)
    run('email,memo,住所\na@example.jp,"C:\\temp\\n\tx\r\nnext \\N",\\N\n')
    contact = Contact.objects.get()
    assert contact.custom == {"memo": "C:\\temp\\n\tx\r\nnext \\N"}
    assert contact.address == "\\N"


def test_companies_and_tags_named_again_after_the_remembered_ids_are_forgotten(db, monkeypatch):
    small_chunks(monkeypatch)
    monkeypatch.setattr(import_writing, "CACHED_IDS_LIMIT", 1)
    rows = "".join(f"u{n}@example.jp,会社{n % 3},T{n % 3}\n" for n in range(9))
    result = run("email,会社名,タグ\n" + rows)
    assert result.created == 9
    assert Company.objects.count() == 3
    tagged = Contact.objects.filter(tags__name="T2")
    assert set(tagged.values_list("company__name", flat=True)) == {"会社2"}
