"""Ninety days of the demo company's web site: the demo contacts' visits (their history already
folded onto them) and about two hundred anonymous visitors, as a Japanese home-appliance maker's
site sees them - product pages, pricing, case studies, FAQ, news, campaign mails with UTM
parameters, search engines, phones more than PCs - with inquiry and catalog forms, downloads and
member logins.

Consistent the way the collector keeps it: events of one visit are less than 30 minutes apart and
visits of one browser more than 30 minutes apart; each Session row spans its events; visitors'
and contacts' first / last seen and visit counts are those of their sessions.

Deterministic (only the `rng` decides; dates are relative to today) and idempotent: when there
are visitors already, nothing is added. Demo events have the keys demo:0, demo:1, … (oldest first).
"""

import datetime
import random
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.core.demo import DEMO_SEED, demo_loader
from kizuna.crm.models import Contact, Lifecycle
from kizuna.tracking.models import SESSION_GAP_SECONDS, Event, EventType, Session, Visitor
from kizuna.tracking.useragents import parse_user_agent

DAYS = 90
ANONYMOUS_VISITORS = 200
CRAWLERS = 2
ACTIVE_CONTACTS = 0.75  # share of the demo contacts who visit the site
HOST = "www.kizuna-shoji.example.co.jp"
SITE = f"https://{HOST}"
CHUNK = 2000

PRODUCTS = [
    ("fridge", "冷蔵庫"),
    ("washer", "洗濯機"),
    ("tv", "テレビ"),
    ("aircon", "エアコン"),
]
SUFFIX = "｜キズナ商事"
# (path, title): the pages a visit wanders through after landing.
PAGES = [
    ("/", "家電の法人・個人向け販売"),
    ("/pricing/", "料金プラン"),
    ("/company/", "会社概要"),
    ("/case-studies/", "導入事例"),
    ("/case-studies/hotel-aoba/", "導入事例：ホテル青葉様（エアコン120台）"),
    ("/case-studies/hikari-clinic/", "導入事例：ひかりクリニック様（業務用冷蔵庫）"),
    ("/case-studies/fuji-seisakusho/", "導入事例：富士製作所様（社員寮の洗濯機）"),
    ("/faq/", "よくある質問"),
    ("/faq/delivery/", "配送・設置について"),
    ("/faq/warranty/", "保証・修理について"),
    ("/faq/payment/", "お支払い方法について"),
    ("/faq/energy-saving/", "省エネ性能と電気代の目安"),
    ("/news/", "お知らせ"),
    ("/news/2026/new-aircon-series/", "省エネエアコン新シリーズ発売のお知らせ"),
    ("/news/2026/year-end-holidays/", "年末年始の営業日について"),
    ("/news/2026/seminar-energy/", "省エネ家電活用セミナー開催のお知らせ"),
    ("/contact/", "お問い合わせ"),
    ("/catalog/", "カタログ請求"),
]
PRODUCT_PAGES = [
    page
    for key, name in PRODUCTS
    for page in (
        (f"/products/{key}/", f"{name}｜製品情報"),
        (f"/products/{key}/spec/", f"{name}の仕様・寸法"),
        (f"/products/{key}/lineup/", f"{name}のラインアップ"),
    )
]
CAMPAIGNS = ["autumn-sale-2026", "newsletter-2026-10", "newsletter-2026-11", "aircon-campaign"]
# (referrer, weight) of a visit's first page; "" is a bookmark or a typed address.
REFERRERS = [
    ("https://www.google.com/", 40),
    ("https://search.yahoo.co.jp/", 22),
    ("", 28),
    ("https://www.bing.com/", 5),
    ("https://www.facebook.com/", 3),
    ("https://t.co/", 2),
]
LANDINGS = ["/", "/", "/pricing/", "/case-studies/", "/faq/", "/news/"]
# (User-Agent, weight): phones first, as a Japanese consumer site sees it.
AGENTS = [
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
        30,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
        8,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SO-51E) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36",
        10,
    ),
    (
        "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36",
        8,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SC-52E) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36",
        6,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36",
        20,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0",
        7,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.6 Safari/605.1.15",
        6,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36",
        3,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
        2,
    ),
]
CRAWLER_AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
]
# Local hour a visit starts, weighted: lunch break, after work and evenings at home.
HOURS = [
    (7, 2), (8, 4), (9, 6), (10, 7), (11, 7), (12, 10), (13, 7), (14, 6), (15, 6), (16, 6),
    (17, 6), (18, 7), (19, 8), (20, 9), (21, 9), (22, 6), (23, 3),
]  # fmt: skip
FILES = [
    ("catalog-2026-autumn.pdf", "総合カタログ 2026年秋号"),
    ("aircon-energy-guide.pdf", "エアコン省エネガイド"),
    ("business-price-list.pdf", "法人向け価格表"),
]


@dataclass
class Built:
    visitors: list[Visitor] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def load_tracking_demo(rng_seed: int = DEMO_SEED) -> list[str]:
    """Load the tracking demo on its own (the demo command runs `load` through @demo_loader)."""
    return list(load(random.Random(rng_seed)))  # noqa: S311 - demo data, not secrets


@demo_loader
def load(rng: random.Random):
    if Visitor.objects.exists():  # loaded before, or a site with its own visitors: add nothing
        yield _("Tracking: already loaded")
        return
    # Every visit ends before today began (local time): the demo never lies in the future, and
    # two loads on the same day are identical.
    end = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time()))
    start = end - datetime.timedelta(days=DAYS)
    built = Built()
    contacts = list(Contact.objects.order_by("pk"))
    for contact in contacts:
        if rng.random() < ACTIVE_CONTACTS:
            for _device in range(rng.choice([1, 1, 1, 1, 2])):
                _visitor(rng, built, start, end, contact)
    for _number in range(ANONYMOUS_VISITORS):
        _visitor(rng, built, start, end, None)
    for number in range(CRAWLERS):
        _visitor(rng, built, start, end, None, agent=CRAWLER_AGENTS[number % len(CRAWLER_AGENTS)])
    for number, event in enumerate(sorted(built.events, key=lambda event: event.occurred_at)):
        event.event_id = f"demo:{number}"
    with transaction.atomic():
        Visitor.objects.bulk_create(built.visitors, batch_size=CHUNK)
        Session.objects.bulk_create(built.sessions, batch_size=CHUNK)
        Event.objects.bulk_create(built.events, batch_size=CHUNK)
        _update_contacts(contacts, built.visitors)
    anonymous = sum(1 for visitor in built.visitors if visitor.contact_id is None)
    yield _(
        "Tracking: %(visitors)d visitors (%(anonymous)d anonymous), %(sessions)d visits, "
        "%(events)d events"
    ) % {
        "visitors": len(built.visitors),
        "anonymous": anonymous,
        "sessions": len(built.sessions),
        "events": len(built.events),
    }


def _visitor(rng, built: Built, start, end, contact: Contact | None, agent: str = "") -> None:
    crawler = bool(agent)
    agent = agent or _weighted(rng, AGENTS)
    parsed = parse_user_agent(agent)
    visitor = Visitor(
        id=f"{rng.getrandbits(128):032x}",  # the collector's cookie ids are uuid4 hex
        contact=contact,
        user_agent=agent,
        browser=parsed.browser,
        os=parsed.os,
        device_type=parsed.device_type,
        language="" if crawler else "ja",
        ip=_ip(rng, crawler),
        country="US" if crawler else "JP",
    )
    if crawler:
        visits = rng.randrange(8, 15)
    elif contact is not None:
        visits = rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 8])
    else:
        visits = rng.choice([1, 1, 1, 1, 2, 2, 3, 4])
    starts = sorted(_moment(rng, start, end, crawler) for _ in range(visits))
    plans = _plans(rng, contact, visits, crawler)
    sessions: list[Session] = []
    previous_end = None
    for began, plan in zip(starts, plans, strict=True):
        if previous_end is not None:
            # More than 30 minutes after the last visit, or it would be the same visit.
            earliest = previous_end + datetime.timedelta(
                seconds=SESSION_GAP_SECONDS + rng.randrange(60, 6 * 3600)
            )
            began = max(began, earliest)
        session, events = _session(rng, visitor, began, plan, crawler)
        if session.last_seen_at >= end:
            break
        sessions.append(session)
        built.events.extend(events)
        previous_end = session.last_seen_at
    if not sessions:  # every visit fell after today began: move the one visit back a day
        session, events = _session(
            rng, visitor, starts[0] - datetime.timedelta(days=1), [], crawler
        )
        sessions.append(session)
        built.events.extend(events)
    visitor.first_seen_at = sessions[0].started_at
    visitor.last_seen_at = sessions[-1].last_seen_at
    visitor.sessions = len(sessions)
    visitor.current_session = sessions[-1].id
    visitor.last_url = f"//{HOST}{built.events[-1].url}"
    if contact is not None:
        visitor.identified_at = visitor.first_seen_at
    built.visitors.append(visitor)
    built.sessions.extend(sessions)


def _plans(rng, contact, visits: int, crawler: bool) -> list[list[str]]:
    """What each visit does besides reading pages: "login", "form", "download", "mail"."""
    plans: list[list[str]] = [[] for _ in range(visits)]
    if crawler:
        return plans
    for plan in plans:
        if rng.random() < 0.08:
            plan.append("download")
        if contact is not None and rng.random() < 0.25:
            plan.append("mail")
    if contact is not None:
        if contact.lifecycle == Lifecycle.MEMBER:
            for plan in plans:
                if rng.random() < 0.5:
                    plan.append("login")
        elif rng.random() < 0.6:
            rng.choice(plans).append("form")
    return plans


def _session(rng, visitor: Visitor, began, plan: list[str], crawler: bool):
    interests = _interests(rng, visitor.contact)
    referrer = "" if "mail" in plan else _weighted(rng, REFERRERS)
    pages = _pages(rng, interests, plan, crawler)
    if "mail" in plan:
        product = interests[0]
        query = urlencode(
            {"utm_source": "mail", "utm_medium": "email", "utm_campaign": rng.choice(CAMPAIGNS)}
        )
        pages[0] = (f"/products/{product[0]}/?{query}", f"{product[1]}｜製品情報")
    session_id = f"{visitor.id}.{int(began.timestamp()):x}"  # as the collector names them
    events = []
    moment = began
    previous_url = ""
    for kind, url, props in _steps(rng, pages, plan, interests):
        if events:
            # Reading time: a few seconds to a few minutes, never the 30 minutes that end a visit.
            moment += datetime.timedelta(seconds=rng.randrange(8, 8 * 60))
        events.append(
            Event(
                type=kind,
                occurred_at=moment,
                contact=visitor.contact,
                visitor=visitor,
                session=session_id,
                host=HOST,
                url=url,
                referrer=f"{SITE}{previous_url}" if previous_url else referrer,
                ip=visitor.ip,
                browser=visitor.browser,
                os=visitor.os,
                device_type=visitor.device_type,
                is_machine=crawler,
                props=props,
            )
        )
        if kind == EventType.PAGE_VIEW:
            previous_url = url
    session = Session(
        id=session_id,
        visitor=visitor,
        contact=visitor.contact,
        started_at=began,
        last_seen_at=events[-1].occurred_at,
        events=len(events),
        landing_url=f"//{HOST}{events[0].url}",  # pages as the collector keeps them
        referrer=referrer,
    )
    return session, events


def _pages(rng, interests, plan, crawler: bool) -> list[tuple[str, str]]:
    if crawler:
        return rng.sample(PAGES + PRODUCT_PAGES, rng.randrange(3, 12))
    landing = rng.choice(LANDINGS)
    pages = [next(page for page in PAGES if page[0] == landing)]
    for _step in range(rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 7])):
        if rng.random() < 0.5:
            key, name = rng.choice(interests)
            pages.append(
                rng.choice(
                    [
                        (f"/products/{key}/", f"{name}｜製品情報"),
                        (f"/products/{key}/spec/", f"{name}の仕様・寸法"),
                        (f"/products/{key}/lineup/", f"{name}のラインアップ"),
                    ]
                )
            )
        else:
            pages.append(rng.choice(PAGES))
    return pages


def _steps(rng, pages, plan, interests):
    """(type, url, props) of each event of a visit, in order."""
    if "login" in plan:
        yield EventType.PAGE_VIEW.value, "/accounts/login/", {"title": "ログイン" + SUFFIX}
        yield EventType.LOGIN.value, "/accounts/login/", {"method": "password"}
        yield EventType.PAGE_VIEW.value, "/mypage/", {"title": "マイページ" + SUFFIX}
    for url, title in pages:
        yield EventType.PAGE_VIEW.value, url, {"title": title + SUFFIX}
        if "download" in plan and url.startswith("/products/"):
            plan = [step for step in plan if step != "download"]
            file, file_title = rng.choice(FILES)
            yield (
                EventType.FILE_DOWNLOAD.value,
                f"/files/{file}",
                {"file": file, "title": file_title},
            )
    if "form" in plan:
        form = rng.choice(["inquiry", "inquiry", "catalog"])
        url = "/contact/" if form == "inquiry" else "/catalog/"
        title = "お問い合わせ" if form == "inquiry" else "カタログ請求"
        yield EventType.PAGE_VIEW.value, url, {"title": title + SUFFIX}
        yield EventType.FORM_SUBMIT.value, url, {"form": form, "product": interests[0][1]}
        yield EventType.PAGE_VIEW.value, f"{url}thanks/", {"title": "送信完了" + SUFFIX}


def _interests(rng, contact: Contact | None) -> list[tuple[str, str]]:
    """The products a person looks at: a contact's own interests first (crm demo's field)."""
    keys = list((contact.custom or {}).get("interests", [])) if contact is not None else []
    own = [product for product in PRODUCTS if product[0] in keys]
    return own or [rng.choice(PRODUCTS)]


def _moment(rng, start, end, crawler: bool) -> datetime.datetime:
    day = timezone.localtime(start).date() + datetime.timedelta(days=rng.randrange(DAYS))
    hour = rng.randrange(24) if crawler else _weighted(rng, HOURS)
    moment = datetime.datetime.combine(
        day, datetime.time(hour, rng.randrange(60), rng.randrange(60))
    )
    return timezone.make_aware(moment)


def _ip(rng, crawler: bool) -> str:
    """Documentation addresses (RFC 5737): never a real person's."""
    if crawler:
        return f"192.0.2.{rng.randrange(1, 255)}"
    return f"{rng.choice(['203.0.113', '198.51.100'])}.{rng.randrange(1, 255)}"


def _weighted(rng, choices):
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights)[0]


def _update_contacts(contacts: list[Contact], visitors: list[Visitor]) -> None:
    """Contacts' first / last seen and visits from their visitors (which the demo just made)."""
    by_contact: dict[int, list[Visitor]] = {}
    for visitor in visitors:
        if visitor.contact_id is not None:
            by_contact.setdefault(visitor.contact_id, []).append(visitor)
    changed = []
    for contact in contacts:
        own = by_contact.get(contact.pk)
        if not own:
            continue
        contact.first_seen_at = min(visitor.first_seen_at for visitor in own)
        contact.last_seen_at = max(visitor.last_seen_at for visitor in own)
        contact.sessions = sum(visitor.sessions for visitor in own)
        changed.append(contact)
    Contact.objects.bulk_update(
        changed, ["first_seen_at", "last_seen_at", "sessions"], batch_size=500
    )
