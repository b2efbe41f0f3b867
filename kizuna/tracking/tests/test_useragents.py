"""User agents: browser, OS, device type and bots from real User-Agent headers, offline."""

import pytest

from kizuna.tracking.useragents import ParsedAgent, parse_user_agent

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (IPHONE_SAFARI, ParsedAgent("Mobile Safari", "iOS", "mobile", False)),
        (ANDROID_CHROME, ParsedAgent("Chrome Mobile", "Android", "mobile", False)),
        (IPAD, ParsedAgent("Mobile Safari", "iOS", "tablet", False)),
        (ANDROID_TABLET, ParsedAgent("Chrome", "Android", "tablet", False)),
        (WINDOWS_CHROME, ParsedAgent("Chrome", "Windows", "desktop", False)),
        (MAC_SAFARI, ParsedAgent("Safari", "Mac OS X", "desktop", False)),
    ],
)
def test_browsers_are_named_with_their_system_and_device(ua, expected):
    assert parse_user_agent(ua) == expected


@pytest.mark.parametrize(
    "ua",
    [
        GOOGLEBOT,
        BINGBOT,
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Apache-HttpClient/4.5.14 (Java/17.0.9)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        HEADLESS_CHROME,
        "SomeCompanyCrawler/1.0",
    ],
)
def test_crawlers_tools_and_headless_browsers_are_bots(ua):
    parsed = parse_user_agent(ua)
    assert parsed.is_bot
    assert parsed.device_type == "other"


def test_the_googlebot_is_named():
    assert parse_user_agent(GOOGLEBOT).browser == "Googlebot"


@pytest.mark.parametrize("ua", [IPHONE_SAFARI, ANDROID_CHROME, IPAD, WINDOWS_CHROME, MAC_SAFARI])
def test_people_are_not_bots(ua):
    assert parse_user_agent(ua).is_bot is False


def test_an_empty_or_unknown_agent_is_other_with_no_names():
    assert parse_user_agent("") == ParsedAgent("", "", "other", False)
    assert parse_user_agent("???") == ParsedAgent("", "", "other", False)


def test_values_fit_the_model_fields():
    parsed = parse_user_agent("Mozilla/5.0 (X11; " + "L" * 300 + ") Gecko/20100101 " + "F" * 300)
    assert len(parsed.browser) <= 60 and len(parsed.os) <= 60


def test_results_are_cached_for_the_hot_path():
    parse_user_agent.cache_clear()
    parse_user_agent(WINDOWS_CHROME)
    parse_user_agent(WINDOWS_CHROME)
    info = parse_user_agent.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 1, 4096)


def test_the_result_is_immutable():
    parsed = parse_user_agent(WINDOWS_CHROME)
    with pytest.raises(AttributeError):
        parsed.browser = "Firefox"
