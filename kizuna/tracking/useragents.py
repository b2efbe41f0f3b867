"""Browser, operating system, device type and bot flag from a User-Agent header, offline.

ua-parser's bundled rules (with the ua-parser-rs accelerator) do the matching; the hot tracking
path calls this once per hit, so results are cached: a site sees a few thousand distinct agents
a day, and most hits come from the same few hundred.
"""

import functools
import re
from dataclasses import dataclass

from ua_parser import parse

from kizuna.tracking.models import DeviceType, Event

BROWSER_LENGTH = Event._meta.get_field("browser").max_length
OS_LENGTH = Event._meta.get_field("os").max_length

# Agents that say what they are without being in ua-parser's spider list: crawlers, headless
# browsers, command-line tools and HTTP libraries.
BOT_WORDS = re.compile(
    r"bot|crawler|spider|slurp|headless|curl|wget|python-requests|httpclient", re.IGNORECASE
)
# Android tablets leave "Mobile" out of the agent; these say "tablet" in other ways.
TABLET_WORDS = re.compile(r"ipad|tablet|kindle|silk/|playbook", re.IGNORECASE)
MOBILE_WORDS = re.compile(r"mobi|iphone|ipod|android|phone", re.IGNORECASE)
MOBILE_OSES = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}


@dataclass(frozen=True)
class ParsedAgent:
    browser: str  # "Chrome", "Mobile Safari"; "" when unknown
    os: str  # "Windows", "iOS", "Mac OS X"; "" when unknown
    device_type: str  # a DeviceType value
    is_bot: bool


@functools.lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> ParsedAgent:
    """What a User-Agent header says about the browser; values fit Event's and Visitor's fields."""
    ua = ua or ""
    result = parse(ua)
    browser = _family(result.user_agent)
    os_family = _family(result.os)
    device = result.device
    is_bot = (device is not None and device.family == "Spider") or bool(BOT_WORDS.search(ua))
    return ParsedAgent(
        browser=browser[:BROWSER_LENGTH],
        os=os_family[:OS_LENGTH],
        device_type=_device_type(ua, os_family, device, is_bot),
        is_bot=is_bot,
    )


def _family(part) -> str:
    family = part.family if part is not None else ""
    return "" if family in ("Other", None) else family


def _device_type(ua: str, os_family: str, device, is_bot: bool) -> str:
    if is_bot or not ua:
        return DeviceType.OTHER.value
    device_family = device.family if device is not None else ""
    brand = (device.brand or "") if device is not None else ""
    if (
        device_family == "iPad"
        or "tablet" in brand.lower()
        or TABLET_WORDS.search(ua)
        or (os_family == "Android" and "mobile" not in ua.lower())
    ):
        return DeviceType.TABLET.value
    if os_family in MOBILE_OSES or device_family in ("iPhone", "iPod") or MOBILE_WORDS.search(ua):
        return DeviceType.MOBILE.value
    if os_family:
        return DeviceType.DESKTOP.value
    return DeviceType.OTHER.value
