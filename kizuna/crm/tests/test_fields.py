"""Every field type: checked, stored, written to CSV and read back the same."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from kizuna.crm import fields
from kizuna.crm.models import FieldDefinition, FieldType

CHOICES = [
    {"value": "gold", "ja": "ゴールド", "en": "Gold"},
    {"value": "silver", "ja": "シルバー", "en": "Silver"},
]


def definition(kind, **options):
    return FieldDefinition(key="f", label_ja="項目", type=kind, choices=CHOICES, **options)


@pytest.mark.parametrize(
    ("kind", "typed", "stored"),
    [
        (FieldType.TEXT, "  東京　本社 ", "東京 本社"),
        (FieldType.TEXTAREA, "一行目\n二行目", "一行目\n二行目"),
        (FieldType.NUMBER, "１，２３４", 1234),
        (FieldType.NUMBER, "-5", -5),
        (FieldType.DECIMAL, "1,500,000.50", "1500000.50"),
        (FieldType.DECIMAL, "2.0", "2"),
        (FieldType.DATE, "2026/11/22", "2026-11-22"),
        (FieldType.DATE, "２０２６年１１月２日", "2026-11-02"),
        (FieldType.DATETIME, "2026-11-22 09:30", "2026-11-22T00:30:00+00:00"),
        (FieldType.BOOLEAN, "はい", True),
        (FieldType.BOOLEAN, "false", False),
        (FieldType.CHOICE, "ゴールド", "gold"),
        (FieldType.CHOICE, "silver", "silver"),
        (FieldType.MULTI_CHOICE, "シルバー;gold", ["gold", "silver"]),
        (FieldType.EMAIL, "ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＪＰ", "TARO@example.jp"),
        (FieldType.URL, "https://example.jp/a?b=1", "https://example.jp/a?b=1"),
        (FieldType.PHONE, "０３－１２３４－５６７８", "03-1234-5678"),
    ],
)
def test_a_csv_cell_is_stored_and_written_back_the_same(db, kind, typed, stored):
    field = definition(kind)
    value = fields.clean_value(field, fields.parse_cell(field, typed))
    assert value == stored
    again = fields.clean_value(field, fields.parse_cell(field, fields.format_cell(field, value)))
    assert again == stored


@pytest.mark.parametrize(
    ("kind", "typed", "code"),
    [
        (FieldType.NUMBER, "1.5", "number"),
        (FieldType.NUMBER, "abc", "number"),
        (FieldType.DECIMAL, "1/2", "decimal"),
        (FieldType.DATE, "2026-02-30", "date"),
        (FieldType.DATETIME, "tomorrow", "datetime"),
        (FieldType.BOOLEAN, "maybe", "boolean"),
        (FieldType.CHOICE, "platinum", "choice"),
        (FieldType.MULTI_CHOICE, "gold;bronze", "choice"),
        (FieldType.EMAIL, "not-an-email", "invalid"),
        (FieldType.URL, "javascript:alert(1)", "invalid"),
        (FieldType.PHONE, "電話して", "phone"),
        (FieldType.FILE, "00000000-0000-0000-0000-000000000000", "file"),
    ],
)
def test_a_wrong_value_is_refused_with_a_reason(db, kind, typed, code):
    field = definition(kind)
    with pytest.raises(ValidationError) as error:
        fields.clean_value(field, fields.parse_cell(field, typed))
    assert error.value.code == code


def test_limits_are_checked():
    with pytest.raises(ValidationError, match="10"):
        fields.clean_value(definition(FieldType.TEXT, max_length=10), "あ" * 11)
    with pytest.raises(ValidationError):
        fields.clean_value(definition(FieldType.NUMBER, min_value=Decimal(1)), 0)
    with pytest.raises(ValidationError):
        fields.clean_value(definition(FieldType.DECIMAL, max_value=Decimal("9.5")), "9.6")


def test_an_empty_value_is_not_stored_unless_required():
    assert fields.clean_value(definition(FieldType.TEXT), "  ") is fields.MISSING
    with pytest.raises(ValidationError) as error:
        fields.clean_value(definition(FieldType.TEXT, required=True), "")
    assert error.value.code == "required"


def test_messages_and_labels_are_in_the_users_language():
    with translation.override("ja"), pytest.raises(ValidationError) as error:
        fields.clean_value(definition(FieldType.NUMBER), "abc")
    assert "整数" in error.value.messages[0]
    with translation.override("en"):
        assert fields.display_value(definition(FieldType.CHOICE), "gold") == "Gold"
        assert fields.display_value(definition(FieldType.BOOLEAN), True) == "Yes"
    with translation.override("ja"):
        assert fields.display_value(definition(FieldType.MULTI_CHOICE), ["gold"]) == "ゴールド"


def test_form_values_are_accepted_as_python_objects():
    assert fields.clean_value(definition(FieldType.DATE), datetime.date(2026, 1, 5)) == "2026-01-05"
    assert fields.clean_value(definition(FieldType.DECIMAL), Decimal("3.10")) == "3.10"
    assert fields.clean_value(definition(FieldType.MULTI_CHOICE), ["silver", "gold"]) == [
        "gold",
        "silver",
    ]


def test_every_column_can_be_found_by_its_japanese_or_english_label():
    email = fields.CONTACT_BUILTIN_COLUMNS[0]
    assert {"メールアドレス", "email"} <= fields.column_aliases(email)
