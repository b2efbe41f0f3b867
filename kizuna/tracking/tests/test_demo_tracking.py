"""The demo's web history: visits of the demo contacts and of anonymous visitors, consistent the
way the collector keeps it, the same on every machine, loaded once."""

import itertools
from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count, Max, Min
from django.utils import timezone, translation

from kizuna.core.demo import DEMO_SEED
from kizuna.crm.models import Contact
from kizuna.crm.tests.factories import ContactFactory
from kizuna.tracking import demo as tracking_demo
from kizuna.tracking.models import SESSION_GAP_SECONDS, Event, Session, Visitor

GAP = timedelta(seconds=SESSION_GAP_SECONDS)


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("demo")


def test_contacts_and_anonymous_visitors_have_events(demo):
    assert Event.objects.filter(contact__isnull=False).count() > 1000
    anonymous = Visitor.objects.filter(contact=None, browser__in=["Googlebot", "bingbot"])
    assert anonymous.count() == tracking_demo.CRAWLERS
    assert Visitor.objects.filter(contact=None).count() == 200 + tracking_demo.CRAWLERS
    assert Event.objects.filter(contact=None, visitor__contact=None).count() > 200
    assert Contact.objects.filter(visitors__isnull=False).distinct().count() > 150
    types = set(Event.objects.values_list("type", flat=True))
    assert {"page_view", "form_submit", "file_download", "login"} <= types


def test_page_views_look_like_a_japanese_company_site(demo):
    urls = list(Event.objects.filter(type="page_view").values_list("url", flat=True))
    for prefix in ("/products/", "/pricing/", "/case-studies/", "/faq/", "/news/"):
        assert any(url.startswith(prefix) for url in urls), prefix
    assert any("utm_source=mail&utm_medium=email&utm_campaign=" in url for url in urls)
    assert all(
        event.props["title"].endswith("｜キズナ商事")
        for event in Event.objects.filter(type="page_view")[:200]
    )
    referrers = set(Session.objects.values_list("referrer", flat=True))
    assert {"", "https://www.google.com/", "https://search.yahoo.co.jp/"} <= referrers
    devices = set(Visitor.objects.values_list("device_type", flat=True))
    assert {"mobile", "desktop"} <= devices
    systems = set(Visitor.objects.values_list("os", flat=True))
    assert {"iOS", "Android", "Windows", "Mac OS X"} <= systems
    form = Event.objects.filter(type="form_submit").first()
    assert set(form.props) == {"form", "product"} and form.contact_id is not None
    assert Event.objects.filter(is_machine=True).exists()
    assert not Event.objects.filter(is_machine=True, visitor__contact__isnull=False).exists()


def test_visits_have_no_gap_of_30_minutes_inside_and_more_between(demo):
    by_session = defaultdict(list)
    for session_id, moment in Event.objects.order_by("occurred_at").values_list(
        "session", "occurred_at"
    ):
        by_session[session_id].append(moment)
    sessions = {session.id: session for session in Session.objects.all()}
    assert set(by_session) == set(sessions)
    for session_id, moments in by_session.items():
        session = sessions[session_id]
        assert all(later - earlier < GAP for earlier, later in itertools.pairwise(moments))
        assert (session.started_at, session.last_seen_at, session.events) == (
            moments[0],
            moments[-1],
            len(moments),
        )
    by_visitor = defaultdict(list)
    for session in sorted(sessions.values(), key=lambda session: session.started_at):
        by_visitor[session.visitor_id].append(session)
    for visits in by_visitor.values():
        assert all(
            later.started_at - earlier.last_seen_at > GAP
            for earlier, later in itertools.pairwise(visits)
        )


def test_visitor_and_contact_counters_match_their_sessions(demo):
    sessions = Session.objects.values("visitor_id").annotate(
        count=Count("id"), first=Min("started_at"), last=Max("last_seen_at")
    )
    figures = {row["visitor_id"]: row for row in sessions}
    visitors = list(Visitor.objects.all())
    assert len(figures) == len(visitors)
    for visitor in visitors:
        row = figures[visitor.pk]
        assert (visitor.sessions, visitor.first_seen_at, visitor.last_seen_at) == (
            row["count"],
            row["first"],
            row["last"],
        )
        assert (
            visitor.current_session
            == Session.objects.filter(visitor=visitor).latest("started_at").id
        )
    for contact in Contact.objects.filter(visitors__isnull=False).distinct():
        own = Session.objects.filter(contact=contact)
        assert (
            contact.sessions
            == own.count()
            == Session.objects.filter(visitor__contact=contact).count()
        )
        assert contact.first_seen_at == own.aggregate(first=Min("started_at"))["first"]
        assert contact.last_seen_at == own.aggregate(last=Max("last_seen_at"))["last"]
    assert not Contact.objects.filter(visitors__isnull=True, sessions__gt=0).exists()


def test_everything_happened_in_the_last_90_days_and_before_today(demo):
    today = timezone.make_aware(
        timezone.datetime.combine(timezone.localdate(), timezone.datetime.min.time())
    )
    span = Event.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    assert span["last"] < today
    assert span["first"] >= today - timedelta(days=tracking_demo.DAYS + 1)


def test_loading_twice_adds_nothing(demo):
    counts = (Visitor.objects.count(), Session.objects.count(), Event.objects.count())
    with translation.override("en"):
        assert tracking_demo.load_tracking_demo() == ["Tracking: already loaded"]
    assert (Visitor.objects.count(), Session.objects.count(), Event.objects.count()) == counts


def test_the_same_seed_gives_the_same_history(db):
    ContactFactory.create_batch(5)
    tracking_demo.load_tracking_demo(rng_seed=DEMO_SEED)
    first = list(Event.objects.order_by("event_id").values_list("event_id", "url", "occurred_at"))
    Event.objects.all().delete()
    Session.objects.all().delete()
    Visitor.objects.all().delete()
    tracking_demo.load_tracking_demo(rng_seed=DEMO_SEED)
    second = list(Event.objects.order_by("event_id").values_list("event_id", "url", "occurred_at"))
    assert first == second and len(first) > 100
