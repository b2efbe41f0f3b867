"""The members list: state tabs with counts, tier and name / email filters, pages, queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from kizuna.accounts.tests.factories import UserFactory
from kizuna.crm.tests.factories import ContactFactory
from kizuna.members.models import Member, MemberState, Tier
from kizuna.members.views.console import PAGE_SIZE

pytestmark = pytest.mark.django_db
LIST = reverse("members:member_list")


def make_member(state=MemberState.ACTIVE, *, tier=None, days_ago=0, **contact_fields):
    contact = ContactFactory(**contact_fields)
    user = UserFactory(email=contact.email)
    contact.user = user
    contact.save()
    return Member.objects.create(
        contact=contact,
        user=user,
        state=state,
        tier=tier,
        registered_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def names(response) -> list[str]:
    return [member.contact.display_name for member in response.context["page"]]


def test_the_list_shows_members_newest_first_with_their_columns(staff_client):
    gold = Tier.objects.create(slug="gold", name_ja="ゴールド")
    old = make_member(family_name="古田", given_name="一郎", days_ago=30)
    new = make_member(family_name="新井", given_name="花子", tier=gold)
    new.user.last_login = timezone.now()
    new.user.save()

    response = staff_client.get(LIST)

    assert names(response) == [new.contact.display_name, old.contact.display_name]
    page = response.content.decode()
    assert "新井 花子" in page
    assert new.contact.email in page
    assert "ゴールド" in page
    assert reverse("members:member_detail", args=[new.pk]) in page
    with translation.override("ja"):
        assert str(MemberState.ACTIVE.label) in page


def test_state_tabs_count_each_state_and_filter_by_it(staff_client):
    make_member(MemberState.ACTIVE)
    make_member(MemberState.ACTIVE)
    waiting = make_member(MemberState.PENDING_APPROVAL)
    make_member(MemberState.SUSPENDED)

    response = staff_client.get(LIST, {"state": "pending_approval"})

    tabs = {value: count for value, _label, count in response.context["tabs"]}
    assert tabs[""] == 4
    assert tabs["active"] == 2
    assert tabs["pending_approval"] == 1
    assert tabs["withdrawn"] == 0
    assert [m.pk for m in response.context["page"]] == [waiting.pk]


def test_an_unknown_state_shows_everyone(staff_client):
    make_member(MemberState.ACTIVE)
    response = staff_client.get(LIST, {"state": "nonsense"})
    assert response.status_code == 200
    assert len(response.context["page"]) == 1


def test_the_tier_filter_keeps_members_of_that_tier_or_without_one(staff_client):
    gold = Tier.objects.create(slug="gold", name_ja="ゴールド")
    golden = make_member(tier=gold)
    plain = make_member()

    assert [m.pk for m in staff_client.get(LIST, {"tier": "gold"}).context["page"]] == [golden.pk]
    assert [m.pk for m in staff_client.get(LIST, {"tier": "none"}).context["page"]] == [plain.pk]


def test_search_finds_members_by_name_and_by_email(staff_client):
    hanako = make_member(family_name="佐藤", given_name="花子", email="hanako@example.jp")
    make_member(family_name="鈴木", given_name="次郎", email="jiro@example.jp")

    assert [m.pk for m in staff_client.get(LIST, {"q": "佐藤"}).context["page"]] == [hanako.pk]
    assert [m.pk for m in staff_client.get(LIST, {"q": "hanako@"}).context["page"]] == [hanako.pk]


def test_a_sign_up_waiting_for_its_contact_is_listed_by_its_email(staff_client):
    user = UserFactory(email="waiting@example.jp")
    member = Member.objects.create(user=user, state=MemberState.PENDING_VERIFICATION)

    response = staff_client.get(LIST, {"q": "waiting@example"})

    assert [m.pk for m in response.context["page"]] == [member.pk]
    assert "waiting@example.jp" in response.content.decode()


def test_pages_keep_the_filters_in_their_links(staff_client):
    for _ in range(PAGE_SIZE + 1):
        make_member(MemberState.ACTIVE)

    response = staff_client.get(LIST, {"state": "active"})

    assert len(response.context["page"]) == PAGE_SIZE
    assert "?state=active&amp;page=2" in response.content.decode()
    second = staff_client.get(LIST, {"state": "active", "page": 2})
    assert len(second.context["page"]) == 1


def test_the_list_speaks_the_staff_members_language(staff_client, settings):
    make_member()
    staff_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = staff_client.get(LIST).content.decode()
    with translation.override("en"):
        assert str(MemberState.ACTIVE.label) in page
    assert "Last log-in" in page
    assert 'lang="en"' in page


def test_the_list_runs_the_same_number_of_queries_whatever_the_number_of_members(
    staff_client, django_assert_num_queries
):
    gold = Tier.objects.create(slug="gold", name_ja="ゴールド")
    make_member(tier=gold)
    staff_client.get(LIST)  # the session and the settings row are warm from here on
    staff_client.get(LIST, {"tier": "gold", "q": "山田"})

    with CaptureQueriesContext(connection) as few:
        staff_client.get(LIST, {"tier": "gold", "q": "山田"})
    # The list's own: state counts, tiers, segments, the page's count and its rows; the rest is
    # the request's (session, user, the middleware's settings row).
    own = [q["sql"] for q in few.captured_queries if "members_" in q["sql"]]
    assert len(own) == 4  # the state counts, the tiers, the page's count, the page's rows
    assert len(few.captured_queries) <= 9

    for _ in range(10):
        make_member(tier=gold, state=MemberState.SUSPENDED)
    with django_assert_num_queries(len(few.captured_queries)):
        response = staff_client.get(LIST, {"tier": "gold", "q": "山田"})
    assert len(response.context["page"]) == 11
