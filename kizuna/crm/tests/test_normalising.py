"""Japanese data as Japanese users type it is stored one way."""

import pytest

from kizuna.crm import normalising


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("０３（１２３４）５６７８", "03-1234-5678"),
        ("０９０ー１２３４ー５６７８", "090-1234-5678"),
        ("03 1234 5678", "03-1234-5678"),
        ("+81-3-1234-5678", "+81-3-1234-5678"),
        ("", ""),
    ],
)
def test_phone_numbers_become_ascii_digits_and_hyphens(typed, stored):
    assert normalising.normalize_phone(typed) == stored


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("〒１００ー０００１", "100-0001"), ("1000001", "100-0001"), ("100-0001", "100-0001")],
)
def test_postal_codes_become_nnn_nnnn(typed, stored):
    assert normalising.normalize_postal_code(typed) == stored


def test_a_malformed_postal_code_is_kept_as_typed_so_the_form_can_say_what_is_wrong():
    assert normalising.normalize_postal_code("１２３") == "123"


def test_full_width_email_addresses_become_ascii_with_a_lower_case_domain():
    assert (
        normalising.normalize_email(" ＴＡＮＡＫＡ＠ＥＸＡＭＰＬＥ．ｃｏｍ ")
        == "TANAKA@example.com"
    )


@pytest.mark.parametrize("typed", ["ﾔﾏﾀﾞ", "やまだ", "ヤマダ", " ヤマダ "])
def test_kana_becomes_full_width_katakana(typed):
    assert normalising.normalize_kana(typed) == "ヤマダ"


def test_a_postal_code_gives_prefecture_city_and_town_offline():
    address = normalising.lookup_postal_code("１５０－０００１")
    assert (address.prefecture, address.city, address.town) == ("東京都", "渋谷区", "神宮前")


@pytest.mark.parametrize("code", ["000-0000", "12", "abc-defg", ""])
def test_an_unknown_or_malformed_postal_code_gives_nothing(code):
    assert normalising.lookup_postal_code(code) is None


def test_search_text_folds_width_case_and_hiragana():
    assert normalising.search_text("ﾔﾏﾀﾞ", "やまだ", "ＡＢＣ") == "ヤマダ ヤマダ abc"


def test_search_pairs_are_the_adjacent_letter_pairs_without_punctuation():
    assert normalising.search_pairs("田中太郎 a@b") == "田中 中太 太郎"
