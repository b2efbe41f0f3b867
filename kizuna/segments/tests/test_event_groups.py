"""Event conditions of one type under `any` are read in one pass (one set of contacts counted
several ways): the same contacts as the reference evaluator, for counts, windows, distinct
values, max_count, min_count 0, negation and matches() - with events made before the fold."""

import datetime

import pytest

from kizuna.crm.models import Contact
from kizuna.crm.tests.factories import ContactFactory
from kizuna.segments.compiler import compile_filter, matches
from kizuna.segments.tests import reference
from kizuna.tracking.models import Event, Visitor

NOW = datetime.datetime(2026, 11, 22, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
# (days ago, product) of each contact's form posts
POSTS = {
    "none": [],
    "one_recent": [(1, "冷蔵庫")],
    "two_recent": [(1, "冷蔵庫"), (20, "冷蔵庫")],
    "two_products": [(100, "冷蔵庫"), (300, "洗濯機")],
    "old": [(400, "冷蔵庫"), (500, "テレビ")],
    "many": [(2, "冷蔵庫"), (3, "洗濯機"), (4, "テレビ"), (40, None)],
}
LOYAL = [
    {"event": "form_submit", "within_days": 30, "min_count": 2},
    {"event": "form_submit", "within_days": 365, "distinct": "product", "min_count": 2},
]
GROUPS = [
    LOYAL,
    [{"event": "form_submit", "within_days": 30}, {"event": "form_submit", "since": "2026-01-01"}],
    [{"event": "form_submit", "within_days": 10}, {"event": "form_submit", "min_count": 2}],
    [
        {"event": "form_submit", "within_days": 30, "max_count": 1},
        {"event": "form_submit", "distinct": "product", "min_count": 3},
    ],
    [
        {"event": "form_submit", "within_days": 30, "min_count": 0, "max_count": 0},
        {"event": "form_submit", "props": {"product": "テレビ"}},
        {"event": "form_submit", "until": "2026-06-01", "min_count": 2},
    ],
    [
        {"event": "form_submit", "within_days": 30, "min_count": 2},
        {"event": "page_view"},
        {"field": "email", "op": "eq", "value": "none@example.jp"},
    ],
]


@pytest.fixture
def people(db):
    plain = {}
    for number, (name, posts) in enumerate(POSTS.items()):
        contact = ContactFactory(email=f"{name}@example.jp")
        visitor = Visitor.objects.create(
            id=f"visitor{number:024d}", contact=contact, first_seen_at=NOW, last_seen_at=NOW
        )
        plain[contact.pk] = reference.PlainContact(email=contact.email)
        for index, (days, product) in enumerate(posts):
            props = {} if product is None else {"product": product}
            occurred_at = NOW - datetime.timedelta(days=days)
            Event.objects.create(
                type="form_submit", occurred_at=occurred_at, props=props, visitor=visitor,
                contact=None if index % 2 else contact,  # every other one not folded yet
            )  # fmt: skip
            plain[contact.pk].events.append(
                reference.PlainEvent("form_submit", occurred_at, props=props)
            )
    return plain


def selected(document) -> set[int]:
    q = compile_filter(document, now=NOW)
    return set(Contact.objects.filter(q).values_list("pk", flat=True))


def expected(document, people) -> set[int]:
    return {pk for pk, plain in people.items() if reference.evaluate(document, plain, NOW)}


@pytest.mark.parametrize("group", GROUPS, ids=range(len(GROUPS)))
def test_any_of_event_conditions_selects_what_the_reference_does(people, group):
    for document in ({"any": group}, {"not": {"any": group}}, {"all": [{"any": group}]}):
        assert selected(document) == expected(document, people), document
    chosen = selected({"any": group})
    for pk in people:
        assert matches({"any": group}, Contact(pk=pk), now=NOW) == (pk in chosen)


def test_loyal_customers_read_the_form_posts_once(people):
    q = compile_filter({"any": LOYAL}, now=NOW)
    sql = str(Contact.objects.filter(q).query)
    assert sql.count("GROUP BY") == 1 and sql.count("UNION ALL") == 1
