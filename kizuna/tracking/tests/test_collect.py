"""POST /t/collect and GET /t/p.gif: every field validated, refused batches keep nothing, accepted
events land on the visitor (and later the contact) once the spool is flushed."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.crm.models import Lifecycle
from kizuna.crm.tests.factories import ContactFactory
from kizuna.tracking.collector import TrackingCollector, rate_limiter, site_settings
from kizuna.tracking.models import Event, Session, Visitor

VISITOR = "0123456789abcdef0123456789abcdef"
SHOP = "https://shop.example.co.jp"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(autouse=True)
def allowed_shop(db):
    site_settings.prime(domains=("example.co.jp",))
    rate_limiter._counts.clear()


def post(client, payload, origin=SHOP, **headers):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.generic(
        "POST",
        "/t/collect",
        body,
        content_type="text/plain",
        headers={"Origin": origin, "User-Agent": IPHONE, **headers},
    )


def page_view(url=f"{SHOP}/products/a?utm_source=mail", **extra):
    return {"type": "page_view", "url": url, "title": "製品A", "lang": "ja-JP", **extra}


def test_an_accepted_batch_lands_on_the_visitor_once_the_spool_is_flushed(client, tracking_spool):
    response = post(client, {"v": VISITOR, "events": [page_view(), page_view(f"{SHOP}/pricing")]})
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert Event.objects.count() == 0  # nothing written on the request path
    tracking_spool().flush()
    first, second = Event.objects.order_by("id")
    assert (first.type, first.host, first.url) == (
        "page_view",
        "shop.example.co.jp",
        "/products/a?utm_source=mail",
    )
    assert first.props == {"title": "製品A"} and second.url == "/pricing"
    assert (first.browser, first.os, first.device_type) == ("Mobile Safari", "iOS", "mobile")
    visitor = Visitor.objects.get()
    assert visitor.pk == VISITOR and visitor.sessions == 1 and visitor.language == "ja-JP"
    assert visitor.last_url == "//shop.example.co.jp/pricing"
    assert first.session == second.session == visitor.current_session
    assert Session.objects.get().events == 2


def test_a_subdomain_of_an_allowed_domain_may_send_and_others_may_not(client, tracking_spool):
    assert post(client, {"v": VISITOR, "events": [page_view()]}).status_code == 204
    for origin in ("https://evil.example.com", "https://example.co.jp.evil.com", "null", ""):
        response = post(client, {"v": VISITOR, "events": [page_view()]}, origin=origin)
        assert response.status_code == 403, origin
    tracking_spool().flush()
    assert Event.objects.count() == 1


def test_the_preflight_is_answered_for_allowed_origins(client):
    response = client.options("/t/collect", headers={"Origin": SHOP})
    assert response.status_code == 204 and response["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"not json", 400),
        (b"[]", 400),
        ({"events": [page_view()]}, 400),  # no visitor
        ({"v": "short", "events": [page_view()]}, 400),
        ({"v": VISITOR, "events": []}, 400),
        ({"v": VISITOR, "events": [page_view()] * 51}, 413),
        ({"v": VISITOR, "events": [page_view(url="javascript:alert(1)")]}, 400),
        ({"v": VISITOR, "events": [page_view(url=SHOP + "/" + "a" * 2100)]}, 400),
        ({"v": VISITOR, "events": [page_view(title="t" * 501)]}, 400),
        ({"v": VISITOR, "events": [page_view(props={"k": "v" * 501})]}, 400),
        ({"v": VISITOR, "events": [page_view(props={"bad key!": 1})]}, 400),
        ({"v": VISITOR, "events": [page_view(props={"nested": {"a": 1}})]}, 400),
        ({"v": VISITOR, "events": [page_view(unknown=1)]}, 400),
        ({"v": VISITOR, "events": [{"type": "form_submit", "url": SHOP}]}, 403),
        ({"v": VISITOR, "events": [{"type": "identify", "email": "not-an-email"}]}, 400),
        ({"v": VISITOR, "events": [page_view(), page_view(lang="<script>")]}, 400),
        (
            b'{"v": "' + VISITOR.encode() + b'", "events": [{"type": "x", "props": {"n": NaN}}]}',
            400,
        ),
    ],
)
def test_bad_batches_are_refused_whole_and_nothing_is_kept(client, tracking_spool, payload, status):
    response = post(client, payload)
    assert response.status_code == status
    assert "error" in response.json()
    tracking_spool().flush()
    assert Event.objects.count() == 0 and Visitor.objects.count() == 0


def test_a_huge_body_is_refused_before_it_is_parsed(client, tracking_spool):
    response = post(client, b"x" * (70 * 1024))
    assert response.status_code == 413


def test_the_collector_rate_limits_per_ip(client, settings):
    settings.KIZUNA_COLLECT_LIMIT_PER_MINUTE = 3
    answers = [post(client, {"v": VISITOR, "events": [page_view()]}).status_code for _ in range(5)]
    assert answers == [204, 204, 204, 429, 429]


def test_a_retried_batch_with_event_ids_is_stored_once(client, tracking_spool):
    batch = {"v": VISITOR, "events": [page_view(id="evt-00000001")]}
    post(client, batch)
    post(client, batch)
    tracking_spool().flush()
    assert Event.objects.count() == 1


def test_known_bots_are_not_tracked(client, tracking_spool):
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert post(client, {"v": VISITOR, "events": [page_view()]}, **{"User-Agent": bot})
    tracking_spool().flush()
    assert Event.objects.count() == 0


def test_under_consent_mode_a_batch_without_consent_keeps_nothing(client, tracking_spool):
    site_settings.prime(domains=("example.co.jp",), consent_required=True)
    assert post(client, {"v": VISITOR, "events": [page_view()]}).status_code == 204
    assert post(client, {"v": VISITOR, "consent": False, "events": [page_view()]})
    tracking_spool().flush()
    assert Event.objects.count() == 0
    post(client, {"v": VISITOR, "consent": True, "events": [page_view()]})
    tracking_spool().flush()
    assert Event.objects.count() == 1


def test_identify_joins_the_visitor_to_the_contact_with_its_earlier_events(
    client, tracking_spool, django_capture_on_commit_callbacks, settings
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    contact = ContactFactory(email="hanako@example.jp")
    post(client, {"v": VISITOR, "events": [page_view(), page_view(f"{SHOP}/pricing")]})
    tracking_spool().flush()
    post(client, {"v": VISITOR, "events": [{"type": "identify", "email": "HANAKO@example.jp"}]})
    with django_capture_on_commit_callbacks(execute=True):
        tracking_spool().flush()
    assert Visitor.objects.get().contact == contact
    assert Event.objects.filter(contact=contact).count() == 3  # folded: both views and identify
    contact.refresh_from_db()
    assert contact.sessions == 1 and contact.first_seen_at and contact.last_seen_at


def test_identify_of_an_unknown_email_creates_a_contact_known_only_as_a_visitor(
    client, tracking_spool
):
    post(client, {"v": VISITOR, "events": [{"type": "identify", "email": "new@example.jp"}]})
    tracking_spool().flush()
    contact = Visitor.objects.get().contact
    assert (contact.email, contact.lifecycle) == ("new@example.jp", Lifecycle.VISITOR)


def test_the_pixel_records_a_page_view_of_an_allowed_site_and_always_answers_a_gif(
    client, tracking_spool
):
    good = client.get("/t/p.gif", {"v": VISITOR, "u": f"{SHOP}/noscript"})
    bad = client.get("/t/p.gif", {"v": VISITOR, "u": "https://elsewhere.test/"})
    garbage = client.get("/t/p.gif?v=%ff&u=%00")
    assert {r.status_code for r in (good, bad, garbage)} == {200}
    assert good["Content-Type"] == "image/gif"
    tracking_spool().flush()
    assert list(Event.objects.values_list("url", flat=True)) == ["/noscript"]


def test_the_wsgi_collector_answers_before_django(tracking_spool):
    calls = []

    def django_app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"django"]

    app = TrackingCollector(django_app)
    body = json.dumps({"v": VISITOR, "events": [page_view()]}).encode()
    answers = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/t/collect",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_ORIGIN": SHOP,
        "HTTP_HOST": "kizuna.example.jp",
        "REMOTE_ADDR": "198.51.100.4",
        "wsgi.input": __import__("io").BytesIO(body),
    }
    app(environ, lambda status, headers: answers.append(status))
    app({"PATH_INFO": "/other/", "REQUEST_METHOD": "GET"}, lambda *a: None)
    assert answers == ["204 No Content"] and calls == ["/other/"]
    tracking_spool().flush()
    assert Event.objects.get().ip == "198.51.100.4"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries(
            {"v": st.just(VISITOR), "events": st.lists(json_values, max_size=3)}
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_garbage_never_gets_a_500(client, tracking_spool, body):
    response = post(client, body)
    assert 200 <= response.status_code < 500
    tracking_spool().flush()  # whatever was accepted is storable
