import re
from decimal import Decimal

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from kizuna.crm import fields
from kizuna.crm.contacts import create_contact
from kizuna.crm.forms import CompanyForm, ContactForm, RecordForm, custom_field_name
from kizuna.crm.models import (
    Company,
    Contact,
    FieldTarget,
    FieldType,
    Record,
    StoredFile,
)
from kizuna.crm.tests.factories import (
    ContactFactory,
    FieldDefinitionFactory,
    RecordTypeFactory,
)

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"
CHOICES = [
    {"value": "a", "ja": "エー", "en": "A"},
    {"value": "b", "ja": "ビー", "en": "B"},
    {"value": "gold", "ja": "ゴールド", "en": "Gold"},
]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# (type, what staff type into the form, extra definition options)
TYPED_VALUES = [
    (FieldType.TEXT, "  山田　太郎 ", {}),
    (FieldType.TEXTAREA, "一行目\n二行目", {}),
    (FieldType.NUMBER, "１２３", {}),
    (FieldType.NUMBER, "-42", {}),
    (FieldType.DECIMAL, "1234.50", {}),
    (FieldType.DATE, "2026-11-22", {}),
    (FieldType.DATETIME, "2026-11-22T09:30", {}),
    (FieldType.BOOLEAN, "on", {}),
    (FieldType.CHOICE, "gold", {"choices": CHOICES}),
    (FieldType.MULTI_CHOICE, ["gold", "a"], {"choices": CHOICES}),
    (FieldType.EMAIL, "ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＪＰ", {}),
    (FieldType.URL, "https://example.jp/会社概要", {}),
    (FieldType.PHONE, "０３（１２３４）５６７８", {}),
]


@pytest.fixture(autouse=True)
def private_storage(tmp_path, monkeypatch):
    storage = FileSystemStorage(location=tmp_path)
    monkeypatch.setattr(StoredFile._meta.get_field("file"), "storage", storage)
    return storage


@pytest.fixture(autouse=True)
def japanese():
    with translation.override("ja"):
        yield


def contact_data(**extra):
    return {"family_name": "山田", "lifecycle": "lead", "email": "", **extra}


@pytest.mark.parametrize(("kind", "typed", "options"), TYPED_VALUES)
def test_every_field_type_saves_what_clean_value_stores(db, staff, kind, typed, options):
    definition = FieldDefinitionFactory(key="value", type=kind, **options)
    form = ContactForm(contact_data(custom_value=typed))
    assert form.is_valid(), form.errors
    contact = create_contact(form.instance, by=staff, uploads=form.uploads)
    contact.refresh_from_db()
    assert contact.custom["value"] == fields.clean_value(definition, typed)


def test_the_stored_values_are_the_documented_ones(db, staff):
    """Spot checks of fields.py's table: what the form stores for typed Japanese input."""
    kinds = {
        "n": (FieldType.NUMBER, "１２３", 123),
        "d": (FieldType.DECIMAL, "１２３４.５", "1234.5"),
        "t": (FieldType.DATETIME, "2026-11-22T09:30", "2026-11-22T00:30:00+00:00"),
        "e": (FieldType.EMAIL, "ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＪＰ", "TARO@example.jp"),
        "p": (FieldType.PHONE, "０３（１２３４）５６７８", "03-1234-5678"),
        "m": (FieldType.MULTI_CHOICE, ["gold", "a"], ["a", "gold"]),
        "b": (FieldType.BOOLEAN, "", False),
    }
    for key, (kind, _typed, _stored) in kinds.items():
        FieldDefinitionFactory(key=key, type=kind, choices=CHOICES)
    form = ContactForm(contact_data(**{f"custom_{k}": v[1] for k, v in kinds.items()}))
    assert form.is_valid(), form.errors
    contact = create_contact(form.instance, by=staff)
    contact.refresh_from_db()
    assert contact.custom == {key: stored for key, (_k, _t, stored) in kinds.items()}


def test_a_file_field_saves_the_stored_files_id(db, staff):
    definition = FieldDefinitionFactory(key="value", type=FieldType.FILE)
    upload = SimpleUploadedFile("見積書.pdf", PDF, content_type="application/pdf")
    form = ContactForm(contact_data(), {"custom_value": upload})
    assert form.is_valid(), form.errors
    contact = create_contact(form.instance, by=staff, uploads=form.uploads)
    stored = StoredFile.objects.get()
    assert contact.custom["value"] == fields.clean_value(definition, stored.pk) == str(stored.pk)


def test_empty_values_are_not_stored(db, staff):
    for kind in (FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.CHOICE):
        FieldDefinitionFactory(key=f"k_{kind}", type=kind, choices=CHOICES)
    form = ContactForm(contact_data())
    assert form.is_valid(), form.errors
    contact = create_contact(form.instance, by=staff)
    assert contact.custom == {}


def test_initial_values_come_back_into_the_form(db):
    FieldDefinitionFactory(key="born", type=FieldType.DATE)
    FieldDefinitionFactory(key="amount", type=FieldType.DECIMAL)
    FieldDefinitionFactory(key="at", type=FieldType.DATETIME)
    contact = ContactFactory(
        custom={"born": "1990-04-01", "amount": "12.5", "at": "2026-11-22T00:30:00+00:00"}
    )
    form = ContactForm(instance=contact)
    assert str(form.initial["custom_born"]) == "1990-04-01"
    assert form.initial["custom_amount"] == Decimal("12.5")
    assert form.initial["custom_at"].hour == 9  # shown in Tokyo time


# --- Errors in the user's language --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "typed", "options"),
    [
        (FieldType.NUMBER, "たくさん", {}),
        (FieldType.NUMBER, "150", {"max_value": 100}),
        (FieldType.DECIMAL, "abc", {}),
        (FieldType.DATE, "2026-13-45", {}),
        (FieldType.DATETIME, "昨日", {}),
        (FieldType.CHOICE, "platinum", {"choices": CHOICES}),
        (FieldType.MULTI_CHOICE, ["a", "zzz"], {"choices": CHOICES}),
        (FieldType.EMAIL, "not an address", {}),
        (FieldType.URL, "javascript:alert(1)", {}),
        (FieldType.PHONE, "電話番号", {}),
        (FieldType.TEXT, "長すぎる文字列です", {"max_length": 5}),
        (FieldType.TEXT, "", {"required": True}),
        (FieldType.BOOLEAN, "", {"required": True}),
    ],
)
def test_bad_values_are_refused_in_japanese_for_a_japanese_user(db, kind, typed, options):
    FieldDefinitionFactory(key="value", type=kind, **options)
    form = ContactForm(contact_data(custom_value=typed))
    assert not form.is_valid()
    messages = form.errors["custom_value"]
    assert messages and all(JAPANESE.search(message) for message in messages), messages


def test_the_same_error_is_in_english_for_an_english_user(db):
    FieldDefinitionFactory(key="value", type=FieldType.PHONE)
    with translation.override("en"):
        form = ContactForm(contact_data(custom_value="電話番号"))
        assert form.errors["custom_value"] == ["Enter a phone number of digits and hyphens."]


# --- Built-in fields ----------------------------------------------------------------------------


def test_built_in_fields_are_normalised_before_they_are_checked(db, staff):
    form = ContactForm(
        contact_data(
            email="ｔａｒｏ＠ＥＸＡＭＰＬＥ．ｊｐ",
            family_name_kana="やまだ",
            given_name_kana="ﾀﾛｳ",
            phone="０９０ー１２３４ー５６７８",
            postal_code="１５００００２",
        )
    )
    assert form.is_valid(), form.errors
    contact = create_contact(form.instance, by=staff)
    assert (contact.email, contact.family_name_kana, contact.given_name_kana) == (
        "taro@example.jp",
        "ヤマダ",
        "タロウ",
    )
    assert (contact.phone, contact.postal_code) == ("090-1234-5678", "150-0002")


def test_a_malformed_postal_code_or_email_is_refused(db):
    form = ContactForm(contact_data(postal_code="12345", email="taro@"))
    assert not form.is_valid()
    assert set(form.errors) == {"postal_code", "email"}
    assert JAPANESE.search(form.errors["postal_code"][0])


def test_an_email_is_unique_ignoring_case_with_a_clear_message(db):
    ContactFactory(email="Taro@Example.jp")
    form = ContactForm(contact_data(email="TARO@example.jp"))
    assert not form.is_valid()
    assert form.errors["email"] == ["このメールアドレスは別の顧客に登録されています。"]
    # Saving the same contact again is not a clash with itself.
    contact = Contact.objects.get()
    form = ContactForm(contact_data(email="taro@example.JP"), instance=contact)
    assert form.is_valid(), form.errors


def test_an_email_field_accepts_what_the_browser_would_refuse(db):
    """type=email would block full-width input before it reaches us: the box is plain text."""
    form = ContactForm()
    assert form.fields["email"].widget.input_type == "text"
    FieldDefinitionFactory(key="work_email", type=FieldType.EMAIL)
    assert ContactForm().fields["custom_work_email"].widget.input_type == "text"


def test_the_postal_code_box_is_marked_for_autofill(db):
    rendered = str(ContactForm()["postal_code"])
    assert 'data-postal-code="/postal-codes/{code}.json"' in rendered
    assert 'data-postal-fill="prefecture"' in str(ContactForm()["prefecture"])


# --- Layout -------------------------------------------------------------------------------------


def test_custom_fields_are_grouped_in_designer_order_after_the_built_in_groups(db):
    FieldDefinitionFactory(key="second", label_ja="二番目", group_ja="契約", order=2)
    FieldDefinitionFactory(key="first", label_ja="一番目", group_ja="契約", order=1)
    FieldDefinitionFactory(key="hobby", label_ja="趣味", group_ja="", order=3)
    FieldDefinitionFactory(key="building", label_ja="建物名", group_ja="住所", order=4)
    archived = FieldDefinitionFactory(key="old", label_ja="旧項目", order=0)
    archived.archived_at = timezone.now()
    archived.save()
    groups = ContactForm().groups()
    labels = [label for label, _fields in groups]
    assert labels == ["氏名", "連絡先", "住所", "管理情報", "契約", "その他"]
    contract = dict(groups)["契約"]
    assert [field.name for field in contract] == ["custom_first", "custom_second"]
    address = [field.name for field in groups[2][1]]
    assert address[-1] == "custom_building"
    assert "custom_old" not in ContactForm().fields


def test_archived_fields_keep_their_values_when_a_contact_is_edited(db, staff):
    archived = FieldDefinitionFactory(key="old", type=FieldType.TEXT)
    archived.archived_at = timezone.now()
    archived.save()
    contact = ContactFactory(email="keep@example.jp", custom={"old": "残す値"})
    form = ContactForm(contact_data(email="keep@example.jp"), instance=contact)
    assert form.is_valid(), form.errors
    form.instance.save()
    contact.refresh_from_db()
    assert contact.custom == {"old": "残す値"}


# --- Companies and records ----------------------------------------------------------------------


def test_the_company_form_uses_company_fields_only(db, staff):
    FieldDefinitionFactory(key="industry", target=FieldTarget.COMPANY, type=FieldType.TEXT)
    FieldDefinitionFactory(key="rank", target=FieldTarget.CONTACT, type=FieldType.TEXT)
    form = CompanyForm(
        {"name": "株式会社　きずな", "phone": "０３ー１１１１ー２２２２", "custom_industry": "製造"}
    )
    assert "custom_rank" not in form.fields
    assert form.is_valid(), form.errors
    company = form.save()
    assert (company.name, company.phone, company.custom) == (
        "株式会社 きずな",
        "03-1111-2222",
        {"industry": "製造"},
    )
    assert Company.objects.count() == 1


def test_the_record_form_uses_its_record_types_fields(db, staff):
    purchase = RecordTypeFactory()
    seminar = RecordTypeFactory(key="seminar", name_ja="セミナー")
    FieldDefinitionFactory(
        key="amount", target=FieldTarget.RECORD, record_type=purchase, type=FieldType.NUMBER
    )
    FieldDefinitionFactory(
        key="title", target=FieldTarget.RECORD, record_type=seminar, type=FieldType.TEXT
    )
    contact = ContactFactory()
    form = RecordForm(
        {"occurred_at": "2026-11-22T10:00", "custom_amount": "１２，８００"},
        instance=Record(record_type=purchase, contact=contact),
        record_type=purchase,
    )
    assert "custom_title" not in form.fields
    assert not form.is_valid()  # a thousands separator in a number box is refused, in Japanese
    assert JAPANESE.search(form.errors["custom_amount"][0])
    form = RecordForm(
        {"occurred_at": "2026-11-22T10:00", "custom_amount": "12800"},
        instance=Record(record_type=purchase, contact=contact),
        record_type=purchase,
    )
    assert form.is_valid(), form.errors
    assert form.instance.custom == {"amount": 12800}


def test_custom_field_names_do_not_clash_with_built_in_ones(db):
    definition = FieldDefinitionFactory(key="memo")
    assert custom_field_name(definition) == "custom_memo"
