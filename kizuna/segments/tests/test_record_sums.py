"""A record condition's `sum` compiled as one set of contacts (GROUP BY … HAVING): every sum
operator, with and without min_count 0 (a contact without records has the sum 0), negated and
for one contact (matches()), against the reference evaluator."""

import datetime

import pytest

from kizuna.crm.models import Contact, FieldDefinition, FieldTarget, Record, RecordType
from kizuna.crm.tests.factories import ContactFactory
from kizuna.segments.compiler import compile_filter, matches
from kizuna.segments.tests import reference

NOW = datetime.datetime(2026, 11, 22, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
# amount of each purchase (None: a record without one) of each contact, all in the last 30 days
PURCHASES = {
    "none": [],
    "zero": [0],
    "small": [3000],
    "two": [3000, 7000],
    "big": [250000],
    "missing": [None],
    "minus": [-500, None],
}
SUMS = [
    {"field": "amount", "op": "gte", "value": 10000},
    {"field": "amount", "op": "lte", "value": 5000},
    {"field": "amount", "op": "lt", "value": 0},
    {"field": "amount", "op": "gt", "value": -1},
    {"field": "amount", "op": "eq", "value": 0},
    {"field": "amount", "op": "eq", "value": 10000},
    {"field": "amount", "op": "ne", "value": 0},
    {"field": "amount", "op": "ne", "value": 3000},
    {"field": "amount", "op": "between", "value": [0, 3000]},
    {"field": "amount", "op": "between", "value": ["1", "10000.5"]},
]
COUNTS = [{}, {"min_count": 0}, {"min_count": 2}, {"min_count": 0, "max_count": 1}]


@pytest.fixture
def people(db):
    purchase = RecordType.objects.create(key="purchase", name_ja="購入")
    FieldDefinition.objects.create(
        target=FieldTarget.RECORD, record_type=purchase, key="amount", label_ja="金額",
        type="number",
    )  # fmt: skip
    plain = {}
    for index, (name, amounts) in enumerate(PURCHASES.items()):
        contact = ContactFactory(email=f"{name}@example.jp")
        plain[contact.pk] = reference.PlainContact(email=contact.email)
        for day, amount in enumerate(amounts, start=1):
            custom = {} if amount is None else {"amount": amount}
            occurred_at = NOW - datetime.timedelta(days=day + index)
            Record.objects.create(
                record_type=purchase, contact=contact, occurred_at=occurred_at, custom=custom
            )
            plain[contact.pk].records.append(reference.PlainRecord(occurred_at, custom))
    return plain


def selected(document) -> set[int]:
    q = compile_filter(document, now=NOW)
    return set(Contact.objects.filter(q).values_list("pk", flat=True))


def expected(document, people) -> set[int]:
    return {pk for pk, plain in people.items() if reference.evaluate(document, plain, NOW)}


@pytest.mark.parametrize("counts", COUNTS, ids=str)
@pytest.mark.parametrize("total", SUMS, ids=lambda s: f"{s['op']} {s['value']}")
def test_a_sum_selects_what_the_reference_does_negated_too(people, total, counts):
    document = {"record": "purchase", "within_days": 30, "sum": total, **counts}
    assert selected(document) == expected(document, people)
    negated = {"not": document}
    assert selected(negated) == expected(negated, people)
    either = {"any": [document, {"field": "email", "op": "eq", "value": "big@example.jp"}]}
    assert selected(either) == expected(either, people)


@pytest.mark.parametrize("total", SUMS[:3] + SUMS[6:7], ids=lambda s: f"{s['op']} {s['value']}")
def test_matches_of_one_contact_agrees_with_the_whole_query(people, total):
    for counts in ({}, {"min_count": 0}):
        document = {"record": "purchase", "sum": total, **counts}
        chosen = selected(document)
        for pk in people:
            assert matches(document, Contact(pk=pk), now=NOW) == (pk in chosen), (pk, counts)
