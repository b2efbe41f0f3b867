"""Our own pages are tracked on the server, after the response, without a database write; the
console, static files, health checks, fragments and bots are not; consent mode is respected."""

import pytest

from kizuna.tracking.collector import site_settings
from kizuna.tracking.middleware import CONSENT_COOKIE, VISITOR_COOKIE
from kizuna.tracking.models import Event, Visitor

BOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


def test_a_page_view_sets_the_visitor_cookie_and_reaches_the_database_only_through_the_spool(
    client, db, tracking_spool, django_assert_num_queries
):
    response = client.get("/?utm_source=mail", headers={"Referer": "https://www.google.co.jp/"})
    assert response.status_code == 200
    visitor_id = response.cookies[VISITOR_COOKIE].value
    assert response.cookies[VISITOR_COOKIE]["httponly"]
    assert Event.objects.count() == 0
    tracking_spool().flush()
    event = Event.objects.get()
    assert (event.type, event.url, event.visitor_id) == (
        "page_view",
        "/?utm_source=mail",
        visitor_id,
    )
    assert event.referrer == "https://www.google.co.jp/"
    client.get("/")
    tracking_spool().flush()
    assert Visitor.objects.get().pk == visitor_id and Event.objects.count() == 2


def test_the_page_view_costs_no_query(client, db, django_assert_num_queries):
    client.get("/")  # the session and language are settled
    with django_assert_num_queries(0):
        client.get("/")


@pytest.mark.parametrize(
    "path", ["/console/", "/healthz", "/static/kizuna/kizuna.css", "/t/consent/"]
)
def test_console_static_health_and_tracking_urls_are_not_tracked(
    client, staff, tracking_spool, path
):
    client.force_login(staff)
    client.get(path)
    tracking_spool().flush()
    assert Event.objects.count() == 0


def test_htmx_fragments_and_bots_are_not_tracked(client, db, tracking_spool):
    client.get("/", headers={"HX-Request": "true"})
    client.get("/", headers={"User-Agent": BOT})
    tracking_spool().flush()
    assert Event.objects.count() == 0


def test_in_consent_mode_nothing_is_tracked_and_no_cookie_is_set_before_consent(
    client, db, tracking_spool
):
    site_settings.prime(consent_required=True)
    first = client.get("/")
    assert VISITOR_COOKIE not in first.cookies
    assert "consent-banner" in first.content.decode()
    tracking_spool().flush()
    assert Event.objects.count() == 0

    accepted = client.post("/t/consent/", {"choice": "yes", "next": "/"})
    assert accepted.status_code == 302 and client.cookies[CONSENT_COOKIE].value == "yes"
    page = client.get("/")
    assert VISITOR_COOKIE in page.cookies and "consent-banner" not in page.content.decode()
    tracking_spool().flush()
    assert Event.objects.count() == 1

    withdrawn = client.post("/t/consent/", {"choice": "no", "next": "/"})
    assert withdrawn.cookies[VISITOR_COOKIE].value == ""  # the tracking cookie is deleted
    client.get("/")
    tracking_spool().flush()
    assert Event.objects.count() == 1


def test_the_consent_page_never_redirects_off_site(client, db):
    response = client.post("/t/consent/", {"choice": "yes", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_the_snippet_is_served_small_and_cacheable(client, db):
    response = client.get("/t/kizuna.js")
    body = b"".join(response.streaming_content)
    assert response["Content-Type"].startswith("text/javascript")
    assert len(body) < 6000 and b"sendBeacon" in body and b"identify" in body
    assert "max-age=3600" in response["Cache-Control"]
