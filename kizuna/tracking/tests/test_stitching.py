"""Identity stitching: an unknown visitor's history joins the contact when they identify, across
devices; identify is one UPDATE whatever the history; sessions split after 30 minutes."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from kizuna.accounts.tests.factories import PASSWORD
from kizuna.crm.merging import merge_contacts
from kizuna.crm.tests.factories import ContactFactory
from kizuna.tracking import ingest, stitching
from kizuna.tracking.folding import fold_visitor_events
from kizuna.tracking.middleware import VISITOR_COOKIE
from kizuna.tracking.models import Event, Session, Visitor

PHONE = "a1" * 16
LAPTOP = "b2" * 16


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def browse(tracking_spool, visitor, *paths, at=None):
    base = at or 1_790_000_000
    tracking_spool().accept(
        [
            ingest.server_record("page_view", visitor=visitor, url=path, at=base + index)
            for index, path in enumerate(paths)
        ]
    )
    tracking_spool().flush()


def test_two_devices_then_login_put_both_histories_on_the_member(
    client, member, tracking_spool, immediate_tasks, django_capture_on_commit_callbacks
):
    contact = ContactFactory(user=member)
    browse(tracking_spool, PHONE, "/products/a", "/pricing")
    browse(tracking_spool, LAPTOP, "/faq/")
    assert Event.objects.of_contact(contact).count() == 0

    for device in (PHONE, LAPTOP):
        client.cookies[VISITOR_COOKIE] = device
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
        assert answer.status_code == 302
        client.logout()
    tracking_spool().flush()  # the login events

    assert set(Visitor.objects.values_list("contact_id", flat=True)) == {contact.pk}
    urls = set(
        Event.objects.filter(contact=contact, type="page_view").values_list("url", flat=True)
    )
    assert urls == {"/products/a", "/pricing", "/faq/"}
    assert Event.objects.filter(contact=contact, type="login").count() == 2
    contact.refresh_from_db()
    # Two visits of browsing, and the log-ins (months later) began a visit on each device.
    assert contact.sessions == Session.objects.filter(contact=contact).count() == 4


def test_events_before_identification_are_on_the_contact_even_before_the_fold(
    db, tracking_spool, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    browse(tracking_spool, PHONE, "/a", "/b")
    with django_capture_on_commit_callbacks(execute=False):  # the fold has not run
        stitching.identify_visitor(PHONE, contact)
    assert Event.objects.filter(contact=contact).count() == 0
    assert Event.objects.of_contact(contact).count() == 2
    assert fold_visitor_events(PHONE) == 2
    assert fold_visitor_events(PHONE) == 0  # a second run changes nothing
    assert Event.objects.filter(contact=contact).count() == 2


def test_identify_is_one_update_whatever_the_history(db, tracking_spool, django_assert_num_queries):
    contact = ContactFactory()
    browse(tracking_spool, PHONE, *[f"/p/{n}" for n in range(300)])
    with django_assert_num_queries(3):  # savepoint, UPDATE, release
        stitching.identify_visitor(PHONE, contact)


def test_identifying_a_visitor_not_yet_stored_creates_it_already_known(db, tracking_spool):
    contact = ContactFactory()
    stitching.identify_visitor(LAPTOP, contact)
    browse(tracking_spool, LAPTOP, "/later")
    assert Event.objects.get().contact == contact


def test_a_shared_computer_keeps_the_first_persons_past_with_them(db, tracking_spool):
    first, second = ContactFactory(), ContactFactory()
    browse(tracking_spool, PHONE, "/first")
    stitching.identify_visitor(PHONE, first)
    fold_visitor_events(PHONE)
    stitching.identify_visitor(PHONE, second)
    fold_visitor_events(PHONE)
    browse(tracking_spool, PHONE, "/second", at=1_790_000_100)
    assert list(Event.objects.filter(contact=first).values_list("url", flat=True)) == ["/first"]
    assert list(Event.objects.filter(contact=second).values_list("url", flat=True)) == ["/second"]


def test_merging_two_contacts_moves_their_visitors_sessions_and_events(db, staff, tracking_spool):
    kept, other = ContactFactory(), ContactFactory()
    browse(tracking_spool, PHONE, "/a")
    stitching.identify_visitor(PHONE, other)
    fold_visitor_events(PHONE)
    merge_contacts(kept, other, {}, by=staff)
    assert Event.objects.get().contact == kept
    assert Visitor.objects.get().contact == kept
    assert Session.objects.get().contact == kept


def test_thirty_minutes_of_inactivity_start_a_new_session(db, tracking_spool):
    start = 1_790_000_000
    browse(tracking_spool, PHONE, "/1", at=start)
    browse(tracking_spool, PHONE, "/2", at=start + 29 * 60)  # within 30 minutes of the last
    browse(tracking_spool, PHONE, "/3", at=start + 29 * 60 + 30 * 60 + 1)
    sessions = list(Session.objects.order_by("started_at").values_list("events", flat=True))
    assert sessions == [2, 1]
    assert Visitor.objects.get().sessions == 2
    first, second, third = Event.objects.order_by("occurred_at").values_list("session", flat=True)
    assert first == second != third


def test_the_contact_timeline_lists_its_visits(staff_client, db, tracking_spool):
    contact = ContactFactory()
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=1)):
        browse(tracking_spool, PHONE, "/products/a", at=timezone.now().timestamp())
    stitching.identify_visitor(PHONE, contact)
    fold_visitor_events(PHONE)
    page = staff_client.get(f"/console/contacts/{contact.pk}/")
    assert page.status_code == 200
