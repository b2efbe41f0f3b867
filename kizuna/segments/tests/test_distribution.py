"""The segment page's distribution: a segment's contacts counted by one field, in one query."""

import datetime

import pytest
from django.utils import timezone, translation

from kizuna.accounts.tests.factories import UserFactory
from kizuna.crm.models import Contact, FieldType, Lifecycle
from kizuna.crm.tests.factories import CompanyFactory, ContactFactory, FieldDefinitionFactory
from kizuna.segments.compiler import compile_filter
from kizuna.segments.distribution import (
    DEFAULT_DIMENSION,
    dimension_for,
    dimensions,
    distribution,
)
from kizuna.tracking.models import DeviceType
from kizuna.tracking.tests.factories import VisitorFactory


def counts(result) -> dict:
    return {bucket.key: bucket.count for bucket in result.buckets}


def by(key, contacts=None):
    return distribution(contacts or Contact.objects.all(), dimension_for(key))


@pytest.fixture
def en():
    with translation.override("en"):
        yield


def test_contacts_are_counted_by_prefecture_largest_first_not_set_last(db):
    for prefecture in ["東京都", "東京都", "東京都", "大阪府", "", "北海道", "北海道"]:
        ContactFactory(prefecture=prefecture)
    result = by("prefecture")
    assert [(b.key, b.count) for b in result.buckets] == [
        ("東京都", 3),
        ("北海道", 2),
        ("大阪府", 1),
        ("", 1),
    ]
    assert result.buckets[-1].missing
    assert result.total == 7
    assert result.largest == 3
    assert result.buckets[0].share == pytest.approx(42.9)


def test_only_the_segments_contacts_are_counted(db):
    for prefecture, sessions in [("東京都", 5), ("東京都", 0), ("大阪府", 9)]:
        ContactFactory(prefecture=prefecture, sessions=sessions)
    members = Contact.objects.filter(compile_filter({"field": "sessions", "op": "gt", "value": 1}))
    assert counts(by("prefecture", members)) == {"東京都": 1, "大阪府": 1}


def test_lifecycle_buckets_carry_their_labels(db, en):
    ContactFactory(lifecycle=Lifecycle.MEMBER)
    ContactFactory(lifecycle=Lifecycle.LEAD)
    ContactFactory(lifecycle=Lifecycle.LEAD)
    result = by("lifecycle")
    assert [(b.key, b.label, b.count) for b in result.buckets] == [
        ("lead", "Lead", 2),
        ("member", "Member", 1),
    ]


def test_owners_are_counted_by_name_with_the_unowned_last(db, en):
    sato = UserFactory(staff=True, name="佐藤", email="sato@example.jp")
    nameless = UserFactory(staff=True, name="", email="rep@example.jp")
    ContactFactory(owner=sato)
    ContactFactory(owner=sato)
    ContactFactory(owner=nameless)
    ContactFactory(owner=None)
    result = by("owner")
    assert [(b.label, b.count, b.missing) for b in result.buckets] == [
        ("佐藤", 2, False),
        ("rep@example.jp", 1, False),
        ("No owner", 1, True),
    ]


def test_device_is_that_of_the_contacts_most_recently_seen_visitor(db, en):
    now = timezone.now()
    phone_user = ContactFactory()
    VisitorFactory(
        contact=phone_user,
        device_type=DeviceType.DESKTOP,
        last_seen_at=now - datetime.timedelta(days=9),
    )
    VisitorFactory(contact=phone_user, device_type=DeviceType.MOBILE, last_seen_at=now)
    desk_user = ContactFactory()
    VisitorFactory(contact=desk_user, device_type=DeviceType.DESKTOP)
    unknown = ContactFactory()
    VisitorFactory(contact=unknown, device_type="")
    ContactFactory()  # never seen
    result = by("device")
    assert [(b.key, b.label, b.missing) for b in result.buckets] == [
        ("desktop", "Desktop", False),
        ("mobile", "Mobile", False),
        ("?", "Unknown device", False),
        ("", "No visits recorded", True),
    ]
    assert result.total == 4


def test_custom_choice_fields_are_grouped_by_their_json_key(db, en):
    FieldDefinitionFactory(
        key="rank",
        type=FieldType.CHOICE,
        label_en="Rank",
        choices=[
            {"value": "gold", "ja": "ゴールド", "en": "Gold"},
            {"value": "free", "ja": "無料"},
        ],
    )
    for rank in ["gold", "gold", "free", None]:
        ContactFactory(custom={"rank": rank} if rank else {})
    result = by("rank")
    assert [(b.key, b.label, b.count) for b in result.buckets] == [
        ("gold", "Gold", 2),
        ("free", "無料", 1),
        ("", "Not set", 1),
    ]


def test_yes_no_fields_are_grouped_on_both_databases(db, en):
    FieldDefinitionFactory(key="newsletter", type=FieldType.BOOLEAN)
    for value in [True, True, False, None]:
        ContactFactory(custom={"newsletter": value} if value is not None else {})
    assert counts(by("newsletter")) == {"true": 2, "false": 1, "": 1}
    ContactFactory(email_opt_in=True)
    assert counts(by("email_opt_in")) == {"false": 4, "true": 1}


def test_company_prefecture_is_grouped_through_the_company(db):
    ContactFactory(company=CompanyFactory(prefecture="愛知県"))
    ContactFactory(company=None)
    assert counts(by("company.prefecture")) == {"愛知県": 1, "": 1}


def test_many_values_are_folded_into_other(db):
    for index in range(25):
        for _copy in range(1 + index % 3):
            ContactFactory(source=f"source-{index:02d}")
    result = distribution(Contact.objects.all(), dimension_for("source"), limit=5)
    assert len(result.buckets) == 6
    other = result.buckets[-1]
    assert other.other
    assert other.count == result.total - sum(b.count for b in result.buckets[:5])
    assert result.total == Contact.objects.count()


def test_the_distribution_is_one_query(db, django_assert_num_queries):
    ContactFactory(prefecture="東京都")
    dimension = dimension_for("device")
    with django_assert_num_queries(1):
        distribution(Contact.objects.all(), dimension)


def test_the_dimensions_offered_are_built_ins_and_custom_choice_fields(db):
    FieldDefinitionFactory(key="rank", type=FieldType.CHOICE)
    FieldDefinitionFactory(key="memo", type=FieldType.TEXT)
    FieldDefinitionFactory(key="old", type=FieldType.CHOICE, archived_at=timezone.now())
    keys = [dimension.key for dimension in dimensions()]
    assert keys[0] == DEFAULT_DIMENSION
    assert {"prefecture", "lifecycle", "owner", "device", "rank"} <= set(keys)
    assert "memo" not in keys and "old" not in keys
    assert dimension_for("memo") is None
    assert dimension_for("nothing") is None


def test_an_empty_segment_has_no_buckets(db):
    result = by("prefecture", Contact.objects.none())
    assert result.buckets == []
    assert result.total == 0
    assert result.largest == 0
