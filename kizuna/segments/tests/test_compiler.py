"""Examples of every condition kind of SEGMENTS.md, the errors that name their place, matches()
for one contact, and segment references (self-reference rejected)."""

import datetime

import pytest
from django.utils import translation

from kizuna.crm.models import Contact, FieldDefinition, FieldTarget, Record, RecordType
from kizuna.crm.tests.factories import ContactFactory, TagFactory
from kizuna.segments.compiler import FilterError, compile_filter, matches
from kizuna.segments.models import Segment
from kizuna.tracking.models import Event, Visitor

NOW = datetime.datetime(2026, 11, 22, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))


def selected(document) -> set[int]:
    return set(
        Contact.objects.filter(compile_filter(document, now=NOW)).values_list("pk", flat=True)
    )


def event(contact, kind="page_view", days_ago=1, **fields):
    return Event.objects.create(
        type=kind, occurred_at=NOW - datetime.timedelta(days=days_ago), contact=contact, **fields
    )


@pytest.fixture
def hanako(db):
    return ContactFactory(email="hanako@example.jp", prefecture="東京都")


@pytest.fixture
def taro(db):
    return ContactFactory(email="taro@example.jp", prefecture="大阪府")


def test_page_views_with_a_url_a_window_and_a_count(hanako, taro):
    for days in (1, 2, 40):
        event(hanako, url="/products/a?utm_source=mail")
        event(taro, url="/products/a", days_ago=days)
    assert selected({"event": "page_view", "url_contains": "/PRODUCTS/A", "min_count": 3}) == {
        hanako.pk,
        taro.pk,
    }
    recent = {
        "event": "page_view",
        "url_contains": "/products/a",
        "within_days": 30,
        "min_count": 3,
    }
    assert selected(recent) == {hanako.pk}


def test_query_parameters_with_a_value_or_any_value(hanako, taro):
    event(hanako, url="/a?utm_source=mail&ref=news")
    event(taro, url="/a?utm_source=mailing")
    assert selected({"event": "page_view", "param": {"utm_source": "mail"}}) == {hanako.pk}
    assert selected({"event": "page_view", "param": {"utm_source": None}}) == {hanako.pk, taro.pk}
    assert selected({"event": "page_view", "param": {"utm_source": "mail", "ref": None}}) == {
        hanako.pk
    }


def test_ip_addresses_and_cidr_blocks_on_either_database(hanako, taro):
    event(hanako, ip="203.0.113.57")
    event(taro, ip="2001:db8::1")
    assert selected({"event": "page_view", "ip": "203.0.113.0/24"}) == {hanako.pk}
    assert selected({"event": "page_view", "ip": "203.0.113.57"}) == {hanako.pk}
    assert selected({"event": "page_view", "ip": "2001:db8::/32"}) == {taro.pk}


def test_did_not_open_in_30_days_two_ways(hanako, taro):
    event(hanako, "email_open", days_ago=3)
    event(taro, "email_open", days_ago=45)
    zero = {"event": "email_open", "min_count": 0, "max_count": 0, "within_days": 30}
    negated = {"not": {"event": "email_open", "within_days": 30}}
    assert selected(zero) == selected(negated) == {taro.pk}


def test_machine_events_count_only_when_asked(hanako):
    event(hanako, "email_click", is_machine=True, props={"campaign": "spring-sale"})
    assert selected({"event": "email_click", "campaign": "spring-sale"}) == set()
    assert selected({"event": "email_click", "include_machine": True}) == {hanako.pk}


def test_distinct_products_of_inquiries(hanako, taro):
    for product in ("冷蔵庫", "洗濯機"):
        event(hanako, "form_submit", props={"form": "inquiry", "product": product})
    event(taro, "form_submit", props={"form": "inquiry", "product": "冷蔵庫"})
    event(taro, "form_submit", props={"form": "inquiry", "product": "冷蔵庫"})
    loyal = {
        "event": "form_submit", "form": "inquiry", "within_days": 365, "distinct": "product",
        "min_count": 2,
    }  # fmt: skip
    assert selected(loyal) == {hanako.pk}


def test_events_made_before_stitching_count_for_the_contact(hanako):
    visitor = Visitor.objects.create(
        id="0" * 32, contact=hanako, first_seen_at=NOW, last_seen_at=NOW
    )
    Event.objects.create(type="page_view", occurred_at=NOW, visitor=visitor, url="/before")
    assert selected({"event": "page_view", "url_equals": "/before"}) == {hanako.pk}
    assert selected({"event": "page_view", "visitor": "0" * 32}) == {hanako.pk}


def test_records_with_where_window_count_and_sum(hanako, taro):
    purchase = RecordType.objects.create(key="purchase", name_ja="購入")
    for key, kind in (("product", "text"), ("amount", "number")):
        FieldDefinition.objects.create(
            target=FieldTarget.RECORD, record_type=purchase, key=key, label_ja=key, type=kind
        )
    Record.objects.create(
        record_type=purchase, contact=hanako, occurred_at=NOW - datetime.timedelta(days=10),
        custom={"product": "冷蔵庫", "amount": 120000},
    )  # fmt: skip
    Record.objects.create(
        record_type=purchase, contact=taro, occurred_at=NOW - datetime.timedelta(days=400),
        custom={"product": "冷蔵庫", "amount": 300000},
    )  # fmt: skip
    document = {
        "record": "purchase",
        "where": {"field": "product", "op": "eq", "value": "冷蔵庫"},
        "within_days": 365,
        "min_count": 1,
        "sum": {"field": "amount", "op": "gte", "value": 100000},
    }
    assert selected(document) == {hanako.pk}


def test_a_segment_condition_uses_the_saved_filter_and_self_reference_is_rejected(hanako, taro):
    Segment.objects.create(
        name="東京", slug="tokyo", filter={"field": "prefecture", "op": "eq", "value": "東京都"}
    )
    assert selected({"segment": "tokyo"}) == {hanako.pk}
    Segment.objects.create(name="A", slug="a", filter={"segment": "b"})
    Segment.objects.create(name="B", slug="b", filter={"any": [{"segment": "a"}]})
    with translation.override("en"), pytest.raises(FilterError, match='"a" refers to itself'):
        selected({"segment": "a"})


def test_matches_checks_one_contact_with_the_same_query(hanako, taro, django_assert_num_queries):
    TagFactory(name="VIP").contacts.add(hanako)
    with django_assert_num_queries(1):
        assert matches({"tag": "VIP"}, hanako, now=NOW)
    assert not matches({"tag": "VIP"}, taro, now=NOW)


@pytest.mark.parametrize(
    ("document", "place"),
    [
        (
            {"all": [{"tag": "x"}, {"any": [{"event": "page_view", "min_count": -1}]}]},
            "all[1].any[0].min_count",
        ),
        ({"event": "page_view", "ip": "not-an-ip"}, "ip"),
        ({"event": "page_view", "param": []}, "param"),
        ({"event": "page_view", "unknown": 1}, "unknown"),
        ({"record": "nothing"}, "record"),
        ({"segment": "missing"}, "segment"),
        ({"event": "page_view", "min_count": 3, "max_count": 1}, "max_count"),
        ({"not": {"event": "page_view", "since": "2026-13-01"}}, "not.since"),
    ],
)
def test_a_bad_filter_is_rejected_naming_the_place(db, document, place):
    with pytest.raises(FilterError) as error:
        selected(document)
    assert str(error.value).startswith(f"{place}:")
