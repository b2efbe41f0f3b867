import datetime

import pytest
from django.utils import timezone

from kizuna.accounts.tests.factories import UserFactory
from kizuna.core.models import AuditAction, AuditLog, ConsentMode, SiteSettings
from kizuna.crm.tests.factories import ContactFactory
from kizuna.tracking import reports
from kizuna.tracking.forms import TrackingSettingsForm
from kizuna.tracking.models import EventType, friendly_name
from kizuna.tracking.tests.factories import EventFactory, SessionFactory, VisitorFactory
from kizuna.tracking.timeline import tracking_entries

VISITORS = "/console/visitors/"
TOP_PAGES = "/console/tracking/top-pages/"
SETTINGS = "/console/tracking/settings/"
HOSTILE_URL = '/<script>alert(1)</script>?x="><img src=x>'


def ago(**kwargs) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**kwargs)


def settings_data(**overrides):
    data = {
        "tracking_consent_mode": ConsentMode.ALWAYS,
        "anonymous_retention_days": "180",
        "event_retention_days": "730",
        "tracking_domains": "",
    }
    data.update(overrides)
    return data


# --- Access -------------------------------------------------------------------------------------


@pytest.fixture
def screens(db):
    contact = ContactFactory()
    visitor = VisitorFactory(contact=contact)
    return [
        VISITORS,
        f"/console/visitors/{visitor.pk}/",
        TOP_PAGES,
        SETTINGS,
        f"/console/contacts/{contact.pk}/activity/",
    ]


def test_staff_open_every_tracking_screen(staff_client, screens):
    for url in screens:
        assert staff_client.get(url).status_code == 200, url


def test_members_and_strangers_get_403_from_every_tracking_screen(client, screens, stranger):
    for user in (UserFactory(), stranger):
        client.force_login(user)
        for url in screens:
            assert client.get(url).status_code == 403, url


def test_a_non_staff_user_cannot_change_the_settings(client, stranger):
    client.force_login(stranger)
    response = client.post(SETTINGS, settings_data(tracking_domains="evil.example"))
    assert response.status_code == 403
    assert SiteSettings.current().tracking_domains == ""


def test_anonymous_users_are_sent_to_log_in(client, screens):
    for url in screens:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_console_menu_links_the_tracking_screens(staff_client):
    body = staff_client.get("/console/").content.decode()
    for url in (VISITORS, TOP_PAGES, SETTINGS):
        assert f'href="{url}"' in body


# --- Visitors -----------------------------------------------------------------------------------


def test_on_the_site_now_lists_visitors_seen_in_the_last_five_minutes(staff_client):
    here = VisitorFactory(last_seen_at=ago(minutes=2))
    VisitorFactory(last_seen_at=ago(minutes=6))
    response = staff_client.get(VISITORS)
    assert [visitor.pk for visitor in response.context["online"]] == [here.pk]
    assert response.context["online_total"] == 1


def test_recent_visitors_show_who_they_are_and_what_they_use(staff_client):
    contact = ContactFactory(family_name="佐藤", given_name="花子")
    known = VisitorFactory(
        contact=contact,
        last_seen_at=ago(hours=1),
        sessions=4,
        last_url="/products/a?utm_source=mail",
        browser="Safari",
        os="iOS",
        device_type="mobile",
        language="en-US",
        country="US",
    )
    anonymous = VisitorFactory(last_seen_at=ago(hours=2))
    response = staff_client.get(VISITORS)
    assert response.context["visitors"] == [known, anonymous]
    body = response.content.decode()
    assert f'href="/console/contacts/{contact.pk}/"' in body
    assert "佐藤 花子" in body
    assert friendly_name(anonymous.pk, "ja") in body
    assert f'href="/console/visitors/{anonymous.pk}/"' in body
    for text in ("/products/a?utm_source=mail", "Safari", "iOS", "en-US", "US", ">4<"):
        assert text in body


def test_recent_visitors_filter_anonymous_or_identified(staff_client):
    known = VisitorFactory(contact=ContactFactory())
    anonymous = VisitorFactory()
    assert staff_client.get(VISITORS, {"kind": "anonymous"}).context["visitors"] == [anonymous]
    assert staff_client.get(VISITORS, {"kind": "identified"}).context["visitors"] == [known]
    assert len(staff_client.get(VISITORS, {"kind": "nonsense"}).context["visitors"]) == 2


def test_recent_visitors_page_by_last_seen_and_id_newest_first(staff_client, monkeypatch):
    monkeypatch.setattr(reports, "VISITOR_PAGE_SIZE", 2)
    same_time = ago(hours=1)
    expected = [VisitorFactory(id=f"tie-{n}", last_seen_at=same_time) for n in (3, 2, 1)]
    expected.append(VisitorFactory(id="older", last_seen_at=ago(hours=2)))
    seen, url, pages = [], VISITORS + "?kind=anonymous", 0
    while url:
        response = staff_client.get(url if url.startswith("/") else VISITORS + url)
        seen += [visitor.pk for visitor in response.context["visitors"]]
        url, pages = response.context["next_url"], pages + 1
        assert pages < 5
    assert seen == [visitor.pk for visitor in expected]
    assert pages == 2
    assert "kind=anonymous" in response.request["QUERY_STRING"]


@pytest.mark.parametrize("before", ["99999999999999999999", "999999999999999999", "１２", "-5"])
def test_a_broken_cursor_shows_the_first_page(staff_client, before):
    visitor = VisitorFactory()
    response = staff_client.get(VISITORS, {"before": before, "before_id": "x"})
    assert response.context["visitors"] == [visitor]


def test_the_visitors_list_runs_the_same_queries_for_any_number_of_rows(
    staff_client, django_assert_num_queries
):
    def add(count):
        for _ in range(count):
            VisitorFactory(contact=ContactFactory(), last_seen_at=ago(minutes=1))
            VisitorFactory(last_seen_at=ago(hours=1))

    add(1)
    staff_client.get(VISITORS)  # session and user loaded once
    # session + user, then: online count, online rows, recent rows.
    with django_assert_num_queries(5):
        staff_client.get(VISITORS)
    add(10)
    with django_assert_num_queries(5):
        response = staff_client.get(VISITORS)
    assert len(response.context["visitors"]) == 22


# --- One visitor --------------------------------------------------------------------------------


def test_a_visitor_page_shows_its_visits_with_their_events_newest_first(staff_client):
    contact = ContactFactory(family_name="鈴木", given_name="一郎")
    visitor = VisitorFactory(contact=contact)
    old = SessionFactory(visitor=visitor, started_at=ago(days=2), landing_url="/old-landing")
    new = SessionFactory(visitor=visitor, started_at=ago(hours=1), referrer="https://t.co/x")
    EventFactory(visit=old, url="/first", occurred_at=ago(days=2))
    EventFactory(visit=new, url="/second", occurred_at=ago(minutes=59))
    EventFactory(visit=new, url="/third", occurred_at=ago(minutes=58), props={"title": "料金"})
    EventFactory(visitor=VisitorFactory(), url="/someone-else")
    response = staff_client.get(f"/console/visitors/{visitor.pk}/")
    visits = response.context["visits"]
    assert [visit.session_id for visit in visits] == [new.pk, old.pk]
    assert [row.event.url for row in visits[0].events] == ["/third", "/second"]
    body = response.content.decode()
    assert f'href="/console/contacts/{contact.pk}/"' in body
    assert "鈴木 一郎" in body
    assert "料金" in body and "https://t.co/x" in body and "/old-landing" in body
    assert "/someone-else" not in body


def test_a_visitor_with_an_imported_id_holding_a_slash_has_a_page(staff_client):
    visitor = VisitorFactory(id="import/2024/0001")
    assert f'href="/console/visitors/{visitor.pk}/"' in staff_client.get(VISITORS).content.decode()
    assert staff_client.get(f"/console/visitors/{visitor.pk}/").context["visitor"] == visitor


def test_an_unknown_visitor_is_404(staff_client):
    assert staff_client.get("/console/visitors/nobody/").status_code == 404


# --- Top pages ----------------------------------------------------------------------------------


def test_top_pages_count_views_and_unique_visitors_per_page_in_one_query(
    staff_client, django_assert_num_queries
):
    one, two = VisitorFactory(), VisitorFactory()
    EventFactory(visitor=one, url="/pricing?utm_source=mail", props={"title": "料金"})
    EventFactory(visitor=one, url="/pricing")
    EventFactory(visitor=two, url="/pricing#plans?x=1")
    EventFactory(visitor=two, url="/")
    EventFactory(visitor=two, url="/old", occurred_at=ago(days=10))
    EventFactory(visitor=two, url="/bot", is_machine=True)
    EventFactory(visitor=two, url="/pricing", type=EventType.FORM_SUBMIT)
    staff_client.get(TOP_PAGES)
    with django_assert_num_queries(3):  # session + user + the report
        response = staff_client.get(TOP_PAGES, {"days": "7"})
    pages = [(p["path"], p["views"], p["visitors"]) for p in response.context["pages"]]
    assert pages == [("/pricing", 2, 1), ("/", 1, 1), ("/pricing#plans", 1, 1)]
    assert response.context["pages"][0]["title"] == "料金"
    assert "料金" in response.content.decode()


def test_top_pages_offer_7_30_and_90_days_and_default_to_30(staff_client):
    EventFactory(url="/last-month", occurred_at=ago(days=20))
    EventFactory(url="/last-quarter", occurred_at=ago(days=80))
    assert staff_client.get(TOP_PAGES, {"days": "abc"}).context["days"] == 30
    assert staff_client.get(TOP_PAGES, {"days": "365"}).context["days"] == 30
    paths = [p["path"] for p in staff_client.get(TOP_PAGES).context["pages"]]
    assert paths == ["/last-month"]
    response = staff_client.get(TOP_PAGES, {"days": "90"})
    assert {p["path"] for p in response.context["pages"]} == {"/last-month", "/last-quarter"}


# --- A contact's activity -----------------------------------------------------------------------


@pytest.fixture
def contact_history(db):
    """A contact with one folded visit, one visitor not yet folded, and an email click."""
    contact = ContactFactory(family_name="高橋", given_name="純")
    laptop = VisitorFactory(contact=contact, last_seen_at=ago(days=1), first_seen_at=ago(days=9))
    phone = VisitorFactory(
        contact=contact,
        last_seen_at=ago(minutes=30),
        first_seen_at=ago(days=5),
        browser="Safari",
        os="iOS",
        device_type="mobile",
        language="ja",
        ip="198.51.100.4",
    )
    folded = SessionFactory(visitor=laptop, started_at=ago(days=1, minutes=10))
    for minutes in (10, 9, 8):
        EventFactory(
            visit=folded, url=f"/laptop/{minutes}", occurred_at=ago(days=1, minutes=minutes)
        )
    unfolded = SessionFactory(visitor=phone, contact=None, started_at=ago(minutes=40))
    EventFactory(visit=unfolded, url="/phone/1", occurred_at=ago(minutes=40))
    EventFactory(visit=unfolded, url="/phone/2", occurred_at=ago(minutes=35))
    EventFactory(
        visit=unfolded,
        type=EventType.FORM_SUBMIT,
        url="/contact-us",
        occurred_at=ago(minutes=31),
    )
    EventFactory(contact=contact, type=EventType.EMAIL_CLICK, occurred_at=ago(hours=5))
    EventFactory(visitor=VisitorFactory(), url="/not-theirs")
    return contact, folded, unfolded


def test_the_contact_activity_groups_events_by_visit_including_unfolded_visitors(
    staff_client, contact_history
):
    contact, folded, unfolded = contact_history
    response = staff_client.get(f"/console/contacts/{contact.pk}/activity/")
    visits = response.context["visits"]
    assert [visit.session_id for visit in visits] == [unfolded.pk, "", folded.pk]
    assert [row.event.url for row in visits[0].events] == ["/contact-us", "/phone/2", "/phone/1"]
    assert visits[0].page_views == 2
    assert visits[1].events[0].event.type == EventType.EMAIL_CLICK
    assert len(visits[2].events) == 3
    body = response.content.decode()
    assert "/not-theirs" not in body
    assert f'id="{reports.session_anchor(unfolded.pk)}"' in body


def test_the_contact_summary_reads_all_its_visitors(staff_client, contact_history):
    contact, *_ = contact_history
    summary = staff_client.get(f"/console/contacts/{contact.pk}/activity/").context["summary"]
    assert summary.visits == 2
    assert summary.last_page == "/phone/2"
    assert summary.first_seen_at < ago(days=8)
    assert summary.last_seen_at > ago(minutes=31)
    assert (summary.browser, summary.os, summary.language, summary.ip) == (
        "Safari",
        "iOS",
        "ja",
        "198.51.100.4",
    )
    assert summary.device


def test_htmx_gets_the_summary_alone_for_the_contact_page(staff_client, contact_history):
    contact, *_ = contact_history
    response = staff_client.get(
        f"/console/contacts/{contact.pk}/activity/", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert 'id="tracking-summary"' in body
    assert "<html" not in body
    assert "/phone/2" in body
    assert "/laptop/10" not in body


def test_the_contact_activity_runs_the_same_queries_for_any_number_of_visits(
    staff_client, contact_history, django_assert_num_queries
):
    contact, folded, unfolded = contact_history
    url = f"/console/contacts/{contact.pk}/activity/"
    staff_client.get(url)
    # session + user, contact, visitors, visit count, last page view, events (its own and its
    # visitors' unfolded ones), sessions.
    with django_assert_num_queries(9):
        staff_client.get(url)
    for _ in range(5):
        EventFactory(visit=SessionFactory(visitor=folded.visitor), url="/more")
    with django_assert_num_queries(9):
        response = staff_client.get(url)
    assert len(response.context["visits"]) == 8


def test_a_contact_without_activity_says_so(staff_client):
    contact = ContactFactory()
    response = staff_client.get(f"/console/contacts/{contact.pk}/activity/")
    assert response.context["visits"] == []
    assert not response.context["summary"].has_activity


def test_the_contact_timeline_shows_one_entry_per_visit_and_one_per_other_event(
    staff_client, contact_history
):
    contact, folded, unfolded = contact_history
    EventFactory(contact=contact, type=EventType.EMAIL_OPEN, is_machine=True)
    timeline = staff_client.get(f"/console/contacts/{contact.pk}/").context["timeline"]
    tracking = [entry for entry in timeline if entry.kind in {"visit", "activity"}]
    assert [entry.kind for entry in tracking] == ["activity", "visit", "activity", "visit"]
    whens = [entry.when for entry in tracking]
    assert whens == sorted(whens, reverse=True)
    form, phone_visit, click, laptop_visit = tracking
    assert form.body == "www.example.jp/contact-us"
    assert "2" in phone_visit.title and "3" in laptop_visit.title
    assert phone_visit.url.endswith("#" + reports.session_anchor(unfolded.pk))
    assert click.url == f"/console/contacts/{contact.pk}/activity/"


def test_the_timeline_source_respects_the_limit(contact_history):
    contact, *_ = contact_history
    assert len(tracking_entries(contact, 2)) == 2


# --- Settings -----------------------------------------------------------------------------------


def test_the_settings_page_shows_the_snippet_for_this_server(staff_client):
    body = staff_client.get(SETTINGS).content.decode()
    assert (
        "&lt;script async src=&quot;http://testserver/t/kizuna.js&quot; "
        "data-site=&quot;testserver&quot;&gt;&lt;/script&gt;"
    ) in body
    assert "kizuna(&#x27;identify&#x27;" in body or "kizuna('identify'" in body
    assert '<label for="tracking-snippet"' in body


def test_under_the_after_consent_mode_the_snippet_waits_for_consent(staff_client):
    SiteSettings.objects.update_or_create(
        pk=1, defaults={"tracking_consent_mode": ConsentMode.AFTER_CONSENT}
    )
    body = staff_client.get(SETTINGS).content.decode()
    assert "data-site=&quot;testserver&quot; data-consent=&quot;required&quot;&gt;" in body


def test_the_snippet_shows_the_saved_mode_while_the_form_has_errors(staff_client):
    response = staff_client.post(
        SETTINGS,
        settings_data(tracking_consent_mode=ConsentMode.AFTER_CONSENT, tracking_domains="a b"),
    )
    assert response.status_code == 200
    assert "data-consent" not in response.content.decode()


def test_saving_the_settings_normalises_domains_and_writes_the_audit_log(staff_client, staff):
    response = staff_client.post(
        SETTINGS,
        settings_data(
            tracking_consent_mode=ConsentMode.AFTER_CONSENT,
            tracking_truncate_ip="on",
            anonymous_retention_days="90",
            tracking_domains="Example.CO.JP\n\n ｓｈｏｐ．example.com \nexample.co.jp\nお名前.jp",
        ),
    )
    assert response.status_code == 302
    row = SiteSettings.current()
    assert row.tracking_consent_mode == ConsentMode.AFTER_CONSENT
    assert row.tracking_truncate_ip is True
    assert row.anonymous_retention_days == 90
    assert row.tracking_domain_list == ["example.co.jp", "shop.example.com", "xn--t8jx73hngb.jp"]
    entry = AuditLog.objects.get(object_type="core.sitesettings")
    assert entry.action == AuditAction.UPDATE
    assert entry.actor == staff
    assert entry.changes["anonymous_retention_days"] == [180, 90]
    assert "event_retention_days" not in entry.changes


def test_saving_unchanged_settings_writes_no_audit_entry(staff_client):
    SiteSettings.current()
    assert staff_client.post(SETTINGS, settings_data()).status_code == 302
    assert not AuditLog.objects.filter(object_type="core.sitesettings").exists()


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("https://example.com/shop", "not_a_host"),
        ("example.com:8080", "not_a_host"),
        ("exa mple.com", "invalid_host"),
        ("-example.com", "invalid_host"),
        ("example..com", "invalid_host"),
        ("a" * 64 + ".com", "invalid_host"),
    ],
)
def test_a_line_that_is_not_a_domain_is_refused_with_its_reason(db, line, code):
    form = TrackingSettingsForm(
        settings_data(tracking_domains=f"ok.example.jp\n{line}"), instance=SiteSettings.current()
    )
    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()["tracking_domains"]] == [code]
    assert line.strip() in form.errors["tracking_domains"][0]


def test_a_url_gets_a_hint_with_its_domain(db):
    form = TrackingSettingsForm(settings_data(tracking_domains="https://Shop.Example.com/a?b"))
    assert not form.is_valid()
    assert "shop.example.com" in form.errors["tracking_domains"][0].replace("Shop.Example.com", "")


def test_errors_are_tied_to_their_field_on_the_page(staff_client):
    response = staff_client.post(
        SETTINGS, settings_data(tracking_domains="http://x.jp/", event_retention_days="-1")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_tracking_domains_error"' in body
    assert 'id="id_event_retention_days_error"' in body
    assert 'aria-invalid="true"' in body
    assert SiteSettings.current().tracking_domains == ""


def test_retention_beyond_a_hundred_years_is_refused(db):
    form = TrackingSettingsForm(settings_data(event_retention_days="36501"))
    assert "event_retention_days" in form.errors


# --- Untrusted data -----------------------------------------------------------------------------


def test_addresses_titles_and_properties_from_visitors_are_shown_escaped(staff_client):
    contact = ContactFactory()
    visitor = VisitorFactory(
        contact=contact, last_url=HOSTILE_URL, user_agent=HOSTILE_URL, browser="<b>x</b>"
    )
    visit = SessionFactory(visitor=visitor, landing_url=HOSTILE_URL, referrer=HOSTILE_URL)
    EventFactory(
        visit=visit, url=HOSTILE_URL, referrer=HOSTILE_URL, props={"title": HOSTILE_URL, "x": 1}
    )
    EventFactory(visit=visit, type="<svg onload=alert(1)>", url=HOSTILE_URL)
    pages = [
        VISITORS,
        f"/console/visitors/{visitor.pk}/",
        TOP_PAGES,
        f"/console/contacts/{contact.pk}/activity/",
        f"/console/contacts/{contact.pk}/",
    ]
    for url in pages:
        body = staff_client.get(url).content.decode()
        assert "<script>alert(1)" not in body, url
        assert "<img src=x>" not in body, url
        assert "<svg" not in body, url
        assert "<b>x</b>" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url
