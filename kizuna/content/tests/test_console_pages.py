"""The console for pages: list and figures, editor, files, view as, staff picks."""

import json

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve, reverse
from django.utils import timezone

from kizuna.content import console_urls_pages
from kizuna.content.models import (
    Announcement,
    AnnouncementSeen,
    AudienceKind,
    Category,
    Page,
    PageFile,
    StaffPick,
)
from kizuna.content.tests.factories import PDF_BYTES, attach_pdf, member_contact, tier
from kizuna.content.tests.factories import page as make_page
from kizuna.core.models import AuditLog
from kizuna.crm.models import Contact, StoredFile
from kizuna.tracking.models import Event

pytestmark = pytest.mark.django_db

MP4_BYTES = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 256


@pytest.fixture(autouse=True)
def private_storage(tmp_path, monkeypatch):
    """Files go to a temporary folder instead of var/private."""
    storage = FileSystemStorage(location=tmp_path)
    monkeypatch.setattr(StoredFile._meta.get_field("file"), "storage", storage)
    return storage


def url(name, *args):
    return reverse(f"content_console:{name}", args=args)


def event(kind, slug, contact=None, **props):
    return Event.objects.create(
        type=kind,
        occurred_at=timezone.now(),
        contact=contact,
        props={"page": slug, **props},
    )


def editor_data(**overrides):
    data = {
        "title": "会員向けガイド",
        "slug": "",
        "summary": "",
        "body": "# こんにちは",
        "category": "",
        "published_from": "",
        "published_until": "",
        "video_embed_url": "",
        "audience": AudienceKind.MEMBERS,
        "audience_filter": "",
    }
    data.update(overrides)
    return data


# --- Access ---------------------------------------------------------------------------------------


def every_screen():
    target = make_page("target")
    page_file = attach_pdf(target)
    contact = Contact.objects.create(email="someone@example.jp")
    pick = StaffPick.objects.create(page=target)
    return [
        ("get", url("page_list")),
        ("get", url("page_create")),
        ("post", url("page_preview")),
        ("get", url("page_detail", target.pk)),
        ("get", url("page_edit", target.pk)),
        ("get", url("page_delete", target.pk)),
        ("post", url("page_file_add", target.pk)),
        ("post", url("page_file_rename", target.pk, page_file.pk)),
        ("post", url("page_file_move", target.pk, page_file.pk)),
        ("post", url("page_file_remove", target.pk, page_file.pk)),
        ("get", url("page_view_as", target.pk)),
        ("get", url("page_view_as_frame", target.pk, contact.pk)),
        ("get", url("pick_list")),
        ("post", url("pick_create")),
        ("get", url("pick_edit", pick.pk)),
        ("post", url("pick_delete", pick.pk)),
        ("post", url("pick_move", pick.pk)),
    ]


def test_every_screen_sends_visitors_to_log_in_and_refuses_members(client, member):
    screens = every_screen()
    for method, address in screens:
        response = getattr(client, method)(address)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], address
    client.force_login(member)
    for method, address in screens:
        assert getattr(client, method)(address).status_code == 403, address
    assert Page.objects.filter(slug="target").exists() and StaffPick.objects.exists()


def test_the_access_checks_cover_every_route():
    addresses = {address for _method, address in every_screen()}
    names = {resolve(address).url_name for address in addresses}
    assert names == {pattern.name for pattern in console_urls_pages.urlpatterns}


def test_every_screen_opens_for_staff_without_a_server_error(staff_client):
    for method, address in every_screen():
        assert getattr(staff_client, method)(address).status_code < 500, address


def test_unknown_ids_are_404_not_500(staff_client):
    assert staff_client.get(url("page_detail", 999)).status_code == 404
    assert staff_client.get(url("page_edit", 999)).status_code == 404
    target = make_page("p")
    assert staff_client.post(url("page_file_remove", target.pk, 999)).status_code == 404
    assert staff_client.get(url("page_view_as_frame", target.pk, 999)).status_code == 404
    assert staff_client.get(url("page_view_as", target.pk), {"contact": "999"}).status_code == 404
    assert staff_client.get(url("pick_edit", 999)).status_code == 404
    huge = "9" * 30
    assert staff_client.get(url("page_list"), {"category": huge}).status_code == 200
    assert staff_client.get(url("page_view_as", target.pk), {"contact": huge}).status_code == 200
    assert staff_client.get(url("page_detail", int(huge))).status_code == 404


# --- The list -------------------------------------------------------------------------------------


def test_the_list_shows_audience_state_and_figures(staff_client):
    guides = Category.objects.create(slug="guides", name_ja="ガイド", name_en="Guides")
    tier("gold").name_ja = "ゴールド"
    gold = make_page("gold", AudienceKind.TIERS, audience_tiers=["gold"], category=guides)
    make_page("draft", is_published=False, title="下書き")
    a, b = member_contact("a@example.jp"), member_contact("b@example.jp")
    event("page_view", "gold", a)
    event("page_view", "gold", a)
    event("page_view", "gold", b)
    event("page_view", "gold")  # a visitor not yet known
    event("file_download", "gold", a, file_id=1)
    event("page_view", "draft-other", a)  # another page: not counted

    response = staff_client.get(url("page_list"))
    html = response.content.decode()
    row = html[html.index(f'data-page="{gold.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "ガイド" in row and "gold" in row
    assert 'data-views="4"' in row and 'data-members="2"' in row and 'data-downloads="1"' in row
    assert 'data-state="live"' in row
    assert 'data-state="draft"' in html


def test_the_list_filters_by_category_and_state(staff_client):
    guides = Category.objects.create(slug="guides", name_ja="ガイド")
    make_page("in-guides", category=guides, title="ガイドの記事")
    make_page("loose", title="未分類の記事")
    make_page("draft", is_published=False, title="下書きの記事")
    make_page(
        "later", title="予約の記事", published_from=timezone.now() + timezone.timedelta(days=2)
    )
    make_page(
        "over", title="終了した記事", published_until=timezone.now() - timezone.timedelta(days=1)
    )

    def titles(**params):
        html = staff_client.get(url("page_list"), params).content.decode()
        names = ["ガイドの記事", "未分類の記事", "下書きの記事", "予約の記事", "終了した記事"]
        return {name for name in names if name in html}

    assert titles(category=guides.pk) == {"ガイドの記事"}
    assert "未分類の記事" in titles(category="none") and "ガイドの記事" not in titles(
        category="none"
    )
    assert titles(state="draft") == {"下書きの記事"}
    assert titles(state="scheduled") == {"予約の記事"}
    assert titles(state="ended") == {"終了した記事"}
    assert titles(state="live") == {"ガイドの記事", "未分類の記事"}
    # Nonsense is ignored, never a 500.
    assert len(titles(state="nonsense", category="x", page="abc")) == 5


def test_the_list_is_paged_and_keeps_its_filters(staff_client):
    for number in range(55):
        make_page(f"p{number}", is_published=False)
    html = staff_client.get(url("page_list"), {"state": "draft"}).content.decode()
    assert "?state=draft&amp;page=2" in html
    assert staff_client.get(url("page_list"), {"page": "99"}).status_code == 200


def test_the_list_takes_a_fixed_number_of_queries(staff_client, django_assert_num_queries):
    tier("gold")
    category = Category.objects.create(slug="c", name_ja="カテゴリ")
    make_page("first", category=category)
    staff_client.get(url("page_list"))  # warm the session and site settings caches
    with django_assert_num_queries(7) as few:
        staff_client.get(url("page_list"))
    for number in range(30):
        slug = f"page-{number}"
        make_page(slug, AudienceKind.TIERS, audience_tiers=["gold"], category=category)
        event("page_view", slug)
        event("file_download", slug)
    with django_assert_num_queries(len(few.captured_queries)):
        staff_client.get(url("page_list"))


# --- The editor -----------------------------------------------------------------------------------


def test_staff_create_a_page_with_an_address_from_its_japanese_title(staff_client, staff):
    response = staff_client.post(url("page_create"), editor_data(body="**太字**<script>x</script>"))
    created = Page.objects.get()
    assert response.status_code == 302 and response["Location"] == url("page_detail", created.pk)
    assert created.slug == "会員向けガイド" and created.author == staff
    assert "<strong>太字</strong>" in created.body_html and "<script" not in created.body_html
    entry = AuditLog.objects.get(object_type="content.page", action="create")
    assert entry.actor == staff and entry.changes["title"] == [None, "会員向けガイド"]
    # The same title again gets a free address.
    staff_client.post(url("page_create"), editor_data())
    assert set(Page.objects.values_list("slug", flat=True)) == {
        "会員向けガイド",
        "会員向けガイド-2",
    }


def test_errors_are_shown_on_their_fields(staff_client):
    make_page("taken")
    data = editor_data(
        title="",
        slug="taken",
        published_from="2026-12-10T10:00",
        published_until="2026-12-01T10:00",
        video_embed_url="http://www.youtube.com/watch?v=x",
        audience=AudienceKind.TIERS,
    )
    response = staff_client.post(url("page_create"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {
        "title",
        "slug",
        "published_until",
        "video_embed_url",
        "audience_tiers",
    }
    html = response.content.decode()
    assert 'id="id_slug_error"' in html and 'id="id_published_until_error"' in html
    assert Page.objects.count() == 1


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        ("https://www.youtube.com/watch?v=abc", True),
        ("https://youtu.be/abc", True),
        ("https://player.vimeo.com/video/1", True),
        ("http://vimeo.com/1", False),
        ("https://youtube.com.evil.example/watch", False),
        ("https://evil.example/?https://www.youtube.com/", False),
        ("javascript:alert(1)", False),
    ],
)
def test_embedded_videos_come_only_from_youtube_or_vimeo_over_https(
    staff_client, address, accepted
):
    response = staff_client.post(url("page_create"), editor_data(video_embed_url=address))
    assert Page.objects.filter(video_embed_url=address).exists() is accepted
    if not accepted:
        assert "video_embed_url" in response.context["form"].errors


def test_an_uploaded_video_is_checked_by_its_bytes_and_kept_privately(staff_client):
    fake = SimpleUploadedFile("movie.mp4", b"<html><script>x</script></html>", "video/mp4")
    response = staff_client.post(url("page_create"), {**editor_data(), "video_upload": fake})
    assert "video_upload" in response.context["form"].errors and not Page.objects.exists()

    renamed_pdf = SimpleUploadedFile("movie.mp4", PDF_BYTES, "video/mp4")
    response = staff_client.post(url("page_create"), {**editor_data(), "video_upload": renamed_pdf})
    assert "video_upload" in response.context["form"].errors

    video = SimpleUploadedFile("オンボーディング.mp4", MP4_BYTES, "application/octet-stream")
    staff_client.post(url("page_create"), {**editor_data(), "video_upload": video})
    created = Page.objects.get()
    assert created.video_file.content_type == "video/mp4"
    assert created.video_file.name == "オンボーディング.mp4"
    assert "オンボーディング" not in created.video_file.file.name  # a random name on disk


def test_a_page_has_one_video_not_a_file_and_an_embed(staff_client):
    video = SimpleUploadedFile("v.mp4", MP4_BYTES, "video/mp4")
    data = {**editor_data(video_embed_url="https://youtu.be/x"), "video_upload": video}
    response = staff_client.post(url("page_create"), data)
    assert "video_embed_url" in response.context["form"].errors


def test_replacing_or_removing_the_video_deletes_the_old_file(
    staff_client, django_capture_on_commit_callbacks, private_storage
):
    video = SimpleUploadedFile("v.mp4", MP4_BYTES, "video/mp4")
    staff_client.post(url("page_create"), {**editor_data(), "video_upload": video})
    created = Page.objects.get()
    old = created.video_file
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url("page_edit", created.pk), {**editor_data(slug=created.slug), "remove_video": "on"}
        )
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.video_file is None
    assert not StoredFile.objects.filter(pk=old.pk).exists()
    assert not private_storage.exists(old.file.name)


def test_the_address_is_fixed_once_the_page_is_published(staff_client, staff):
    draft = make_page("draft-address", is_published=False)
    staff_client.post(url("page_edit", draft.pk), editor_data(slug="new-address"))
    draft.refresh_from_db()
    assert draft.slug == "new-address"

    live = make_page("live-address")
    response = staff_client.get(url("page_edit", live.pk))
    assert response.context["form"].fields["slug"].disabled
    staff_client.post(url("page_edit", live.pk), editor_data(slug="moved", title="新しい題名"))
    live.refresh_from_db()
    assert live.slug == "live-address" and live.title == "新しい題名"
    entry = AuditLog.objects.get(object_type="content.page", action="update", object_id=live.pk)
    assert entry.changes["title"] == ["live-address", "新しい題名"] and "slug" not in entry.changes


def test_an_unpublished_page_that_was_seen_keeps_its_address(staff_client):
    seen = make_page("seen", is_published=False)
    event("page_view", "seen")
    staff_client.post(url("page_edit", seen.pk), editor_data(slug="other"))
    seen.refresh_from_db()
    assert seen.slug == "seen"


def test_the_audience_is_saved_and_noindex_follows_it(staff_client):
    tier("gold")
    data = editor_data(slug="gold", audience=AudienceKind.TIERS, audience_tiers=["gold"])
    staff_client.post(url("page_create"), data)
    gold = Page.objects.get(slug="gold")
    assert gold.audience_tiers == ["gold"] and gold.noindex
    html = staff_client.get(url("page_detail", gold.pk)).content.decode()
    assert "noindex" in html
    staff_client.post(url("page_edit", gold.pk), editor_data(slug="gold", audience="public"))
    gold.refresh_from_db()
    assert gold.audience_tiers == [] and not gold.noindex


def test_the_preview_is_sanitised_markdown(staff_client):
    response = staff_client.post(
        url("page_preview"),
        {"body": "## 見出し\n\n<img src=x onerror=alert(1)>\n\n<a href='javascript:x'>x</a>"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "<h2>見出し</h2>" in html
    assert "onerror" not in html and "javascript" not in html and "<html" not in html
    assert staff_client.get(url("page_preview")).status_code == 405


def test_deleting_a_page_removes_its_files_and_picks_and_is_audited(
    staff_client, staff, django_capture_on_commit_callbacks, private_storage
):
    doomed = make_page("doomed")
    pdf = attach_pdf(doomed)
    StaffPick.objects.create(page=doomed)
    assert staff_client.get(url("page_delete", doomed.pk)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url("page_delete", doomed.pk))
    assert response["Location"] == url("page_list")
    assert not Page.objects.exists() and not StaffPick.objects.exists()
    assert not StoredFile.objects.filter(pk=pdf.stored_id).exists()
    assert not private_storage.exists(pdf.stored.file.name)
    assert AuditLog.objects.filter(
        object_type="content.page", action="delete", actor=staff
    ).exists()


# --- Files ----------------------------------------------------------------------------------------


def test_files_are_attached_through_crms_checks(staff_client, staff):
    target = make_page("files")
    first = SimpleUploadedFile("価格表.pdf", PDF_BYTES, "application/pdf")
    second = SimpleUploadedFile("手順書.pdf", PDF_BYTES, "application/pdf")
    response = staff_client.post(url("page_file_add", target.pk), {"files": [first, second]})
    assert response.status_code == 302
    files = list(target.files.select_related("stored"))
    assert [f.title for f in files] == ["価格表.pdf", "手順書.pdf"]
    assert [f.position for f in files] == [0, 1]
    assert all(f.stored.content_type == "application/pdf" for f in files)
    assert AuditLog.objects.filter(object_type="content.pagefile", action="create").count() == 2


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<!doctype html><script>alert(1)</script>"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>'),
        ("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00 an executable"),
        ("archive.zip", PDF_BYTES),
    ],
)
def test_refused_files_are_named_in_the_error_and_nothing_is_stored(staff_client, name, content):
    target = make_page("files")
    good = SimpleUploadedFile("ok.pdf", PDF_BYTES, "application/pdf")
    bad = SimpleUploadedFile(name, content, "application/pdf")
    response = staff_client.post(url("page_file_add", target.pk), {"files": [good, bad]})
    assert response.status_code == 200
    errors = response.context["files_form"].errors["files"]
    assert any(error.startswith(name) for error in errors)
    assert 'id="id_files_error"' in response.content.decode()
    assert not PageFile.objects.exists() and not StoredFile.objects.exists()


def test_an_empty_upload_says_so(staff_client):
    target = make_page("files")
    response = staff_client.post(url("page_file_add", target.pk), {})
    assert "files" in response.context["files_form"].errors


def test_files_are_reordered_renamed_and_removed(
    staff_client, django_capture_on_commit_callbacks, private_storage
):
    target = make_page("files")
    first, second, third = (attach_pdf(target, f"{n}.pdf") for n in ("一", "二", "三"))
    staff_client.post(url("page_file_move", target.pk, third.pk), {"direction": "up"})
    assert [f.pk for f in target.files.all()] == [first.pk, third.pk, second.pk]
    staff_client.post(url("page_file_move", target.pk, first.pk), {"direction": "up"})  # first
    staff_client.post(url("page_file_move", target.pk, first.pk), {"direction": "sideways"})
    assert [f.pk for f in target.files.all()] == [first.pk, third.pk, second.pk]

    staff_client.post(url("page_file_rename", target.pk, first.pk), {"title": "料金表 2026"})
    first.refresh_from_db()
    assert first.title == "料金表 2026"
    staff_client.post(url("page_file_rename", target.pk, first.pk), {"title": ""})
    first.refresh_from_db()
    assert first.title == "料金表 2026"

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url("page_file_remove", target.pk, third.pk))
    assert [f.pk for f in target.files.all()] == [first.pk, second.pk]
    assert not private_storage.exists(third.stored.file.name)
    assert AuditLog.objects.filter(object_type="content.pagefile", action="delete").exists()
    # A file is removed only through its own page.
    other = make_page("other")
    assert staff_client.post(url("page_file_remove", other.pk, first.pk)).status_code == 404


# --- Figures on a page's screen -------------------------------------------------------------------


def test_a_pages_screen_shows_views_members_downloads_per_file_and_video_progress(staff_client):
    target = make_page("video", video_embed_url="https://youtu.be/x")
    pdf = attach_pdf(target)
    a, b = member_contact("a@example.jp"), member_contact("b@example.jp")
    for contact in (a, a, b):
        event("page_view", "video", contact)
    event("file_download", "video", a, file_id=pdf.pk)
    event("file_download", "video", a, file_id=pdf.pk)
    event("file_download", "video", b, file_id=pdf.pk)
    for contact, percent in ((a, 25), (a, 50), (b, 25), (b, 25)):
        event("video_progress", "video", contact, percent=percent)

    response = staff_client.get(url("page_detail", target.pk))
    stats = response.context["stats"]
    assert (stats.views, stats.members, stats.downloads) == (3, 2, 3)
    assert response.context["file_rows"] == [(pdf, 3, 2)]
    assert stats.video == [(25, 3, 2), (50, 1, 1), (75, 0, 0), (100, 0, 0)]
    html = response.content.decode()
    assert 'data-percent="25"' in html and f'data-file="{pdf.pk}"' in html


# --- View as --------------------------------------------------------------------------------------


def test_view_as_finds_contacts_by_name_or_email(staff_client):
    target = make_page("p")
    member_contact("yamada@example.jp")
    Contact.objects.create(family_name="佐藤", given_name="花子", email="sato@example.jp")
    response = staff_client.get(url("page_view_as", target.pk), {"q": "佐藤"})
    assert [c.email for c in response.context["results"]] == ["sato@example.jp"]
    response = staff_client.get(
        url("page_view_as", target.pk),
        {"q": "yamada"},
        headers={"HX-Request": "true", "HX-Target": "contact-results"},
    )
    html = response.content.decode()
    assert "yamada@example.jp" in html and "<html" not in html


def test_view_as_shows_the_page_or_the_refusal_without_recording_anything(staff_client):
    gold_page = make_page("gold", AudienceKind.TIERS, audience_tiers=["gold"], body="秘密の内容")
    attach_pdf(gold_page, "ゴールド資料.pdf")
    gold = member_contact("gold@example.jp", tier_slug="gold")
    free = member_contact("free@example.jp", tier_slug="free")

    response = staff_client.get(url("page_view_as", gold_page.pk), {"contact": gold.pk})
    assert response.context["allowed"] is True
    assert url("page_view_as_frame", gold_page.pk, gold.pk) in response.content.decode()
    frame = staff_client.get(url("page_view_as_frame", gold_page.pk, gold.pk))
    html = frame.content.decode()
    assert "秘密の内容" in html and "ゴールド資料.pdf" in html
    assert "sandbox allow-same-origin" in frame["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in frame["Content-Security-Policy"]
    assert frame["X-Frame-Options"] == "SAMEORIGIN"

    response = staff_client.get(url("page_view_as", gold_page.pk), {"contact": free.pk})
    assert response.context["allowed"] is False
    frame = staff_client.get(url("page_view_as_frame", gold_page.pk, free.pk)).content.decode()
    assert "秘密の内容" not in frame and "ゴールド資料.pdf" not in frame
    assert "含まれていません" in frame or "Not included in your membership" in frame
    assert not Event.objects.exists()


def test_view_as_shows_the_contacts_header_and_no_banner_of_the_staff_member(staff_client, staff):
    Contact.objects.create(email=staff.email, user=staff)
    Announcement.objects.create(
        title="全員へのお知らせ", banner=True, audience="public", is_published=True
    )
    target = make_page("p", AudienceKind.PUBLIC)
    visitor = Contact.objects.create(email="lead@example.jp")
    html = staff_client.get(url("page_view_as_frame", target.pk, visitor.pk)).content.decode()
    assert "全員へのお知らせ" not in html and not AnnouncementSeen.objects.exists()
    assert reverse("account_login") in html  # a contact without a login sees "Log in"
    assert f'href="{reverse("console:dashboard")}"' not in html


def test_view_as_says_when_the_page_is_not_published(staff_client):
    draft = make_page("draft", is_published=False)
    contact = member_contact("m@example.jp")
    response = staff_client.get(url("page_view_as", draft.pk), {"contact": contact.pk})
    assert response.context["published"] is False and response.context["allowed"] is True


def test_other_console_pages_are_not_framed(staff_client):
    assert staff_client.get(url("page_list"))["X-Frame-Options"] == "DENY"


# --- Staff picks ----------------------------------------------------------------------------------


def test_staff_add_picks_with_a_checked_filter_and_a_note(staff_client, staff):
    target = make_page("start-here", title="はじめに")
    good = {"field": "tier", "op": "eq", "value": "gold"}
    response = staff_client.post(
        url("pick_create"),
        {"page": target.pk, "segment_filter": json.dumps(good), "note": "まずはこちら"},
    )
    assert response["Location"] == url("pick_list")
    pick = StaffPick.objects.get()
    assert pick.segment_filter == good and pick.note == "まずはこちら"
    assert AuditLog.objects.filter(object_type="content.staffpick", action="create").exists()

    for bad in ('{"field": "no_such_field", "op": "eq", "value": 1}', "{not json"):
        response = staff_client.post(url("pick_create"), {"page": target.pk, "segment_filter": bad})
        assert response.status_code == 200
        assert "segment_filter" in response.context["form"].errors
        assert 'id="id_segment_filter_error"' in response.content.decode()
    assert StaffPick.objects.count() == 1

    staff_client.post(url("pick_create"), {"page": target.pk, "segment_filter": ""})
    assert StaffPick.objects.order_by("position").last().segment_filter == {}


def test_picks_are_ordered_edited_and_removed(staff_client):
    first = StaffPick.objects.create(page=make_page("a"), position=0)
    second = StaffPick.objects.create(page=make_page("b"), position=1)
    staff_client.post(url("pick_move", second.pk), {"direction": "up"})
    assert list(StaffPick.objects.values_list("pk", flat=True)) == [second.pk, first.pk]
    assert (
        staff_client.post(url("pick_move", second.pk), {"direction": "nowhere"}).status_code == 302
    )

    response = staff_client.post(
        url("pick_edit", first.pk), {"page": first.page_id, "segment_filter": "", "note": "新着"}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.note == "新着"
    assert AuditLog.objects.filter(object_type="content.staffpick", action="update").exists()

    staff_client.post(url("pick_delete", second.pk))
    assert list(StaffPick.objects.all()) == [first]
    assert AuditLog.objects.filter(object_type="content.staffpick", action="delete").exists()
    html = staff_client.get(url("pick_list")).content.decode()
    assert f'data-pick="{first.pk}"' in html and "新着" in html
