"""My Page: the member-visible custom fields it reads from the cache, its fixed query count, and
sessions ended through a cached session store."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kizuna.accounts.tests.factories import PASSWORD
from kizuna.crm.models import FieldType
from kizuna.crm.tests.factories import FieldDefinitionFactory
from kizuna.members.sessions import end_all_sessions
from kizuna.members.tests.factories import TierFactory, make_member

pytestmark = pytest.mark.django_db

MY_PAGE = reverse("members_site:my_page")


def test_my_page_shows_a_field_as_soon_as_staff_make_it_member_visible(client):
    member = make_member(custom={"store": "新宿店"})
    field = FieldDefinitionFactory(key="store", label_ja="よく行く店舗", member_visible=False)
    client.force_login(member.user)
    assert "新宿店" not in client.get(MY_PAGE).text

    field.member_visible = True
    field.save()

    assert "よく行く店舗" in client.get(MY_PAGE).text and "新宿店" in client.get(MY_PAGE).text


def test_my_page_stops_showing_a_field_staff_archived_or_deleted(client):
    member = make_member(custom={"store": "新宿店", "mobile": "090-1234-5678"})
    store = FieldDefinitionFactory(key="store", member_visible=True)
    mobile = FieldDefinitionFactory(key="mobile", type=FieldType.PHONE, member_visible=True)
    client.force_login(member.user)
    page = client.get(MY_PAGE).text
    assert "新宿店" in page and "090-1234-5678" in page

    store.archived_at = timezone.now()
    store.save()
    mobile.delete()

    page = client.get(MY_PAGE).text
    assert "新宿店" not in page and "090-1234-5678" not in page


def test_my_page_costs_the_same_queries_whatever_the_member_has():
    FieldDefinitionFactory(key="store", member_visible=True)
    FieldDefinitionFactory(key="memo", member_visible=False)
    little = make_member(email="little@example.jp")
    rich = make_member(custom={"store": "新宿店", "memo": "-"}, tier=TierFactory())
    counts = []
    for member in (little, rich):
        browser = Client()
        browser.force_login(member.user)
        browser.get(MY_PAGE)
        with CaptureQueriesContext(connection) as queries:
            assert browser.get(MY_PAGE).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_ending_every_session_logs_out_other_devices_with_cached_sessions(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    member = make_member()
    devices = [Client(), Client()]
    for device in devices:  # allauth's log-in: it lists the session for the user
        device.post(reverse("account_login"), {"login": member.user.email, "password": PASSWORD})
        assert device.get(MY_PAGE).status_code == 200  # the session is in the cache now

    assert end_all_sessions(member.user) == 2

    for device in devices:
        assert device.get(MY_PAGE).status_code == 302
