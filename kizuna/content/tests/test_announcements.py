"""Announcements on the site: the list and pages by audience, and the banner — shown to its
audience only, counted as seen, gone for good once dismissed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kizuna.content.models import Announcement, AnnouncementSeen, AudienceKind
from kizuna.content.tests.factories import member_contact
from kizuna.crm.models import Contact

pytestmark = pytest.mark.django_db
LIST = reverse("content:announcement_list")
SITE_PAGE = reverse("content:faq_list")  # any page on the site's base template


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def announcement(title: str, audience=AudienceKind.MEMBERS, **fields) -> Announcement:
    fields.setdefault("is_published", True)
    return Announcement.objects.create(title=title, audience=audience, **fields)


def banner_title(client) -> str | None:
    html = client.get(SITE_PAGE).text
    if 'id="announcement-banner"' not in html:
        return None
    banner = html.split('id="announcement-banner"', 1)[1].split("</aside>", 1)[0]
    return next(a.title for a in Announcement.objects.all() if f">{a.title}</a>" in banner)


@pytest.fixture
def news():
    now = timezone.now()
    return {
        "public": announcement(
            "Opening hours", AudienceKind.PUBLIC, published_from=now - timedelta(days=3)
        ),
        "members": announcement("Members news", published_from=now - timedelta(days=1)),
        "gold": announcement(
            "Gold lounge", AudienceKind.TIERS, audience_tiers=["gold"], published_from=now
        ),
        "draft": announcement("Draft news", AudienceKind.PUBLIC, is_published=False),
        "over": announcement(
            "Old sale", AudienceKind.PUBLIC, published_until=now - timedelta(minutes=1)
        ),
        "later": announcement(
            "Next month", AudienceKind.PUBLIC, published_from=now + timedelta(days=30)
        ),
    }


def listed_titles(client) -> list[str]:
    html = client.get(LIST).text
    titles = [a.title for a in Announcement.objects.all() if f">{a.title}</a>" in html]
    return sorted(titles, key=html.index)


def test_the_list_shows_the_viewers_published_announcements_newest_first(client, news):
    assert listed_titles(client) == ["Opening hours"]
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    assert listed_titles(client) == ["Members news", "Opening hours"]
    client.force_login(member_contact("gold@example.jp", tier_slug="gold").user)
    assert listed_titles(client) == ["Gold lounge", "Members news", "Opening hours"]


def test_an_announcement_page_is_refused_to_outsiders(client, news):
    url = reverse("content:announcement_detail", args=[news["gold"].pk])
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/?next=" in response["Location"]
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    assert client.get(url).status_code == 403
    for key in ("draft", "over", "later"):
        url = reverse("content:announcement_detail", args=[news[key].pk])
        assert client.get(url).status_code == 404
    assert AnnouncementSeen.objects.count() == 0


def test_opening_an_announcement_counts_the_member_once(client, news):
    contact = member_contact("m@example.jp")
    client.force_login(contact.user)
    url = reverse("content:announcement_detail", args=[news["members"].pk])
    response = client.get(url)
    assert response.status_code == 200 and response["X-Robots-Tag"] == "noindex"
    client.get(url)
    assert (
        AnnouncementSeen.objects.filter(announcement=news["members"], contact=contact).count() == 1
    )


def test_the_banner_goes_to_its_audience_only(client, news):
    news["members"].delete()
    gold_banner = news["gold"]
    gold_banner.banner = True
    gold_banner.save()
    assert banner_title(client) is None  # anonymous
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    assert banner_title(client) is None
    gold = member_contact("gold@example.jp", tier_slug="gold")
    client.force_login(gold.user)
    assert banner_title(client) == "Gold lounge"
    assert AnnouncementSeen.objects.get(announcement=gold_banner).contact == gold


def test_the_newest_banner_shows_and_a_dismissed_one_stays_away(client, news):
    Announcement.objects.filter(pk__in=[news["public"].pk, news["members"].pk]).update(banner=True)
    contact = member_contact("m@example.jp")
    client.force_login(contact.user)
    assert banner_title(client) == "Members news"
    dismiss = reverse("content:announcement_dismiss", args=[news["members"].pk])
    response = client.post(dismiss, {"next": "/faq/?q=x"})
    assert response.status_code == 302 and response["Location"] == "/faq/?q=x"
    assert banner_title(client) == "Opening hours"  # the next one
    assert banner_title(client) == "Opening hours"
    seen = AnnouncementSeen.objects.get(announcement=news["members"], contact=contact)
    assert seen.dismissed_at is not None
    # Still listed, only the banner is gone.
    assert "Members news" in listed_titles(client)


def test_dismissing_with_htmx_removes_the_banner_in_place(client, news):
    news["members"].banner = True
    news["members"].save()
    client.force_login(member_contact("m@example.jp").user)
    dismiss = reverse("content:announcement_dismiss", args=[news["members"].pk])
    response = client.post(dismiss, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.content == b""
    assert banner_title(client) is None


def test_a_banner_that_is_not_dismissible_stays(client, news):
    news["members"].banner = True
    news["members"].dismissible = False
    news["members"].save()
    client.force_login(member_contact("m@example.jp").user)
    assert "announcement_dismiss" not in client.get(SITE_PAGE).text
    dismiss = reverse("content:announcement_dismiss", args=[news["members"].pk])
    client.post(dismiss)
    assert banner_title(client) == "Members news"


def test_dismissing_goes_nowhere_unsafe_and_is_refused_to_outsiders(client, news):
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    members = reverse("content:announcement_dismiss", args=[news["members"].pk])
    response = client.post(members, {"next": "https://evil.example/"})
    assert response["Location"] == LIST
    gold = reverse("content:announcement_dismiss", args=[news["gold"].pk])
    assert client.post(gold).status_code == 403
    assert client.get(members).status_code == 405
    client.logout()
    assert client.post(members).status_code == 302
    assert AnnouncementSeen.objects.filter(announcement=news["gold"]).count() == 0


def test_pages_without_the_banner_do_not_look_for_it(client, news, staff):
    news["members"].banner = True
    news["members"].save()
    client.force_login(staff)
    with CaptureQueriesContext(connection) as console:
        assert client.get(reverse("console:dashboard")).status_code == 200
    assert not any("content_announcement" in q["sql"] for q in console.captured_queries)


def test_staff_see_every_banner_without_being_counted(client, news, staff):
    news["gold"].banner = True
    news["gold"].save()
    Contact.objects.create(email=staff.email, family_name="スタッフ", user=staff)
    client.force_login(staff)
    assert banner_title(client) == "Gold lounge"
    assert AnnouncementSeen.objects.count() == 0


def test_pages_ask_nothing_about_banners_while_none_is_published(client, django_assert_num_queries):
    from kizuna.content.feedback import current_banner
    from kizuna.content.tests.factories import member_contact

    member = member_contact("quiet@example.jp")
    client.force_login(member.user)
    request = client.get("/").wsgi_request
    current_banner(request)  # the windows are cached now
    with django_assert_num_queries(0):
        assert current_banner(request) is None
