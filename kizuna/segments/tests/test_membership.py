"""Dynamic membership: a refresh records who entered and who left, touches nothing else, and the
predefined segments exist and mean what the issue says."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from kizuna.crm.models import Contact
from kizuna.crm.tests.factories import ContactFactory
from kizuna.segments.compiler import compile_filter
from kizuna.segments.membership import refresh_all, refresh_segment
from kizuna.segments.models import Membership, Segment
from kizuna.tracking.models import Event


@pytest.fixture
def tokyo(db):
    return Segment.objects.create(
        name="東京", slug="tokyo", filter={"field": "prefecture", "op": "eq", "value": "東京都"}
    )


def test_entering_and_leaving_are_events_and_unchanged_rows_stay_as_they_were(tokyo):
    stays = ContactFactory(prefecture="東京都")
    leaves = ContactFactory(prefecture="東京都")
    first = refresh_segment(tokyo)
    assert (first.entered, first.exited, first.members) == (2, 0, 2)
    kept_row = Membership.objects.get(contact=stays)

    leaves.prefecture = "大阪府"
    leaves.save()
    comes = ContactFactory(prefecture="東京都")
    second = refresh_segment(tokyo)
    assert (second.entered, second.exited, second.members) == (1, 1, 2)
    assert Membership.objects.get(contact=stays).entered_at == kept_row.entered_at
    assert set(Membership.objects.values_list("contact", flat=True)) == {stays.pk, comes.pk}
    assert Event.objects.filter(type="segment_exited", contact=leaves).get().props == {
        "segment": "tokyo"
    }
    assert Event.objects.filter(type="segment_entered").count() == 3

    third = refresh_segment(tokyo)
    assert (third.entered, third.exited) == (0, 0)
    tokyo.refresh_from_db()
    assert tokyo.member_count == 2 and tokyo.refreshed_at


def test_a_broken_segment_does_not_stop_the_others(tokyo):
    Segment.objects.create(name="壊れた", slug="broken", filter={"field": "nope", "op": "eq"})
    ContactFactory(prefecture="東京都")
    refreshed = {result.segment: result.members for result in refresh_all()}
    assert refreshed["tokyo"] == 1 and "broken" not in refreshed


def test_the_predefined_segments_are_there_and_editable(db):
    slugs = set(Segment.objects.filter(predefined=True).values_list("slug", flat=True))
    assert slugs == {"new", "slipping-away", "loyal-customers"}


def test_new_and_slipping_away_mean_seven_and_thirty_days(db):
    with time_machine.travel(timezone.now() - datetime.timedelta(days=8)):
        old = ContactFactory(last_seen_at=timezone.now())
    recent = ContactFactory(last_seen_at=timezone.now())
    new = Segment.objects.get(slug="new").filter
    slipping = Segment.objects.get(slug="slipping-away").filter
    assert set(Contact.objects.filter(compile_filter(new)).values_list("pk", flat=True)) == {
        recent.pk
    }
    with time_machine.travel(timezone.now() + datetime.timedelta(days=25)):
        chosen = set(Contact.objects.filter(compile_filter(slipping)).values_list("pk", flat=True))
    assert chosen == {old.pk}


def test_loyal_customers_two_inquiries_in_30_days_or_two_products_in_a_year(db):
    now = timezone.now()
    frequent, broad, once = ContactFactory(), ContactFactory(), ContactFactory()
    for days in (1, 20):
        Event.objects.create(
            type="form_submit", contact=frequent, occurred_at=now - datetime.timedelta(days=days)
        )
    for days, product in ((100, "冷蔵庫"), (300, "洗濯機")):
        Event.objects.create(
            type="form_submit", contact=broad, occurred_at=now - datetime.timedelta(days=days),
            props={"product": product},
        )  # fmt: skip
    Event.objects.create(
        type="form_submit", contact=once, occurred_at=now, props={"product": "冷蔵庫"}
    )
    loyal = Segment.objects.get(slug="loyal-customers")
    refresh_segment(loyal)
    assert set(loyal.memberships.values_list("contact", flat=True)) == {frequent.pk, broad.pk}
