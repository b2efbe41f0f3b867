"""Every audience kind lets in the right members and keeps out the others, by any URL."""

import pytest
from django.apps import apps
from django.urls import reverse

from kizuna.accounts.tests.factories import PASSWORD
from kizuna.content.downloading import signed_link_token
from kizuna.content.models import AudienceKind, FaqEntry
from kizuna.content.tests.factories import attach_pdf, member_contact, page
from kizuna.tracking.models import Event

pytestmark = pytest.mark.django_db


def log_in(client, contact):
    client.post(reverse("account_login"), {"login": contact.email, "password": PASSWORD})
    assert client.session.get("_auth_user_id") == str(contact.user_id)
    return client


@pytest.fixture
def library():
    return {
        "public": page("hello", AudienceKind.PUBLIC),
        "members": page("members-news"),
        "gold": page("gold-guide", AudienceKind.TIERS, audience_tiers=["gold"]),
        "vip": page("vip-event", AudienceKind.TAGS, audience_tags=["VIP"]),
        "tokyo": page(
            "tokyo-seminar",
            AudienceKind.SEGMENT,
            audience_filter={"event": "page_view", "url_contains": "/pages/hello/"},
        ),
        "draft": page("draft", AudienceKind.PUBLIC, is_published=False),
    }


def visible_slugs(client) -> set[str]:
    html = client.get(reverse("content:page_list")).content.decode()
    slugs = {"hello", "members-news", "gold-guide", "vip-event", "tokyo-seminar", "draft"}
    return {slug for slug in slugs if f"/pages/{slug}/" in html}


def test_anonymous_visitors_see_public_pages_and_are_sent_to_log_in_for_the_rest(client, library):
    assert visible_slugs(client) == {"hello"}
    assert client.get(reverse("content:page_detail", args=["hello"])).status_code == 200
    response = client.get(reverse("content:page_detail", args=["gold-guide"]))
    assert (
        response.status_code == 302
        and "/accounts/login/?next=/pages/gold-guide/" in response["Location"]
    )
    assert client.get(reverse("content:page_detail", args=["draft"])).status_code == 404


def test_tiers_tags_and_behaviour_decide_what_a_member_sees(client, library):
    free = log_in(client, member_contact("free@example.jp", tier_slug="free"))
    assert visible_slugs(free) == {"hello", "members-news"}
    response = free.get(reverse("content:page_detail", args=["gold-guide"]))
    assert response.status_code == 403 and "含まれていません" in response.content.decode()

    client.logout()
    gold = log_in(client, member_contact("gold@example.jp", tier_slug="gold", tags=["VIP"]))
    assert visible_slugs(gold) == {"hello", "members-news", "gold-guide", "vip-event"}


def test_a_segment_audience_follows_behaviour(client, library):
    contact = member_contact("reader@example.jp")
    log_in(client, contact)
    assert "tokyo-seminar" not in visible_slugs(client)
    Event.objects.create(
        event_id="e1",
        type="page_view",
        occurred_at="2026-11-20T00:00:00Z",
        contact=contact,
        url="/pages/hello/",
    )
    assert "tokyo-seminar" in visible_slugs(client)


@pytest.mark.parametrize("state", ["suspended", "withdrawn", "pending_approval"])
def test_members_who_are_not_active_see_only_public_content(client, library, state):
    contact = member_contact(f"{state}@example.jp", tier_slug="gold")
    log_in(client, contact)
    Member = apps.get_model("members", "Member")
    Member.objects.filter(contact=contact).update(state=state)
    assert visible_slugs(client) == {"hello"}


def test_files_are_refused_to_outsiders_and_served_with_an_event_to_the_audience(client, library):
    pdf = attach_pdf(library["gold"])
    url = reverse("content:page_file", args=["gold-guide", pdf.pk])
    assert client.get(url).status_code == 302  # anonymous: log in first
    log_in(client, member_contact("free@example.jp", tier_slug="free"))
    assert client.get(url).status_code == 403
    # Guessing: the file under another page the member may open, or the storage path.
    assert (
        client.get(reverse("content:page_file", args=["members-news", pdf.pk])).status_code == 404
    )
    assert client.get("/media/" + pdf.stored.file.name).status_code == 404
    assert client.get("/private/" + pdf.stored.file.name).status_code == 404

    client.logout()
    gold = member_contact("gold@example.jp", tier_slug="gold")
    log_in(client, gold)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["Content-Disposition"].startswith("attachment")
    assert Event.objects.filter(contact=gold, type="file_download").exists()


def test_a_withdrawn_member_is_refused_the_file_at_the_next_request(client, library):
    pdf = attach_pdf(library["members"])
    contact = member_contact("leaving@example.jp")
    log_in(client, contact)
    url = reverse("content:page_file", args=["members-news", pdf.pk])
    assert client.get(url).status_code == 200
    apps.get_model("members", "Member").objects.filter(contact=contact).update(state="withdrawn")
    assert client.get(url).status_code == 403


def test_signed_links_work_for_their_contact_while_valid_and_in_the_audience(
    client, library, settings
):
    pdf = attach_pdf(library["gold"])
    gold = member_contact("gold@example.jp", tier_slug="gold")
    free = member_contact("free@example.jp", tier_slug="free")
    assert (
        client.get(reverse("content:signed_file", args=[signed_link_token(pdf, gold)])).status_code
        == 200
    )
    assert (
        client.get(reverse("content:signed_file", args=[signed_link_token(pdf, free)])).status_code
        == 403
    )
    assert client.get(reverse("content:signed_file", args=["forged-token"])).status_code == 410
    settings.KIZUNA_FILE_LINK_DAYS = -1
    assert (
        client.get(reverse("content:signed_file", args=[signed_link_token(pdf, gold)])).status_code
        == 410
    )


def test_nginx_gets_the_file_by_x_accel_redirect(client, library, settings):
    settings.KIZUNA_FILE_SERVER = "nginx"
    pdf = attach_pdf(library["public"])
    response = client.get(reverse("content:page_file", args=["hello", pdf.pk]))
    assert response["X-Accel-Redirect"] == f"/protected/{pdf.stored.file.name}"
    assert response.content == b""


def test_non_public_pages_are_noindex_and_absent_from_the_sitemap(client, library):
    public_faq = FaqEntry.objects.create(
        question="公開Q", answer="A", audience="public", is_published=True
    )
    members_faq = FaqEntry.objects.create(question="会員Q", answer="A", is_published=True)
    sitemap = client.get(reverse("content:sitemap")).content.decode()
    assert "/pages/hello/" in sitemap
    assert f"/faq/{public_faq.pk}/" in sitemap and f"/faq/{members_faq.pk}/" not in sitemap
    assert "gold-guide" not in sitemap and "members-news" not in sitemap and "draft" not in sitemap
    log_in(client, member_contact("m@example.jp"))
    response = client.get(reverse("content:page_detail", args=["members-news"]))
    assert response["X-Robots-Tag"] == "noindex"
    assert '<meta name="robots" content="noindex">' in response.content.decode()


def test_page_views_say_which_page(client, library, tracking_spool):
    contact = member_contact("m@example.jp")
    log_in(client, contact)
    client.get(reverse("content:page_detail", args=["members-news"]))
    tracking_spool().flush()
    assert Event.objects.filter(type="page_view", props__page="members-news").exists()


def test_video_progress_is_recorded_at_the_milestones_only(client, library):
    video_page = page("onboarding", video_embed_url="https://www.youtube.com/watch?v=x")
    contact = member_contact("m@example.jp")
    log_in(client, contact)
    url = reverse("content:video_progress", args=[video_page.slug])
    assert client.post(url, {"percent": "75"}).status_code == 204
    assert client.post(url, {"percent": "33"}).status_code == 400
    event = Event.objects.get(contact=contact, type="video_progress")
    assert event.props == {"page": "onboarding", "percent": 75}


def test_search_finds_japanese_in_any_width_and_never_what_the_viewer_may_not_see(client):
    page("returns", AudienceKind.PUBLIC, title="返品について", body="ｶｽﾀﾏｰｾﾝﾀｰへご連絡ください")
    page("gold-returns", AudienceKind.TIERS, audience_tiers=["gold"], title="返品（ゴールド）")
    html = client.get(reverse("content:page_list"), {"q": "カスタマー 返品"}).content.decode()
    assert "/pages/returns/" in html and "/pages/gold-returns/" not in html
    html = client.get(reverse("content:page_list"), {"q": "返品"}).content.decode()
    assert "/pages/gold-returns/" not in html
