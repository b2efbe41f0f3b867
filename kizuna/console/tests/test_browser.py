"""The site and the console in a real browser: Debian's Chromium driven by Playwright.

These tests need /usr/bin/chromium (the `chromium_path` fixture skips without it on a laptop and
fails under CI=true). Run them with `make test PYTEST_ARGS='-m browser'`.
"""

import io

import pytest
from django.core.management import call_command
from django.utils import translation

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # without it, the chromium_path fixture skips (fails under CI) with the reason
    expect = sync_playwright = None

from kizuna.accounts.demo import DEMO_PASSWORD, DEMO_STAFF
from kizuna.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.browser
DEMO_ADMIN_EMAIL = DEMO_STAFF[0][0]


def log_in_to_the_console(page, email, password):
    """The Japanese log-in form, reached as an anonymous visitor to the console."""
    page.goto("/accounts/login/?next=/console/")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(password)
    page.locator("main").get_by_role("button", name="ログイン").click()
    page.wait_for_url("/console/")


def posts_to_setlang(response):
    return response.request.method == "POST" and response.url.endswith("/i18n/setlang/")


def test_a_visitor_switches_language_and_staff_log_in_and_out_of_the_console(page, problems):
    call_command("demo", force=True, stdout=io.StringIO())
    header = page.locator("header.site-header")

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(header.get_by_role("link", name="ログイン")).to_be_visible()

    with page.expect_response(posts_to_setlang):
        header.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(header.get_by_role("link", name="Log in")).to_be_visible()
    expect(header.get_by_role("link", name="ログイン")).to_have_count(0)

    with page.expect_response(posts_to_setlang):
        header.get_by_role("button", name="日本語").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(header.get_by_role("link", name="ログイン")).to_be_visible()

    log_in_to_the_console(page, DEMO_ADMIN_EMAIL, DEMO_PASSWORD)
    with translation.override("ja"):
        dashboard = translation.gettext("Dashboard")
    expect(page.locator("main h1")).to_have_text(dashboard)
    expect(page.locator("html")).to_have_attribute("lang", "ja")

    page.locator("header").get_by_role("button", name="ログアウト").click()
    page.wait_for_url("/")
    expect(header.get_by_role("link", name="ログイン")).to_be_visible()
    expect(header.get_by_role("button", name="ログアウト")).to_have_count(0)
    assert problems == []


def test_the_home_page_and_the_console_run_without_policy_violations_or_errors(
    page, problems, staff
):
    page.goto("/")
    # The stylesheet applied (it moves the skip link off screen) and htmx ran.
    skip_link_position = page.locator(".skip-link").evaluate("a => getComputedStyle(a).position")
    assert skip_link_position == "absolute"
    assert page.evaluate("typeof window.htmx") == "object"

    log_in_to_the_console(page, staff.email, PASSWORD)
    sidebar_colour = page.locator(".console-sidebar").evaluate("e => getComputedStyle(e).color")
    assert sidebar_colour == "rgb(233, 236, 241)"
    assert page.evaluate("typeof window.htmx") == "object"

    assert [p for p in problems if "Content Security Policy" in p] == []
    assert problems == []


def test_the_skip_link_comes_first_and_log_in_fields_have_labels(page, problems):
    page.goto("/")
    page.keyboard.press("Tab")
    skip_link = page.locator(":focus")
    expect(skip_link).to_have_class("skip-link")
    expect(skip_link).to_have_attribute("href", "#main")
    expect(skip_link).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    page.goto("/accounts/login/")
    expect(page.get_by_label("メールアドレス")).to_have_attribute("type", "email")
    expect(page.get_by_label("パスワード")).to_have_attribute("type", "password")
    expect(page.get_by_label("ログインしたままにする")).to_have_attribute("type", "checkbox")

    page.locator("header").get_by_role("button", name="English").click()
    expect(page.get_by_label("Email")).to_have_attribute("type", "email")
    expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    assert problems == []
