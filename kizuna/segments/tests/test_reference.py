"""The compiled SQL selects exactly the contacts the reference evaluator (reference.py, written
from SEGMENTS.md) selects, for random contacts, events, records and filters — on SQLite and
PostgreSQL alike."""

import datetime

import pytest
from django.apps import apps
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.crm.models import Contact, FieldDefinition, FieldTarget, Record, RecordType, Tag
from kizuna.segments.compiler import compile_filter
from kizuna.segments.tests import reference
from kizuna.segments.tests.reference import PlainContact, PlainEvent, PlainRecord
from kizuna.tracking.models import Event, Visitor

NOW = datetime.datetime(2026, 11, 22, 9, 0, tzinfo=reference.TOKYO)
PREFECTURES = ["東京都", "大阪府", "北海道", "", "Tokyo"]
RANKS = ["gold", "silver", None]
URLS = [
    "/products/a?utm_source=mail&ref=x",
    "/products/b?utm_source=web",
    "/pricing",
    "/Products/A",
    "/faq/?q=返品",
]
IPS = ["203.0.113.5", "203.0.113.200", "198.51.100.7", "2001:db8::1", None]
PRODUCTS = ["冷蔵庫", "洗濯機", "テレビ"]
TYPES = ["page_view", "form_submit", "email_open"]

# Times around the day and window boundaries: "n days ago" ± a few minutes, Tokyo midnights.
offsets = st.sampled_from([0, 1, 29, 30, 31, 364, 365, 366]).flatmap(
    lambda days: st.sampled_from([-5, 0, 5]).map(
        lambda minutes: NOW - datetime.timedelta(days=days, minutes=minutes)
    )
)
midnights = st.sampled_from([0, 1, 7, 30]).map(
    lambda days: datetime.datetime.combine(
        NOW.date() - datetime.timedelta(days=days), datetime.time(0, 0), tzinfo=reference.TOKYO
    )
)
moments = st.one_of(offsets, midnights)

plain_events = st.builds(
    PlainEvent,
    type=st.sampled_from(TYPES),
    occurred_at=moments,
    url=st.sampled_from(URLS),
    ip=st.sampled_from(IPS),
    props=st.fixed_dictionaries({}, optional={"product": st.sampled_from(PRODUCTS)}),
    is_machine=st.booleans(),
)
plain_records = st.builds(
    PlainRecord,
    occurred_at=moments,
    custom=st.fixed_dictionaries(
        {},
        optional={
            "product": st.sampled_from(PRODUCTS),
            "amount": st.sampled_from([0, 5000, 100000]),
        },
    ),
)
day_texts = st.sampled_from(["2026-11-22", "2026-11-21", "2026-10-23", "2025-11-22", "2026-12-01"])
plain_contacts = st.builds(
    PlainContact,
    email=st.sampled_from(["", "Hanako@Example.jp", "taro@example.jp"]),
    prefecture=st.sampled_from(PREFECTURES),
    lifecycle=st.sampled_from(["visitor", "lead", "member"]),
    custom=st.fixed_dictionaries(
        {},
        optional={
            "rank": st.sampled_from(RANKS),
            "score": st.sampled_from([-1, 0, 10, 99.5]),
            "since": day_texts,
            "memo": st.sampled_from(["", "VIP顧客", "vip"]),
        },
    ),
    tags=st.sets(st.sampled_from(["VIP", "展示会"]), max_size=2),
    events=st.lists(plain_events, max_size=5),
    records=st.lists(plain_records, max_size=3),
    # Membership (the members app): none, or a state with or without a tier.
    member_state=st.sampled_from(["", "", "active", "suspended", "withdrawn", "pending_approval"]),
    tier=st.sampled_from(["", "gold", "free"]),
).map(lambda plain: plain if plain.member_state else _without_tier(plain))


def _without_tier(plain: PlainContact) -> PlainContact:
    plain.tier = ""
    return plain


text_values = st.sampled_from(["東京都", "Tokyo", "tok", "大阪", "vip", "VIP顧客"])
field_conditions = st.one_of(
    st.builds(
        lambda field, op, value: {"field": field, "op": op, "value": value},
        st.sampled_from(["prefecture", "memo"]),
        st.sampled_from(["eq", "ne", "contains", "not_contains", "starts_with", "ends_with"]),
        text_values,
    ),
    st.builds(
        lambda field, op: {"field": field, "op": op},
        st.sampled_from(["prefecture", "memo", "rank", "score", "since"]),
        st.sampled_from(["empty", "not_empty"]),
    ),
    st.builds(
        lambda op, values: {"field": "prefecture", "op": op, "value": values},
        st.sampled_from(["in", "not_in"]),
        st.lists(text_values, max_size=2),
    ),
    st.builds(
        lambda op, value: {"field": "email", "op": op, "value": value},
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(["hanako@example.jp", "TARO@EXAMPLE.JP"]),
    ),
    st.builds(
        lambda op, value: {"field": "rank", "op": op, "value": value},
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(["gold", "silver"]),
    ),
    st.builds(
        lambda op, value: {"field": "score", "op": op, "value": value},
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
        st.sampled_from([0, 10, 99.5]),
    ),
    st.just({"field": "score", "op": "between", "value": [0, 10]}),
    st.builds(
        lambda op, value: {"field": "since", "op": op, "value": value},
        st.sampled_from(["eq", "before", "after"]),
        day_texts,
    ),
    st.just({"field": "since", "op": "between", "value": ["2026-10-23", "2026-11-21"]}),
    st.builds(
        lambda op, days: {"field": "since", "op": op, "value": days},
        st.sampled_from(["within_last_days", "more_than_days_ago", "within_next_days"]),
        st.sampled_from([0, 1, 30, 365]),
    ),
    st.builds(
        lambda value: {"field": "lifecycle", "op": "eq", "value": value},
        st.sampled_from(["lead", "member"]),
    ),
    st.builds(lambda tag: {"tag": tag}, st.sampled_from(["VIP", "展示会"])),
    st.builds(
        lambda field, op, value: {"field": field, "op": op, "value": value},
        st.sampled_from(["member_state", "tier"]),
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(["active", "withdrawn", "gold", "free"]),
    ),
    st.builds(
        lambda field, op, values: {"field": field, "op": op, "value": values},
        st.sampled_from(["member_state", "tier"]),
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from(["active", "suspended", "gold"]), max_size=2),
    ),
    st.builds(
        lambda field, op: {"field": field, "op": op},
        st.sampled_from(["member_state", "tier"]),
        st.sampled_from(["empty", "not_empty"]),
    ),
)
windows = st.fixed_dictionaries(
    {},
    optional={
        "within_days": st.sampled_from([0, 1, 30, 365]),
        "since": st.sampled_from(["2026-11-21", "2026-10-23"]),
        "until": st.sampled_from(["2026-11-21", "2026-11-22"]),
        "min_count": st.sampled_from([0, 1, 2]),
        "max_count": st.sampled_from([0, 1, 3]),
    },
)
event_conditions = st.builds(
    lambda kind, window, extra: {"event": kind, **window, **extra},
    st.sampled_from(TYPES),
    windows,
    st.fixed_dictionaries(
        {},
        optional={
            "url_contains": st.sampled_from(["/products/a", "PRODUCTS", "返品"]),
            "param": st.sampled_from(
                [{"utm_source": "mail"}, {"utm_source": None}, {"ref": "x", "utm_source": None}]
            ),
            "ip": st.sampled_from(["203.0.113.0/24", "203.0.113.5", "2001:db8::/32"]),
            "props": st.sampled_from([{"product": "冷蔵庫"}]),
            "distinct": st.just("product"),
            "include_machine": st.booleans(),
        },
    ),
).filter(lambda node: node.get("max_count", 99) >= node.get("min_count", 1))
record_conditions = st.builds(
    lambda window, extra: {"record": "purchase", **window, **extra},
    windows,
    st.fixed_dictionaries(
        {},
        optional={
            "where": st.sampled_from(
                [
                    {"field": "product", "op": "eq", "value": "冷蔵庫"},
                    {"not": {"field": "amount", "op": "gte", "value": 5000}},
                    {
                        "any": [
                            {"field": "product", "op": "empty"},
                            {"field": "amount", "op": "gt", "value": 0},
                        ]
                    },
                ]
            ),
            "sum": st.sampled_from(
                [
                    {"field": "amount", "op": "gte", "value": 100000},
                    {"field": "amount", "op": "between", "value": [1, 10000]},
                ]
            ),
        },
    ),
).filter(lambda node: node.get("max_count", 99) >= node.get("min_count", 1))
filters = st.recursive(
    st.one_of(field_conditions, event_conditions, record_conditions),
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda items: {"all": items}),
        st.lists(children, max_size=3).map(lambda items: {"any": items}),
        children.map(lambda item: {"not": item}),
    ),
    max_leaves=4,
)


@pytest.fixture
def schema(db):
    for key, kind in reference.CUSTOM_TYPES.items():
        FieldDefinition.objects.create(
            target=FieldTarget.CONTACT, key=key, label_ja=key, type=kind,
            choices=[{"value": "gold"}, {"value": "silver"}] if kind == "choice" else [],
        )  # fmt: skip
    purchase = RecordType.objects.create(key="purchase", name_ja="購入")
    for key, kind in (("product", "choice"), ("amount", "number")):
        FieldDefinition.objects.create(
            target=FieldTarget.RECORD, record_type=purchase, key=key, label_ja=key, type=kind,
            choices=[{"value": p} for p in PRODUCTS] if kind == "choice" else [],
        )  # fmt: skip
    return purchase


class Rollback(Exception):
    pass


def store(contacts: list[PlainContact], purchase: RecordType) -> list[int]:
    ids = []
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in ("VIP", "展示会")}
    for number, plain in enumerate(contacts):
        email = plain.email and f"{number}.{plain.email}"
        plain.email = email
        contact = Contact.objects.create(
            email=email,
            prefecture=plain.prefecture,
            lifecycle=plain.lifecycle,
            custom={k: v for k, v in plain.custom.items() if v is not None},
        )
        contact.tags.set([tags[name] for name in plain.tags])
        if plain.member_state:
            # Looked up, not imported: members is downstream of segments (DESIGN.md's arrows).
            Member, Tier = apps.get_model("members", "Member"), apps.get_model("members", "Tier")
            tier = None
            if plain.tier:
                tier = Tier.objects.get_or_create(
                    slug=plain.tier, defaults={"name_ja": plain.tier}
                )[0]
            Member.objects.create(contact=contact, state=plain.member_state, tier=tier)
        visitor = Visitor.objects.create(
            id=f"visitor{number:024d}", contact=contact, first_seen_at=NOW, last_seen_at=NOW
        )
        for index, event in enumerate(plain.events):
            # Every other event was made before the visitor was folded onto the contact.
            before_fold = index % 2 == 1
            Event.objects.create(
                type=event.type, occurred_at=event.occurred_at, url=event.url, ip=event.ip,
                props=event.props, is_machine=event.is_machine, visitor=visitor,
                contact=None if before_fold else contact,
            )  # fmt: skip
        for record in plain.records:
            Record.objects.create(
                record_type=purchase, contact=contact, occurred_at=record.occurred_at,
                custom=record.custom,
            )  # fmt: skip
        ids.append(contact.pk)
    return ids


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(contacts=st.lists(plain_contacts, min_size=1, max_size=6), document=filters)
def test_the_compiled_query_selects_what_the_reference_selects(schema, contacts, document):
    try:
        with transaction.atomic():
            ids = store(contacts, schema)
            expected = {
                pk
                for pk, plain in zip(ids, contacts, strict=True)
                if reference.evaluate(document, plain, NOW)
            }
            found = set(
                Contact.objects.filter(pk__in=ids)
                .filter(compile_filter(document, now=NOW))
                .values_list("pk", flat=True)
            )
            assert found == expected, document
            raise Rollback
    except Rollback:
        pass
