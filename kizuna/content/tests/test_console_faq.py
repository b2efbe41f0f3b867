"""The FAQ, categories and announcements in the console: staff only; editors with the audience
picker (errors on the field, in the staff member's language); lists with their counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kizuna.content.models import (
    Announcement,
    AnnouncementSeen,
    AudienceKind,
    Category,
    FaqEntry,
)
from kizuna.content.tests.factories import member_contact, tier
from kizuna.core.models import AuditLog
from kizuna.crm.models import Tag
from kizuna.tracking.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def entry():
    return FaqEntry.objects.create(
        question="送料はいくらですか", answer="全国一律500円です。", is_published=True
    )


@pytest.fixture
def news():
    return Announcement.objects.create(title="年末年始の営業", is_published=True, banner=True)


def console_urls(entry, news, category) -> list[str]:
    return [
        reverse("content_console:faq_list"),
        reverse("content_console:faq_create"),
        reverse("content_console:faq_edit", args=[entry.pk]),
        reverse("content_console:faq_delete", args=[entry.pk]),
        reverse("content_console:category_list"),
        reverse("content_console:category_create"),
        reverse("content_console:category_edit", args=[category.pk]),
        reverse("content_console:category_delete", args=[category.pk]),
        reverse("content_console:announcement_list"),
        reverse("content_console:announcement_create"),
        reverse("content_console:announcement_edit", args=[news.pk]),
        reverse("content_console:announcement_delete", args=[news.pk]),
    ]


def test_members_get_403_and_anonymous_users_the_log_in_page(client, entry, news, member):
    category = Category.objects.create(kind="faq", slug="orders", name_ja="ご注文")
    urls = console_urls(entry, news, category)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        assert client.post(url).status_code == 302, url
    client.force_login(member)
    for url in urls:
        assert client.get(url).status_code == 403, url
        assert client.post(url).status_code == 403, url
    assert FaqEntry.objects.filter(pk=entry.pk).exists()
    assert Announcement.objects.filter(pk=news.pk).exists()


def test_staff_open_every_screen(staff_client, entry, news):
    category = Category.objects.create(kind="faq", slug="orders", name_ja="ご注文")
    for url in console_urls(entry, news, category):
        assert staff_client.get(url).status_code == 200, url


def test_the_sidebar_has_the_faq_and_announcements(staff_client):
    html = staff_client.get(reverse("console:dashboard")).text
    assert reverse("content_console:faq_list") in html
    assert reverse("content_console:announcement_list") in html


def faq_data(**overrides) -> dict:
    data = {
        "question": "返品はできますか",
        "answer": "8日以内に**承ります**。<script>alert(1)</script>",
        "position": "1",
        "is_published": "on",
        "published_from": "",
        "published_until": "",
        "audience": "public",
    }
    data.update(overrides)
    return data


def test_adding_an_entry_for_tiers_with_a_category_and_related_entries(staff_client, entry):
    tier("gold")
    tier("silver")
    category = Category.objects.create(kind="faq", slug="orders", name_ja="ご注文")
    form = staff_client.get(reverse("content_console:faq_create")).text
    assert 'type="radio" name="audience"' in form and 'value="gold"' in form
    response = staff_client.post(
        reverse("content_console:faq_create"),
        faq_data(
            category=category.pk,
            related=[entry.pk],
            audience="tiers",
            audience_tiers=["gold"],
            audience_tags=["ignored"],
        ),
    )
    assert response.status_code == 302
    created = FaqEntry.objects.get(question="返品はできますか")
    assert created.category == category
    assert list(created.related.all()) == [entry]
    assert (created.audience, created.audience_tiers, created.audience_tags) == (
        "tiers",
        ["gold"],
        [],
    )
    assert "<strong>承ります</strong>" in created.answer_html
    assert "<script" not in created.answer_html
    assert AuditLog.objects.filter(action="create", object_id=str(created.pk)).exists()


def test_page_categories_are_not_offered_for_faq_entries(staff_client):
    pages = Category.objects.create(kind="pages", slug="guides", name_ja="ガイド")
    response = staff_client.post(reverse("content_console:faq_create"), faq_data(category=pages.pk))
    assert response.status_code == 200
    assert "field-invalid" in response.text
    assert not FaqEntry.objects.exists()


def test_editing_keeps_the_entry_and_records_the_change(staff_client, entry):
    Tag.objects.create(name="VIP")
    url = reverse("content_console:faq_edit", args=[entry.pk])
    response = staff_client.post(
        url, faq_data(question="送料について", audience="tags", audience_tags=["VIP"])
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.question, entry.audience, entry.audience_tags) == (
        "送料について",
        "tags",
        ["VIP"],
    )
    audit = AuditLog.objects.get(action="update", object_id=str(entry.pk))
    assert "question" in audit.changes


def field_errors(html: str, name: str) -> str:
    marker = f'id="id_{name}_error"'
    assert marker in html, f"no errors on {name}"
    return html.split(marker, 1)[1].split("</div>", 1)[0]


def test_invalid_filter_json_is_shown_on_the_field(staff_client):
    response = staff_client.post(
        reverse("content_console:faq_create"),
        faq_data(audience="segment", audience_filter='{"field": "prefecture", "op": '),
    )
    assert response.status_code == 200
    assert "not valid JSON" in field_errors(response.text, "audience_filter")
    assert '{"field": "prefecture", "op": ' in response.text  # kept as typed
    assert not FaqEntry.objects.exists()


def test_filter_errors_are_in_the_staff_members_language(client, staff, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    client.force_login(staff)
    response = client.post(
        reverse("content_console:faq_create"),
        faq_data(audience="segment", audience_filter="[1, 2"),
    )
    assert "正しいJSONではありません" in field_errors(response.text, "audience_filter")


def test_a_filter_the_segments_app_refuses_is_shown_on_the_field(staff_client):
    response = staff_client.post(
        reverse("content_console:faq_create"),
        faq_data(audience="segment", audience_filter='{"field": "no_such_field", "op": "eq"}'),
    )
    assert response.status_code == 200
    assert field_errors(response.text, "audience_filter").strip()
    response = staff_client.post(
        reverse("content_console:faq_create"),
        faq_data(audience="segment", audience_filter="[]"),
    )
    assert "JSON object" in field_errors(response.text, "audience_filter")
    assert not FaqEntry.objects.exists()


def test_a_valid_filter_is_stored_as_a_document(staff_client):
    document = '{"field": "prefecture", "op": "eq", "value": "東京都"}'
    response = staff_client.post(
        reverse("content_console:faq_create"),
        faq_data(audience="segment", audience_filter=document),
    )
    assert response.status_code == 302
    created = FaqEntry.objects.get()
    assert created.audience_filter == {"field": "prefecture", "op": "eq", "value": "東京都"}
    form = staff_client.get(reverse("content_console:faq_edit", args=[created.pk])).text
    assert "東京都" in form  # shown as typed, not as \\u escapes


def test_each_audience_kind_asks_for_its_own_choice(staff_client):
    url = reverse("content_console:faq_create")
    assert "Tick at least one membership rank" in field_errors(
        staff_client.post(url, faq_data(audience="tiers")).text, "audience_tiers"
    )
    assert "Tick at least one tag" in field_errors(
        staff_client.post(url, faq_data(audience="tags")).text, "audience_tags"
    )
    assert "Enter the filter" in field_errors(
        staff_client.post(url, faq_data(audience="segment")).text, "audience_filter"
    )
    # A broken filter does not matter when the audience does not use it.
    assert staff_client.post(url, faq_data(audience_filter="{oops")).status_code == 302
    assert FaqEntry.objects.get().audience_filter == {}


def test_unknown_choices_and_bad_dates_are_errors_not_500s(staff_client):
    url = reverse("content_console:faq_create")
    response = staff_client.post(
        url,
        faq_data(
            audience="everyone",
            audience_tiers=["nope"],
            published_from="2026-13-45T99:99",
            related=["x"],
            position="-1",
        ),
    )
    assert response.status_code == 200
    assert response.text.count("field-invalid") >= 3
    response = staff_client.post(
        url, faq_data(published_from="2026-12-01T10:00", published_until="2026-11-01T10:00")
    )
    assert "The end must be after the start" in field_errors(response.text, "published_until")
    assert not FaqEntry.objects.exists()


def test_the_list_shows_views_and_helpful_counts(staff_client, entry, django_assert_num_queries):
    FaqEntry.objects.filter(pk=entry.pk).update(helpful_yes=7, helpful_no=2)
    for number in range(3):
        Event.objects.create(
            event_id=f"e{number}",
            type="page_view",
            occurred_at="2026-11-20T00:00:00Z",
            url=f"/faq/{entry.pk}/",
            props={"faq": entry.pk},
        )
    url = reverse("content_console:faq_list")
    html = staff_client.get(url).text
    row = html.split("送料はいくらですか", 1)[1].split("</tr>", 1)[0]
    numbers = [cell.split("<", 1)[0] for cell in row.split('<td class="numeric">')[1:]]
    assert numbers == ["3", "7", "2"]
    few = len(_queries(staff_client, url))
    for number in range(5):
        FaqEntry.objects.create(question=f"質問{number}", answer="回答")
    with django_assert_num_queries(few):
        staff_client.get(url)


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return captured.captured_queries


def test_deleting_an_entry_asks_first(staff_client, entry):
    url = reverse("content_console:faq_delete", args=[entry.pk])
    assert "送料はいくらですか" in staff_client.get(url).text
    assert FaqEntry.objects.filter(pk=entry.pk).exists()
    assert staff_client.post(url).status_code == 302
    assert not FaqEntry.objects.filter(pk=entry.pk).exists()
    assert AuditLog.objects.filter(action="delete", object_id=str(entry.pk)).exists()


def test_categories_add_edit_delete(staff_client, entry):
    data = {
        "kind": "faq",
        "name_ja": "配送",
        "name_en": "Shipping",
        "slug": "shipping",
        "position": "2",
    }
    assert staff_client.post(reverse("content_console:category_create"), data).status_code == 302
    category = Category.objects.get(slug="shipping")
    response = staff_client.post(reverse("content_console:category_create"), data)
    assert "Another category of this kind has this key" in field_errors(response.text, "slug")
    assert (
        staff_client.post(
            reverse("content_console:category_create"), {**data, "kind": "pages"}
        ).status_code
        == 302
    )
    edit = reverse("content_console:category_edit", args=[category.pk])
    assert staff_client.post(edit, {**data, "name_ja": "配送・送料"}).status_code == 302
    category.refresh_from_db()
    assert category.name_ja == "配送・送料"
    entry.category = category
    entry.save()
    delete = reverse("content_console:category_delete", args=[category.pk])
    assert "1 item is in this category" in staff_client.get(delete).text
    staff_client.post(delete)
    entry.refresh_from_db()
    assert entry.category is None and not Category.objects.filter(pk=category.pk).exists()


def announcement_data(**overrides) -> dict:
    data = {
        "title": "システムメンテナンスのお知らせ",
        "body": "11月30日 2:00〜4:00",
        "banner": "on",
        "dismissible": "on",
        "is_published": "on",
        "audience": "members",
    }
    data.update(overrides)
    return data


def test_announcements_add_edit_delete_with_the_audience_picker(staff_client):
    tier("gold")
    create = reverse("content_console:announcement_create")
    response = staff_client.post(
        create, announcement_data(audience="tiers", audience_tiers=["gold"], dismissible="")
    )
    assert response.status_code == 302
    created = Announcement.objects.get()
    assert (created.banner, created.dismissible, created.audience_tiers) == (True, False, ["gold"])
    response = staff_client.post(
        create, announcement_data(audience="segment", audience_filter="not json")
    )
    assert "not valid JSON" in field_errors(response.text, "audience_filter")
    edit = reverse("content_console:announcement_edit", args=[created.pk])
    assert 'value="gold"' in staff_client.get(edit).text
    assert staff_client.post(edit, announcement_data(banner="")).status_code == 302
    created.refresh_from_db()
    assert (created.banner, created.audience, created.audience_tiers) == (False, "members", [])
    staff_client.post(reverse("content_console:announcement_delete", args=[created.pk]))
    assert not Announcement.objects.exists()


def test_the_announcement_list_counts_views_and_dismissals(staff_client, news):
    for number in range(3):
        contact = member_contact(f"m{number}@example.jp")
        AnnouncementSeen.objects.create(
            announcement=news, contact=contact, dismissed_at=news.created_at if number else None
        )
    html = staff_client.get(reverse("content_console:announcement_list")).text
    row = html.split("年末年始の営業", 1)[1].split("</tr>", 1)[0]
    numbers = [cell.split("<", 1)[0] for cell in row.split('<td class="numeric">')[1:]]
    assert numbers == ["3", "2"]


def test_the_audience_is_shown_in_words(staff_client, entry):
    FaqEntry.objects.filter(pk=entry.pk).update(audience=AudienceKind.TAGS)
    assert "Members with these tags" in staff_client.get(reverse("content_console:faq_list")).text
