"""Quick search over name, kana, email, phone and company - Japanese included, on SQLite (FTS5)
and PostgreSQL (GIN)."""

import pytest

from kizuna.crm.companies import update_company
from kizuna.crm.models import Contact
from kizuna.crm.search import search_contacts
from kizuna.crm.tests.factories import CompanyFactory, ContactFactory


@pytest.fixture
def people(db):
    kizuna = CompanyFactory(name="株式会社きずな", name_kana="キズナ")
    return {
        "tanaka": ContactFactory(
            family_name="田中",
            given_name="太郎",
            family_name_kana="タナカ",
            given_name_kana="タロウ",
            email="taro.tanaka@example.jp",
            phone="03-1234-5678",
            company=kizuna,
        ),
        "nakata": ContactFactory(
            family_name="中田",
            given_name="花子",
            family_name_kana="ナカタ",
            given_name_kana="ハナコ",
            email="hanako@example.com",
            phone="090-8765-4321",
        ),
        "yamada": ContactFactory(
            family_name="山田",
            given_name="一郎",
            family_name_kana="ヤマダ",
            given_name_kana="イチロウ",
            email="ichiro@yamada.example.jp",
            phone="",
        ),
        "yamamoto": ContactFactory(
            family_name="山本",
            given_name="美咲",
            family_name_kana="ヤマモト",
            given_name_kana="ミサキ",
            email="misaki@example.org",
            phone="",
        ),
    }


def found(query):
    return sorted(c.family_name for c in search_contacts(Contact.objects.all(), query))


def test_a_two_character_kanji_query_finds_the_name_inside_a_full_name(people):
    assert found("田中") == ["田中"]
    assert found("中田") == ["中田"]


def test_a_two_character_katakana_query_finds_the_reading(people):
    assert found("ヤマ") == ["山本", "山田"]


def test_a_hiragana_query_finds_katakana_kana(people):
    assert found("やまだ") == ["山田"]
    assert found("たなか") == ["田中"]


def test_half_width_kana_and_full_width_letters_are_folded(people):
    assert found("ﾔﾏﾓﾄ") == ["山本"]
    assert found("ＴＡＮＡＫＡ") == ["田中"]
    assert found("０９０") == ["中田"]


def test_email_phone_and_company_are_searched(people):
    assert found("hanako@example") == ["中田"]
    assert found("Yamada.Example") == ["山田"]
    assert found("0312345678") == ["田中"]
    assert found("03-1234") == ["田中"]
    assert found("きずな") == ["田中"]


def test_several_words_must_all_match(people):
    assert found("山 美咲") == ["山本"]
    assert found("山田 花子") == []


def test_a_single_character_still_answers_correctly(people):
    assert found("山") == ["山本", "山田"]
    assert found("花") == ["中田"]


def test_no_match_and_an_empty_query(people):
    assert found("佐藤") == []
    assert len(found("  ")) == 4


def test_changes_to_a_contact_reach_the_index(people):
    contact = people["yamada"]
    contact.family_name = "佐藤"
    contact.save()
    assert found("佐藤") == ["佐藤"]
    assert found("山田") == []


def test_renaming_a_company_refreshes_its_contacts_search(people, staff):
    company = people["tanaka"].company
    company.name = "絆システムズ株式会社"
    update_company(company, by=staff)
    assert found("システムズ") == ["田中"]
    assert found("きずな") == []


def test_the_contact_list_searches_the_same_way(people, staff_client):
    response = staff_client.get("/console/contacts/", {"q": "やま"})
    assert sorted(c.family_name for c, _cells in response.context["rows"]) == ["山本", "山田"]
