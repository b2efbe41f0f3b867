"""Fixtures shared by every app's tests: the cast of users and access to outside services.

Services (Redis, Chromium) are optional on a developer's machine: their tests skip with a one-line
reason. Under CI=true nothing may skip for want of a service, so the same fixtures fail instead.
"""

import os
import shutil
import socket

import pytest

from kizuna.accounts.tests.factories import UserFactory

IN_CI = os.environ.get("CI", "").lower() == "true"


def service_missing(reason: str):
    """Skip on a developer's machine, fail under CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test may not skip)", pytrace=False)
    pytest.skip(reason)


def _listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Rate-limit counters live in the cache: every test starts with none."""
    from django.core.cache import cache

    from kizuna.core.models import SiteSettings

    cache.clear()
    SiteSettings.prime_cached()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def tracking_spool(settings, tmp_path):
    """Each test gets its own tracking spool and no writer thread (tests flush it themselves),
    and the tracking settings at their defaults without reading the settings row."""
    from kizuna.tracking.collector import site_settings
    from kizuna.tracking.spool import get_spool, reset_spool

    settings.KIZUNA_TRACKING_SPOOL_DIR = tmp_path / "spool"
    settings.KIZUNA_TRACKING_WRITER = "off"
    reset_spool()
    site_settings.prime()
    yield get_spool
    reset_spool()
    site_settings.forget()


@pytest.fixture
def staff(db):
    """The owner of the data in access-rule tests: an active staff user."""
    return UserFactory(staff=True, email="staff@kizuna.test", name="スタッフ 一郎")


@pytest.fixture
def colleague(db):
    return UserFactory(staff=True, email="colleague@kizuna.test", name="同僚 二郎")


@pytest.fixture
def member(db):
    return UserFactory(email="member@kizuna.test", name="会員 花子")


@pytest.fixture
def stranger(db):
    return UserFactory(email="stranger@kizuna.test", name="他人 三郎")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def redis_url():
    url = os.environ.get("KIZUNA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if not _listens("127.0.0.1", 6379) and "127.0.0.1:6379" in url:
        service_missing("Redis is not running on 127.0.0.1:6379")
    return url


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("KIZUNA_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.exists(path) or shutil.which(path)):
        service_missing(f"Chromium not found at {path} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        service_missing("Playwright for Python is not installed")
    return path


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(chromium_path):
    """One headless Chromium for the module; each test gets a fresh context (no cookies).

    The sync Playwright API keeps an asyncio event loop running in this thread, which makes
    Django refuse ORM calls from the test (and pytest-django's database teardown) as if they came
    from async code. They are plain sync calls, so the guard is lifted for these tests only.
    """
    from playwright.sync_api import sync_playwright  # optional: chromium_path checked it

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()


@pytest.fixture
def problems():
    """What went wrong in the page: console errors and warnings, script errors, HTTP errors."""
    return []


@pytest.fixture
def page(browser, live_server, problems):
    """Browser tests: a page in a Japanese browser (Accept-Language: ja), recording its problems."""
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()

    def on_console(message):
        if message.type in {"error", "warning"}:
            problems.append(f"console {message.type}: {message.text} ({message.location['url']})")

    def on_response(response):
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", on_response)
    yield page
    context.close()
