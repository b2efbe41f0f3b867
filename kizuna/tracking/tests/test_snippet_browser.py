"""The tracking snippet in a real browser (Debian's Chromium): a page on another site of the
company sends its page view and `identify`, and under data-consent="required" sends nothing
until the visitor consents."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kizuna.core.models import SiteSettings
from kizuna.crm.tests.factories import ContactFactory
from kizuna.tracking.collector import site_settings
from kizuna.tracking.models import Event, Visitor

pytestmark = pytest.mark.browser
PERSON = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


class ShopPage(BaseHTTPRequestHandler):
    """Another site of the company: every path is a page embedding our snippet."""

    html = ""

    def do_GET(self):  # noqa: N802 - the http.server API
        body = self.html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def shop_page(browser, live_server, transactional_db):
    """A real page of "another site" (its own server on 127.0.0.1, another port and host than
    Kizuna's localhost) embedding our snippet."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), ShopPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shop = f"http://127.0.0.1:{server.server_port}"
    SiteSettings.objects.update_or_create(pk=1, defaults={"tracking_domains": "127.0.0.1"})
    site_settings.forget()
    # Headless Chromium says "HeadlessChrome", which is taken for a bot: look like a person.
    context = browser.new_context(locale="ja-JP", user_agent=PERSON)
    context.set_default_timeout(10_000)
    page = context.new_page()

    def open_shop(path: str, snippet_attributes: str = "") -> None:
        ShopPage.html = f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">
            <title>製品A | ショップ</title>
            <script async src="{live_server.url}/t/kizuna.js" {snippet_attributes}></script>
            </head><body>
            <button id="identify"
              onclick="kizuna('identify', 'hanako@example.jp')">ログイン</button>
            <button id="consent" onclick="kizuna('consent', true)">同意する</button>
            </body></html>"""
        page.goto(shop + path)

    yield page, open_shop
    context.close()
    server.shutdown()
    server.server_close()


def collected(page):
    return page.expect_response(lambda response: response.url.endswith("/t/collect"))


def test_another_sites_page_view_and_identify_reach_the_contact(shop_page, tracking_spool):
    page, open_shop = shop_page
    contact = ContactFactory(email="hanako@example.jp")
    with collected(page) as first:
        open_shop("/products/a?utm_source=mail")
    assert first.value.status == 204
    with collected(page) as second:
        page.click("#identify")
    assert second.value.status == 204
    tracking_spool().flush()

    view = Event.objects.get(type="page_view")
    assert (view.host, view.url) == ("127.0.0.1", "/products/a?utm_source=mail")
    assert view.props["title"] == "製品A | ショップ" and view.browser
    assert Visitor.objects.get().contact == contact
    assert Event.objects.of_contact(contact).count() == 2


def test_with_consent_required_nothing_is_sent_before_consent(shop_page, tracking_spool):
    page, open_shop = shop_page
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_shop("/pricing", 'data-consent="required"')
    page.wait_for_timeout(1500)
    assert not [url for url in requests if url.endswith("/t/collect")]
    assert page.evaluate("window.localStorage.getItem('kizuna_vid')") is None
    with collected(page) as answer:
        page.click("#consent")
    assert answer.value.status == 204
    tracking_spool().flush()
    assert list(Event.objects.values_list("url", flat=True)) == ["/pricing"]
