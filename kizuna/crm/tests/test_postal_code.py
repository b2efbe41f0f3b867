"""The public postal-code lookup and the script that fills addresses from it."""

import os
from pathlib import Path

import pytest
from django.conf import settings

import kizuna.crm
from kizuna.accounts.tests.factories import PASSWORD


def test_a_known_code_gives_prefecture_city_and_town(client, db):
    response = client.get("/postal-codes/1500002.json")
    assert response.status_code == 200
    assert response.json() == {
        "postal_code": "150-0002",
        "prefecture": "東京都",
        "city": "渋谷区",
        "town": "渋谷",
    }


@pytest.mark.parametrize("typed", ["150-0002", "１５００００２", "〒150-0002"])
def test_the_code_may_be_typed_with_a_hyphen_or_in_full_width(client, db, typed):
    response = client.get(f"/postal-codes/{typed}.json")
    assert response.status_code == 200
    assert response.json()["city"] == "渋谷区"


def test_a_code_without_a_town_gives_an_empty_town(client, db):
    assert client.get("/postal-codes/0600000.json").json()["town"] == ""


@pytest.mark.parametrize("code", ["9999999", "123", "abcdefg", "12345678"])
def test_an_unknown_or_malformed_code_is_a_404_in_json(client, db, code):
    response = client.get(f"/postal-codes/{code}.json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "error" in response.json()


def test_anyone_may_look_up_a_code_and_browsers_may_cache_it(client, db):
    response = client.get("/postal-codes/1000001.json")
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    assert "max-age=86400" in response["Cache-Control"]


def test_only_get_is_allowed(client, db):
    assert client.post("/postal-codes/1000001.json").status_code == 405


def test_the_contact_form_marks_its_address_fields_for_the_script(staff_client):
    body = staff_client.get("/console/contacts/new/").content.decode()
    assert 'data-postal-code="/postal-codes/{code}.json"' in body
    for name in ("prefecture", "city", "address"):
        assert f'data-postal-fill="{name}"' in body
    assert "crm/postal-code.js" in body


def test_the_script_has_no_dependencies_and_nothing_the_csp_forbids():
    script = (Path(kizuna.crm.__file__).parent / "static/crm/postal-code.js").read_text()
    for forbidden in ("eval(", "new Function", "innerHTML", "import ", "require("):
        assert forbidden not in script
    assert "data-postal-code" in script and "data-postal-fill" in script
    assert "'unsafe-eval'" not in str(settings.SECURE_CSP.get("script-src"))


# --- In a real browser --------------------------------------------------------------------------


@pytest.fixture
def browser_page(chromium_path, live_server):
    """A Japanese Chromium page on the live server, and the problems it reports (CSP included)."""
    from playwright.sync_api import sync_playwright

    problems = []
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an event loop in this thread; the ORM calls are still sync.
        patch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(locale="ja-JP", base_url=live_server.url)
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

            def on_console(message):
                # The site has no icon yet: Chromium's own request for /favicon.ico gets a 404.
                if message.location.get("url", "").endswith("/favicon.ico"):
                    return
                if message.type in {"error", "warning"}:
                    problems.append(message.text)

            page.on("console", on_console)
            yield page, problems
            browser.close()


@pytest.mark.browser
def test_typing_a_postal_code_fills_the_address_in_the_browser(browser_page, staff):
    from playwright.sync_api import expect

    page, problems = browser_page
    page.goto("/accounts/login/?next=/console/contacts/new/")
    page.get_by_label("メールアドレス").fill(staff.email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="ログイン").click()
    page.wait_for_url("/console/contacts/new/")
    page.locator("#id_postal_code").press_sequentially("１５０００02")
    expect(page.locator("#id_prefecture")).to_have_value("東京都")
    expect(page.locator("#id_city")).to_have_value("渋谷区")
    expect(page.locator("#id_address")).to_have_value("渋谷")
    # What someone typed in the address is never overwritten.
    page.locator("#id_address").fill("渋谷1-2-3 きずなビル")
    page.locator("#id_postal_code").fill("1000001")
    page.locator("#id_postal_code").dispatch_event("input")
    expect(page.locator("#id_city")).to_have_value("千代田区")
    expect(page.locator("#id_address")).to_have_value("渋谷1-2-3 きずなビル")
    page.wait_for_load_state("networkidle")
    assert problems == []
