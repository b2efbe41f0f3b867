"""Why a contact is in a filter (or not): every node marked as the compiled query decides it,
with the counts behind event and record conditions."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from kizuna.crm.models import FieldTarget, FieldType
from kizuna.crm.tests.factories import (
    ContactFactory,
    FieldDefinitionFactory,
    RecordFactory,
    RecordTypeFactory,
    TagFactory,
)
from kizuna.segments.compiler import FilterError, matches
from kizuna.segments.explaining import describe, explain, segments_of
from kizuna.segments.models import Segment
from kizuna.tracking.models import Event, Visitor

NOW = datetime.datetime(2026, 11, 22, 9, 0, tzinfo=datetime.UTC)


def event(contact=None, kind="page_view", days=1, visitor=None, **props):
    return Event.objects.create(
        type=kind,
        occurred_at=NOW - datetime.timedelta(days=days),
        contact=contact,
        visitor=visitor,
        props=props,
    )


def marks(step) -> list:
    """[(place, matched)] of the whole tree, depth first."""
    found = [(step.place, step.matched)]
    for child in step.children:
        found += marks(child)
    return found


@pytest.fixture
def tokyo(db):
    return ContactFactory(prefecture="東京都", email="tokyo@example.jp")


def test_a_field_condition_is_marked_and_shows_the_contacts_value(tokyo):
    step = explain({"field": "prefecture", "op": "eq", "value": "東京都"}, tokyo, now=NOW)
    assert step.kind == "field"
    assert step.matched
    assert step.value == "東京都"
    step = explain({"field": "prefecture", "op": "eq", "value": "大阪府"}, tokyo, now=NOW)
    assert not step.matched


def test_groups_and_not_are_marked_node_by_node(tokyo):
    TagFactory(name="VIP").contacts.add(tokyo)
    document = {
        "all": [
            {"tag": "VIP"},
            {"any": [{"field": "city", "op": "eq", "value": "札幌市"}, {"not": {"tag": "休眠"}}]},
            {"not": {"field": "prefecture", "op": "eq", "value": "東京都"}},
        ]
    }
    step = explain(document, tokyo, now=NOW)
    assert marks(step) == [
        ("", False),
        ("all[0]", True),
        ("all[1]", True),
        ("all[1].any[0]", False),
        ("all[1].any[1]", True),
        ("all[1].any[1].not", False),
        ("all[2]", False),
        ("all[2].not", True),
    ]
    assert [child.kind for child in step.children] == ["tag", "any", "not"]


def test_missing_values_follow_the_language_in_each_node(db):
    contact = ContactFactory(city="")
    document = {
        "all": [
            {"field": "city", "op": "ne", "value": "札幌市"},
            {"not": {"field": "city", "op": "eq", "value": "札幌市"}},
            {"field": "city", "op": "not_contains", "value": "札幌"},
            {"field": "city", "op": "contains", "value": "札幌"},
        ]
    }
    step = explain(document, contact, now=NOW)
    assert [child.matched for child in step.children] == [True, True, True, False]
    assert step.children[0].value == ""


def test_event_conditions_show_how_many_events_counted(tokyo):
    for days in (1, 2, 40):
        event(tokyo, days=days)
    step = explain({"event": "page_view", "within_days": 30, "min_count": 3}, tokyo, now=NOW)
    assert not step.matched
    assert step.count == 2
    assert (step.minimum, step.maximum) == (3, None)
    step = explain({"event": "page_view", "within_days": 30, "min_count": 2}, tokyo, now=NOW)
    assert step.matched
    assert step.count == 2


def test_event_counts_include_the_visitors_events_made_before_stitching(tokyo):
    visitor = Visitor.objects.create(
        id="v-before", contact=tokyo, first_seen_at=NOW, last_seen_at=NOW
    )
    event(visitor=visitor, days=3)  # anonymous, not folded onto the contact yet
    event(tokyo, days=1)
    step = explain({"event": "page_view", "within_days": 7, "min_count": 2}, tokyo, now=NOW)
    assert step.matched
    assert step.count == 2


def test_distinct_event_counts_count_distinct_values(tokyo):
    event(tokyo, "form_submit", product="冷蔵庫")
    event(tokyo, "form_submit", product="冷蔵庫")
    event(tokyo, "form_submit", product="洗濯機")
    document = {"event": "form_submit", "distinct": "product", "min_count": 3}
    step = explain(document, tokyo, now=NOW)
    assert step.count == 2
    assert not step.matched


def test_a_contact_without_events_counts_zero(tokyo):
    document = {"event": "email_open", "within_days": 30, "min_count": 0, "max_count": 0}
    step = explain(document, tokyo, now=NOW)
    assert step.count == 0
    assert step.matched
    assert (step.minimum, step.maximum) == (0, 0)


def test_record_conditions_show_the_count_and_the_sum(tokyo):
    purchase = RecordTypeFactory()
    for key, kind in (("product", FieldType.TEXT), ("amount", FieldType.NUMBER)):
        FieldDefinitionFactory(target=FieldTarget.RECORD, record_type=purchase, key=key, type=kind)
    for product, amount in (("冷蔵庫", 80000), ("冷蔵庫", 50000), ("テレビ", 90000)):
        RecordFactory(
            record_type=purchase,
            contact=tokyo,
            occurred_at=NOW - datetime.timedelta(days=10),
            custom={"product": product, "amount": amount},
        )
    document = {
        "record": "purchase",
        "where": {"field": "product", "op": "eq", "value": "冷蔵庫"},
        "within_days": 365,
        "sum": {"field": "amount", "op": "gte", "value": 100000},
    }
    step = explain(document, tokyo, now=NOW)
    assert step.matched
    assert step.count == 2
    assert step.total == Decimal("130000")
    document["sum"]["value"] = 200000
    nested = explain({"all": [document]}, tokyo, now=NOW).children[0]
    assert not nested.matched
    assert nested.total == Decimal("130000")


def test_segment_conditions_are_marked(tokyo):
    Segment.objects.create(
        name="東京", slug="tokyo", filter={"field": "prefecture", "op": "eq", "value": "東京都"}
    )
    step = explain({"any": [{"segment": "tokyo"}]}, tokyo, now=NOW)
    assert step.matched
    assert step.children[0].kind == "segment"
    assert step.children[0].matched


def test_the_explanation_always_agrees_with_the_segment(db):
    contacts = [
        ContactFactory(prefecture="東京都", sessions=3),
        ContactFactory(prefecture="大阪府", sessions=0),
        ContactFactory(prefecture="", sessions=12),
    ]
    event(contacts[0], "form_submit", days=2)
    event(contacts[1], "form_submit", days=100)
    documents = [
        {"all": []},
        {"any": []},
        {"not": {"all": []}},
        {"field": "sessions", "op": "between", "value": [1, 10]},
        {"any": [{"field": "prefecture", "op": "empty"}, {"event": "form_submit"}]},
        {
            "all": [
                {"not": {"event": "form_submit", "within_days": 30}},
                {"field": "sessions", "op": "lt", "value": 5},
            ]
        },
        {"not": {"any": [{"field": "prefecture", "op": "in", "value": ["東京都"]}]}},
    ]
    for document in documents:
        for contact in contacts:
            step = explain(document, contact, now=NOW)
            assert step.matched == matches(document, contact, now=NOW), (document, contact)


def test_explaining_runs_one_query_for_the_whole_tree(tokyo, django_assert_num_queries):
    document = {
        "all": [
            {"field": "prefecture", "op": "eq", "value": "東京都"},
            {"any": [{"event": "page_view", "min_count": 2}, {"tag": "VIP"}]},
            {"not": {"event": "email_open", "within_days": 30}},
        ]
    }
    with django_assert_num_queries(1):
        step = explain(document, tokyo, now=NOW)
    assert len(marks(step)) == 7


def test_a_filter_the_segment_would_reject_is_rejected_with_its_place(tokyo):
    with pytest.raises(FilterError, match=r"^all\[0\]\.op:"):
        explain({"all": [{"field": "prefecture", "op": "gt", "value": "x"}]}, tokyo, now=NOW)
    with pytest.raises(FilterError):
        explain('{"all": [', tokyo, now=NOW)


def test_segments_of_tells_which_segments_a_contact_is_in(tokyo):
    Segment.objects.filter(predefined=True).delete()
    inside = Segment.objects.create(
        name="東京", slug="tokyo", filter={"field": "prefecture", "op": "eq", "value": "東京都"}
    )
    outside = Segment.objects.create(name="空", slug="nobody", filter={"any": []})
    broken = Segment.objects.create(name="壊", slug="broken", filter={"field": "nope"})
    results = segments_of(tokyo, [inside, outside, broken])
    assert [(segment.slug, matched) for segment, matched, _error in results] == [
        ("tokyo", True),
        ("nobody", False),
        ("broken", None),
    ]
    assert "nope" in results[2][2]


def test_describe_says_what_each_condition_asks(db):
    FieldDefinitionFactory(key="rank", label_ja="ランク", label_en="Rank", type=FieldType.CHOICE)
    with translation.override("en"):
        assert describe({"field": "rank", "op": "in", "value": ["gold", "silver"]}) == (
            "Rank is one of gold、silver"
        )
        assert describe({"field": "last_seen_at", "op": "more_than_days_ago", "value": 30}) == (
            "Last seen is more than 30 days ago"
        )
        assert describe({"field": "sessions", "op": "between", "value": [1, 5]}) == (
            "Visits is between 1 and 5"
        )
        assert describe({"field": "company.name", "op": "empty"}) == "Company name is empty"
        text = describe({"event": "page_view", "url_contains": "/a", "within_days": 30})
        assert text == "Page view · URL contains “/a” · in the last 30 days · at least 1 times"
        text = describe({"record": "purchase", "min_count": 2, "max_count": 2})
        assert text == "Record “purchase” · exactly 2 times"
        assert describe({"segment": "vip"}) == "Is in the segment “vip”"


def test_explain_uses_now_for_relative_conditions(db):
    contact = ContactFactory(created_at=NOW - datetime.timedelta(days=5))
    document = {"field": "created_at", "op": "within_last_days", "value": 7}
    assert explain(document, contact, now=NOW).matched
    later = NOW + datetime.timedelta(days=10)
    assert not explain(document, contact, now=later).matched
    assert explain(document, contact).matched == matches(document, contact, now=timezone.now())
