"""Field and tag conditions of SEGMENTS.md, exactly: the same contacts on SQLite and PostgreSQL."""

import datetime

import pytest
from django.utils import timezone, translation

from kizuna.crm.filtering import FilterError, filter_contacts
from kizuna.crm.models import Contact, FieldType
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    TagFactory,
)

NOW = timezone.make_aware(datetime.datetime(2026, 11, 22, 9, 0))  # Asia/Tokyo


def emails(document):
    found = filter_contacts(Contact.objects.all(), document, now=NOW)
    return sorted(contact.email.split("@")[0] for contact in found)


@pytest.fixture
def people(db, staff):
    FieldDefinitionFactory(key="budget", type=FieldType.DECIMAL)
    FieldDefinitionFactory(key="employees", type=FieldType.NUMBER)
    FieldDefinitionFactory(key="contract_end", type=FieldType.DATE)
    FieldDefinitionFactory(key="visited_at", type=FieldType.DATETIME)
    FieldDefinitionFactory(key="newsletter", type=FieldType.BOOLEAN)
    FieldDefinitionFactory(
        key="rank",
        type=FieldType.CHOICE,
        choices=[{"value": "gold", "ja": "ゴールド"}, {"value": "silver", "ja": "シルバー"}],
    )
    FieldDefinitionFactory(
        key="interests",
        type=FieldType.MULTI_CHOICE,
        choices=[{"value": v, "ja": v} for v in ("冷蔵庫", "洗濯機", "テレビ")],
    )
    FieldDefinitionFactory(key="note", type=FieldType.TEXT)
    FieldDefinitionFactory(key="industry", type=FieldType.TEXT, target="company")
    maker = CompanyFactory(name="東京製作所", custom={"industry": "製造"})
    a = ContactFactory(
        email="a@example.jp",
        prefecture="東京都",
        owner=staff,
        company=maker,
        email_opt_in=True,
        custom={
            "budget": "1500000.50",
            "employees": 120,
            "contract_end": "2026-12-10",
            "visited_at": "2026-11-21T15:30:00+00:00",  # 2026-11-22 00:30 in Tokyo
            "newsletter": True,
            "rank": "gold",
            "interests": ["冷蔵庫", "テレビ"],
            "note": "Hello World",
        },
    )
    a.tags.add(TagFactory(name="VIP"))
    ContactFactory(
        email="B@Example.jp",
        prefecture="大阪府",
        custom={"budget": "99", "employees": 5, "rank": "silver", "interests": ["洗濯機"]},
    )
    ContactFactory(email="c@example.jp", prefecture="", custom={})
    Contact.objects.update(created_at=NOW - datetime.timedelta(days=1))
    Contact.objects.filter(email="c@example.jp").update(
        created_at=NOW - datetime.timedelta(days=40)
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"all": []}, ["B", "a", "c"]),
        ({"any": []}, []),
        ({"field": "prefecture", "op": "eq", "value": "東京都"}, ["a"]),
        ({"field": "prefecture", "op": "ne", "value": "東京都"}, ["B", "c"]),
        ({"field": "prefecture", "op": "in", "value": ["東京都", "大阪府"]}, ["B", "a"]),
        ({"field": "prefecture", "op": "not_in", "value": ["東京都"]}, ["B", "c"]),
        ({"field": "prefecture", "op": "empty"}, ["c"]),
        ({"field": "prefecture", "op": "not_empty"}, ["B", "a"]),
        ({"field": "email", "op": "eq", "value": "b@example.JP"}, ["B"]),
        ({"field": "email", "op": "in", "value": ["A@EXAMPLE.JP"]}, ["a"]),
        ({"field": "note", "op": "contains", "value": "world"}, ["a"]),
        ({"field": "note", "op": "not_contains", "value": "world"}, ["B", "c"]),
        ({"field": "note", "op": "starts_with", "value": "hello"}, ["a"]),
        ({"field": "note", "op": "ends_with", "value": "WORLD"}, ["a"]),
        ({"field": "note", "op": "eq", "value": "hello world"}, []),
        ({"field": "budget", "op": "gte", "value": 1000000}, ["a"]),
        ({"field": "budget", "op": "lt", "value": "100"}, ["B"]),
        ({"field": "budget", "op": "between", "value": [99, 1500000.5]}, ["B", "a"]),
        ({"field": "budget", "op": "ne", "value": 99}, ["a", "c"]),
        ({"field": "employees", "op": "eq", "value": 120}, ["a"]),
        ({"field": "employees", "op": "gt", "value": 5}, ["a"]),
        ({"field": "sessions", "op": "eq", "value": 0}, ["B", "a", "c"]),
        ({"field": "contract_end", "op": "within_next_days", "value": 30}, ["a"]),
        ({"field": "contract_end", "op": "within_next_days", "value": 10}, []),
        ({"field": "contract_end", "op": "after", "value": "2026-12-09"}, ["a"]),
        ({"field": "contract_end", "op": "before", "value": "2026-12-10"}, []),
        ({"field": "contract_end", "op": "empty"}, ["B", "c"]),
        ({"field": "visited_at", "op": "eq", "value": "2026-11-22"}, ["a"]),
        ({"field": "visited_at", "op": "eq", "value": "2026-11-21"}, []),
        ({"field": "created_at", "op": "within_last_days", "value": 7}, ["B", "a"]),
        ({"field": "created_at", "op": "more_than_days_ago", "value": 30}, ["c"]),
        ({"field": "last_seen_at", "op": "empty"}, ["B", "a", "c"]),
        ({"field": "newsletter", "op": "eq", "value": True}, ["a"]),
        ({"field": "newsletter", "op": "eq", "value": False}, ["B", "c"]),
        ({"field": "email_opt_in", "op": "eq", "value": False}, ["B", "c"]),
        ({"field": "rank", "op": "in", "value": ["gold", "silver"]}, ["B", "a"]),
        ({"field": "rank", "op": "ne", "value": "gold"}, ["B", "c"]),
        ({"field": "interests", "op": "has_any", "value": ["テレビ", "洗濯機"]}, ["B", "a"]),
        ({"field": "interests", "op": "has_all", "value": ["冷蔵庫", "テレビ"]}, ["a"]),
        ({"field": "interests", "op": "has_none", "value": ["冷蔵庫"]}, ["B", "c"]),
        ({"field": "interests", "op": "empty"}, ["c"]),
        ({"field": "owner", "op": "eq", "value": "STAFF@kizuna.test"}, ["a"]),
        ({"field": "owner", "op": "empty"}, ["B", "c"]),
        ({"field": "company.industry", "op": "in", "value": ["製造", "小売"]}, ["a"]),
        ({"field": "company.name", "op": "contains", "value": "製作"}, ["a"]),
        ({"field": "company.name", "op": "ne", "value": "東京製作所"}, ["B", "c"]),
        ({"field": "lifecycle", "op": "eq", "value": "lead"}, ["B", "a", "c"]),
        ({"tag": "VIP"}, ["a"]),
        ({"not": {"tag": "VIP"}}, ["B", "c"]),
        (
            {
                "any": [
                    {"field": "prefecture", "op": "eq", "value": "大阪府"},
                    {"all": [{"tag": "VIP"}, {"field": "rank", "op": "eq", "value": "gold"}]},
                ]
            },
            ["B", "a"],
        ),
    ],
)
def test_field_and_tag_conditions_select_exactly_the_documented_contacts(
    people, document, expected
):
    assert emails(document) == expected


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "all": [
                    {"tag": "VIP"},
                    {"tag": "VIP"},
                    {"any": [{"field": "prefecture", "op": "gt", "value": 1}]},
                ]
            },
            'all[2].any[0].op: "gt" is not an operator for text field "prefecture"',
        ),
        ({"field": "nope", "op": "eq", "value": 1}, 'field: unknown field "nope"'),
        ({"field": "budget", "op": "between", "value": [1]}, "value: expected [low, high]"),
        ({"field": "contract_end", "op": "after", "value": "12/10"}, "value: expected a date"),
        ({"field": "prefecture", "op": "empty", "value": "x"}, "value: empty takes no value"),
        ({"all": {}}, "all: expected a list"),
        ({"frobnicate": 1}, "(filter): expected all, any, not, field or tag"),
    ],
)
def test_a_filter_that_does_not_fit_is_rejected_naming_the_place(people, document, message):
    with translation.override("en"), pytest.raises(FilterError) as error:
        emails(document)
    assert message in str(error.value)


def test_messages_are_in_the_users_language(people):
    with translation.override("ja"), pytest.raises(FilterError) as error:
        emails({"field": "nope", "op": "eq", "value": 1})
    assert "不明な項目" in str(error.value)
