import json

import pytest
from django.urls import reverse

from kizuna.core.models import AuditAction, AuditLog
from kizuna.crm import listing
from kizuna.crm.fields import contact_columns
from kizuna.crm.models import (
    ConsentMethod,
    ConsentRecord,
    Contact,
    FieldType,
    Lifecycle,
    Note,
    SavedView,
)
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    NoteFactory,
    RecordFactory,
    TagFactory,
)

LIST = "/console/contacts/"


def contact_form_data(**overrides):
    data = {
        "family_name": "田中",
        "given_name": "花子",
        "family_name_kana": "たなか",
        "given_name_kana": "ﾊﾅｺ",
        "email": "hanako@example.jp",
        "phone": "",
        "postal_code": "",
        "prefecture": "",
        "city": "",
        "address": "",
        "company": "",
        "owner": "",
        "lifecycle": "lead",
        "source": "",
        "external_id": "",
    }
    data.update(overrides)
    return data


# --- Access -------------------------------------------------------------------------------------


def screen_urls(contact, note, saved_view):
    return [
        ("get", LIST),
        ("get", "/console/contacts/new/"),
        ("get", f"/console/contacts/{contact.pk}/"),
        ("get", f"/console/contacts/{contact.pk}/edit/"),
        ("get", f"/console/contacts/{contact.pk}/delete/"),
        ("post", f"/console/contacts/{contact.pk}/delete/"),
        ("post", f"/console/contacts/{contact.pk}/tags/"),
        ("post", f"/console/contacts/{contact.pk}/notes/"),
        ("get", f"/console/notes/{note.pk}/edit/"),
        ("post", f"/console/notes/{note.pk}/delete/"),
        ("post", "/console/contacts/views/"),
        ("post", f"/console/contacts/views/{saved_view.pk}/delete/"),
    ]


def test_members_get_403_from_every_contact_screen_and_change_nothing(member_client, staff):
    contact = ContactFactory()
    note = NoteFactory(contact=contact, author=staff)
    saved_view = SavedView.objects.create(name="v", owner=staff)
    for method, url in screen_urls(contact, note, saved_view):
        response = getattr(member_client, method)(url, {"body": "x", "names": "x", "name": "x"})
        assert response.status_code == 403, url
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert Note.objects.count() == 1
    assert SavedView.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, staff):
    contact = ContactFactory()
    note = NoteFactory(contact=contact, author=staff)
    saved_view = SavedView.objects.create(name="v", owner=staff)
    for method, url in screen_urls(contact, note, saved_view):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")


# --- List ---------------------------------------------------------------------------------------


def test_the_list_shows_contacts_with_the_default_columns(staff_client):
    company = CompanyFactory(name="株式会社きずな")
    ContactFactory(family_name="田中", given_name="一郎", company=company, phone="03-1234-5678")
    response = staff_client.get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "田中 一郎" in body
    assert "株式会社きずな" in body
    assert "03-1234-5678" in body


def test_staff_pick_columns_including_custom_fields(staff_client):
    FieldDefinitionFactory(key="rank", label_ja="ランク", type=FieldType.TEXT)
    ContactFactory(custom={"rank": "ゴールド"}, email="gold@example.jp")
    response = staff_client.get(LIST, {"column": ["rank", "email"]})
    assert [c.key for c in response.context["state"].columns] == ["rank", "email"]
    assert "ゴールド" in response.content.decode()
    assert "ランク" in response.content.decode()


def test_the_list_runs_the_same_few_queries_for_any_number_of_rows(
    staff_client, django_assert_num_queries, staff
):
    FieldDefinitionFactory(key="rank", type=FieldType.TEXT)
    columns = "email,company,owner,tags,rank,updated_at"
    for n in range(3):
        contact = ContactFactory(company=CompanyFactory(), owner=staff, custom={"rank": str(n)})
        contact.tags.add(TagFactory(name=f"t{n}"))
    staff_client.get(LIST, {"columns": columns})  # warm the session and caches
    # session, user, field definitions, capped count, the page, its tags, saved views
    with django_assert_num_queries(7):
        staff_client.get(LIST, {"columns": columns})
    for n in range(20):
        contact = ContactFactory(company=CompanyFactory(), owner=staff)
        contact.tags.add(TagFactory(name=f"u{n}"))
    with django_assert_num_queries(7):
        response = staff_client.get(LIST, {"columns": columns})
    assert len(response.context["rows"]) == 23


def test_the_count_is_capped_instead_of_counting_everything(staff_client, monkeypatch):
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    ContactFactory.create_batch(5)
    response = staff_client.get(LIST)
    assert response.context["page"].count_label == "3+"
    assert "3+" in response.content.decode()


def test_quick_search_finds_japanese_names(staff_client):
    ContactFactory(family_name="田中", given_name="太郎", family_name_kana="タナカ")
    ContactFactory(family_name="山田", given_name="花子", family_name_kana="ヤマダ")
    response = staff_client.get(LIST, {"q": "田中"})
    assert [c.family_name for c, _cells in response.context["rows"]] == ["田中"]
    response = staff_client.get(LIST, {"q": "やま"})
    assert [c.family_name for c, _cells in response.context["rows"]] == ["山田"]


def test_a_filter_narrows_the_list_and_a_bad_one_is_reported(staff_client):
    ContactFactory(prefecture="東京都", email="tokyo@example.jp")
    ContactFactory(prefecture="大阪府", email="osaka@example.jp")
    document = json.dumps({"field": "prefecture", "op": "eq", "value": "東京都"})
    response = staff_client.get(LIST, {"filter": document})
    assert [c.email for c, _cells in response.context["rows"]] == ["tokyo@example.jp"]
    response = staff_client.get(LIST, {"filter": "{not json"})
    assert response.status_code == 200
    assert response.context["state"].errors


def test_the_list_posts_ticked_rows_or_the_whole_result_to_bulk_and_export(staff_client):
    contact = ContactFactory()
    body = staff_client.get(LIST, {"q": "山田"}).content.decode()
    assert f'name="ids" value="{contact.pk}"' in body
    assert 'name="select_all" value="1"' in body
    assert 'name="q" value="山田"' in body
    assert 'name="filter"' in body
    for name in ("crm:bulk_start", "crm:contact_export"):
        url = listing_url(name)
        if url:
            assert f'formaction="{url}"' in body


def listing_url(name):
    try:
        return reverse(name)
    except Exception:
        return ""


def test_an_htmx_request_gets_only_the_results(staff_client):
    ContactFactory(family_name="田中")
    response = staff_client.get(
        LIST, {"q": "田中"}, headers={"HX-Request": "true", "HX-Target": "contact-results"}
    )
    body = response.content.decode()
    assert 'id="contact-results"' in body
    assert "<html" not in body


# --- Keyset pages -------------------------------------------------------------------------------


def walk(params, per_page=25, client=None):
    """Every page forwards, then every page backwards from the last; returns both id lists."""
    forwards, pages = [], []
    cursor = ""
    while True:
        response = client.get(LIST, {**params, "per": per_page, "after": cursor})
        page = response.context["page"]
        pages.append(page)
        forwards += [contact.pk for contact, _cells in response.context["rows"]]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    backwards = [contact.pk for contact in pages[-1].rows]
    before = pages[-1].previous_cursor
    while before:
        response = client.get(LIST, {**params, "per": per_page, "before": before})
        backwards = [contact.pk for contact, _cells in response.context["rows"]] + backwards
        before = response.context["page"].previous_cursor
    return forwards, backwards


@pytest.mark.parametrize("sort", ["family_name_kana", "-family_name_kana", "-created_at"])
def test_keyset_pages_neither_repeat_nor_skip_rows_that_tie(staff_client, sort):
    for n in range(60):
        ContactFactory(family_name_kana=["アイ", "カキ", "サシ"][n % 3])
    forwards, backwards = walk({"sort": sort}, client=staff_client)
    assert len(forwards) == 60
    assert len(set(forwards)) == 60
    assert backwards == forwards
    kana = dict(Contact.objects.values_list("id", "family_name_kana"))
    expected = sorted(forwards, key=lambda pk: (kana[pk], pk), reverse=sort.startswith("-"))
    if "kana" in sort:
        assert forwards == expected


@pytest.mark.parametrize("sort", ["score", "-score", "company", "-company", "last_seen_at"])
def test_sorting_by_nullable_and_custom_columns_pages_through_every_row(staff_client, sort):
    FieldDefinitionFactory(key="score", type=FieldType.NUMBER)
    company = CompanyFactory(name="あ社")
    for n in range(55):
        custom = {"score": [5, 10, 100][n % 3]} if n % 4 else {}
        ContactFactory(custom=custom, company=company if n % 2 else None)
    forwards, backwards = walk({"sort": sort}, client=staff_client)
    assert sorted(forwards) == sorted(Contact.objects.values_list("id", flat=True))
    assert backwards == forwards


def test_custom_numbers_sort_as_numbers_with_empty_values_last(staff_client):
    FieldDefinitionFactory(key="score", type=FieldType.NUMBER)
    for score in (100, 5, None, 20):
        ContactFactory(custom={} if score is None else {"score": score})
    response = staff_client.get(LIST, {"sort": "score", "columns": "score"})
    scores = [c.custom.get("score") for c, _cells in response.context["rows"]]
    assert scores == [5, 20, 100, None]
    response = staff_client.get(LIST, {"sort": "-score", "columns": "score"})
    scores = [c.custom.get("score") for c, _cells in response.context["rows"]]
    assert scores == [100, 20, 5, None]


def test_a_damaged_cursor_shows_the_first_page(staff_client):
    ContactFactory()
    response = staff_client.get(LIST, {"after": "not-a-cursor!!"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 1


# --- Create, edit, delete -----------------------------------------------------------------------


def test_staff_add_a_contact_typed_the_japanese_way(staff_client, staff):
    company = CompanyFactory(name="株式会社きずな")
    response = staff_client.post(
        "/console/contacts/new/",
        contact_form_data(
            email="ＨＡＮＡＫＯ＠ＥＸＡＭＰＬＥ．ＪＰ",
            phone="０３（１２３４）５６７８",
            postal_code="〒１００ー０００１",
            company="株式会社きずな",
            owner=staff.pk,
        ),
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert response["Location"] == f"/console/contacts/{contact.pk}/"
    assert contact.email == "HANAKO@example.jp"
    assert contact.phone == "03-1234-5678"
    assert contact.postal_code == "100-0001"
    assert contact.family_name_kana == "タナカ"
    assert contact.given_name_kana == "ハナコ"
    assert contact.company == company
    assert contact.owner == staff
    entry = AuditLog.objects.get(action=AuditAction.CREATE, object_type="crm.contact")
    assert entry.actor == staff
    assert entry.changes["email"] == [None, "HANAKO@example.jp"]


def test_an_email_already_used_is_refused_whatever_its_case(staff_client):
    ContactFactory(email="Hanako@Example.jp")
    response = staff_client.post(
        "/console/contacts/new/", contact_form_data(email="ｈａｎａｋｏ＠example.JP")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "このメールアドレスは別の顧客に登録されています。"
    ]
    assert Contact.objects.count() == 1


def test_the_duplicate_email_message_is_in_the_users_language(staff_client):
    ContactFactory(email="taro@example.jp")
    staff_client.cookies["django_language"] = "en"
    response = staff_client.post(
        "/console/contacts/new/", contact_form_data(email="TARO@example.jp")
    )
    assert response.context["form"].errors["email"] == [
        "Another contact already has this email address."
    ]


def test_an_unknown_company_name_is_refused_with_a_message(staff_client):
    response = staff_client.post("/console/contacts/new/", contact_form_data(company="ない会社"))
    assert response.status_code == 200
    assert "company" in response.context["form"].errors
    assert not Contact.objects.exists()


def test_the_company_box_suggests_companies_by_name(staff_client):
    CompanyFactory(name="株式会社きずな")
    CompanyFactory(name="きずな商事")
    CompanyFactory(name="山田工業")
    response = staff_client.get("/console/companies/options/", {"company": "きずな"})
    body = response.content.decode()
    assert "株式会社きずな" in body and "きずな商事" in body
    assert "山田工業" not in body


def test_two_companies_with_one_name_are_told_apart_by_number(staff_client):
    first = CompanyFactory(name="同名株式会社")
    second = CompanyFactory(name="同名株式会社")
    response = staff_client.post(
        "/console/contacts/new/", contact_form_data(company="同名株式会社")
    )
    assert "company" in response.context["form"].errors
    body = staff_client.get("/console/companies/options/", {"company": "同名"}).content.decode()
    assert f"同名株式会社 (#{second.pk})" in body
    response = staff_client.post(
        "/console/contacts/new/", contact_form_data(company=f"同名株式会社 (#{second.pk})")
    )
    assert response.status_code == 302
    assert Contact.objects.get().company == second != first


def test_owner_choices_are_active_staff_only(staff_client, staff, colleague, member):
    colleague.is_active = False
    colleague.save()
    form = staff_client.get("/console/contacts/new/").context["form"]
    assert list(form.fields["owner"].queryset) == [staff]


def test_ticking_consent_records_who_confirmed_it_and_the_wording(staff_client, staff):
    staff_client.post("/console/contacts/new/", contact_form_data(email_opt_in="on"))
    contact = Contact.objects.get()
    assert contact.email_opt_in is True
    consent = ConsentRecord.objects.get()
    assert consent.opted_in is True
    assert consent.method == ConsentMethod.STAFF
    assert consent.recorded_by == staff
    assert consent.wording
    assert consent.ip_address == "127.0.0.1"


def test_unticking_consent_opts_out_and_keeps_the_history(staff_client):
    staff_client.post("/console/contacts/new/", contact_form_data(email_opt_in="on"))
    contact = Contact.objects.get()
    staff_client.post(f"/console/contacts/{contact.pk}/edit/", contact_form_data())
    contact.refresh_from_db()
    assert contact.email_opt_in is False
    assert list(ConsentRecord.objects.order_by("id").values_list("opted_in", flat=True)) == [
        True,
        False,
    ]
    body = staff_client.get(f"/console/contacts/{contact.pk}/").content.decode()
    assert body.count("consent-history") == 1


def test_an_edit_is_audited_with_the_changed_fields(staff_client, staff):
    contact = ContactFactory(family_name="田中", given_name="花子", email="hanako@example.jp")
    response = staff_client.post(
        f"/console/contacts/{contact.pk}/edit/",
        contact_form_data(city="渋谷区", family_name_kana="タナカ", given_name_kana="ハナコ"),
    )
    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.UPDATE)
    assert entry.changes["city"] == ["", "渋谷区"]
    assert "email" not in entry.changes


def test_deleting_asks_first_then_deletes_and_audits(staff_client):
    contact = ContactFactory()
    page = staff_client.get(f"/console/contacts/{contact.pk}/delete/")
    assert page.status_code == 200
    assert Contact.objects.exists()
    response = staff_client.post(f"/console/contacts/{contact.pk}/delete/")
    assert response.status_code == 302
    assert not Contact.objects.exists()
    assert AuditLog.objects.filter(action=AuditAction.DELETE, object_id=str(contact.pk)).exists()


# --- Detail -------------------------------------------------------------------------------------


def test_the_detail_page_shows_fields_by_group_records_notes_and_timeline(staff_client, staff):
    FieldDefinitionFactory(key="rank", label_ja="会員ランク", group_ja="契約", type=FieldType.TEXT)
    contact = ContactFactory(family_name="田中", given_name="花子", custom={"rank": "ゴールド"})
    RecordFactory(contact=contact)
    NoteFactory(contact=contact, author=staff, body="資料を送付済み")
    contact.tags.add(TagFactory(name="VIP"))
    response = staff_client.get(f"/console/contacts/{contact.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    groups = dict(response.context["groups"])
    assert any(item["text"] == "ゴールド" for item in groups["契約"])
    assert "資料を送付済み" in body
    assert "VIP" in body
    assert "購入" in body
    kinds = {entry.kind for entry in response.context["timeline"]}
    assert {"note", "record"} <= kinds


def test_the_timeline_is_newest_first(staff_client, staff):
    contact = ContactFactory()
    old = NoteFactory(contact=contact, author=staff, body="古い")
    old.created_at = old.created_at.replace(year=2020)
    old.save()
    NoteFactory(contact=contact, author=staff, body="新しい")
    timeline = staff_client.get(f"/console/contacts/{contact.pk}/").context["timeline"]
    whens = [entry.when for entry in timeline]
    assert whens == sorted(whens, reverse=True)
    assert timeline[-1].body == "古い"


def test_tags_are_added_and_removed_from_the_detail_page(staff_client):
    contact = ContactFactory()
    staff_client.post(f"/console/contacts/{contact.pk}/tags/", {"names": "VIP、展示会2026"})
    assert sorted(contact.tags.values_list("name", flat=True)) == ["VIP", "展示会2026"]
    tag = contact.tags.get(name="VIP")
    staff_client.post(f"/console/contacts/{contact.pk}/tags/{tag.pk}/remove/")
    assert list(contact.tags.values_list("name", flat=True)) == ["展示会2026"]
    assert (
        AuditLog.objects.filter(action=AuditAction.UPDATE, object_type="crm.contact").count() == 2
    )


def test_staff_add_edit_and_delete_their_own_notes_only(staff_client, colleague):
    contact = ContactFactory()
    staff_client.post(f"/console/contacts/{contact.pk}/notes/", {"body": "電話しました"})
    note = Note.objects.get()
    staff_client.post(f"/console/notes/{note.pk}/edit/", {"body": "電話しました（折り返し待ち）"})
    note.refresh_from_db()
    assert note.body == "電話しました（折り返し待ち）"
    theirs = NoteFactory(contact=contact, author=colleague)
    assert staff_client.get(f"/console/notes/{theirs.pk}/edit/").status_code == 403
    assert staff_client.post(f"/console/notes/{theirs.pk}/delete/").status_code == 403
    staff_client.post(f"/console/notes/{note.pk}/delete/")
    assert list(Note.objects.all()) == [theirs]


def test_an_empty_note_is_refused_with_a_message(staff_client):
    contact = ContactFactory()
    response = staff_client.post(
        f"/console/contacts/{contact.pk}/notes/", {"body": "   "}, follow=True
    )
    assert not Note.objects.exists()
    assert list(response.context["messages"])


# --- Saved views --------------------------------------------------------------------------------


def test_staff_save_the_current_view_and_pick_it_again(staff_client, staff):
    response = staff_client.post(
        "/console/contacts/views/",
        {"name": "東京の見込み客", "column": ["email", "city"], "sort": "-updated_at", "q": "田中"},
    )
    view = SavedView.objects.get()
    assert response["Location"] == f"/console/contacts/?view={view.pk}"
    assert (view.owner, view.columns, view.sort, view.query) == (
        staff,
        ["email", "city"],
        "-updated_at",
        "田中",
    )
    state = staff_client.get(LIST, {"view": view.pk}).context["state"]
    assert [c.key for c in state.columns] == ["email", "city"]
    assert (state.sort, state.query) == ("-updated_at", "田中")


def test_personal_views_are_private_and_shared_ones_visible_to_all_staff(client, staff, colleague):
    SavedView.objects.create(name="自分用", owner=staff)
    SavedView.objects.create(name="全員用", owner=staff, shared=True)
    client.force_login(colleague)
    names = [view.name for view in client.get(LIST).context["saved_views"]]
    assert names == ["全員用"]


def test_only_the_owner_deletes_a_saved_view(client, staff, colleague):
    view = SavedView.objects.create(name="全員用", owner=staff, shared=True)
    client.force_login(colleague)
    assert client.post(f"/console/contacts/views/{view.pk}/delete/").status_code == 404
    client.force_login(staff)
    client.post(f"/console/contacts/views/{view.pk}/delete/")
    assert not SavedView.objects.exists()


def test_every_contact_column_can_be_shown(staff_client):
    FieldDefinitionFactory(key="joined", type=FieldType.DATE)
    ContactFactory(custom={"joined": "2026-11-22"})
    keys = ",".join(column.key for column in contact_columns())
    response = staff_client.get(LIST, {"columns": keys})
    assert response.status_code == 200
    assert "2026/11/22" in response.content.decode()


def test_the_detail_page_makes_no_query_per_note_record_or_consent(staff_client, staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kizuna.crm.consent import record_consent

    contact = ContactFactory()

    def add_history():
        NoteFactory(contact=contact, author=staff)
        RecordFactory(contact=contact)
        record_consent(contact, True, ConsentMethod.STAFF, by=staff)
        contact.tags.add(TagFactory())

    add_history()
    staff_client.get(f"/console/contacts/{contact.pk}/")
    with CaptureQueriesContext(connection) as few:
        staff_client.get(f"/console/contacts/{contact.pk}/")
    for _ in range(5):
        add_history()
    with CaptureQueriesContext(connection) as many:
        staff_client.get(f"/console/contacts/{contact.pk}/")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_every_sortable_column_pages_through_every_row_both_ways(staff_client, staff):
    choices = [{"value": "a", "ja": "A"}, {"value": "b", "ja": "B"}]
    custom_values = {
        FieldType.TEXT: ["あ", "い"],
        FieldType.NUMBER: [3, 20],
        FieldType.DECIMAL: ["1.5", "10"],
        FieldType.DATE: ["2026-01-02", "2025-12-31"],
        FieldType.DATETIME: ["2026-01-02T00:00:00+00:00", "2026-01-01T23:00:00.5+00:00"],
        FieldType.BOOLEAN: [True, False],
        FieldType.CHOICE: ["a", "b"],
    }
    for kind in custom_values:
        FieldDefinitionFactory(key=f"c_{kind}", type=kind, choices=choices)
    company = CompanyFactory()
    for n in range(30):
        custom = {f"c_{k}": v[n % 2] for k, v in custom_values.items() if n % 3}
        ContactFactory(
            custom=custom,
            company=company if n % 2 else None,
            owner=staff if n % 3 else None,
            city=["", "渋谷区", "新宿区"][n % 3],
        )
    every_id = sorted(Contact.objects.values_list("id", flat=True))
    for column in [c for c in contact_columns() if c.sortable]:
        for sort in (column.key, f"-{column.key}"):
            forwards, backwards = walk({"sort": sort}, client=staff_client)
            assert sorted(forwards) == every_id, sort
            assert backwards == forwards, sort


def test_the_lifecycle_only_moves_up(db):
    contact = ContactFactory(lifecycle=Lifecycle.VISITOR)
    assert contact.advance_lifecycle(Lifecycle.LEAD) and contact.lifecycle == Lifecycle.LEAD
    assert contact.advance_lifecycle(Lifecycle.MEMBER)
    assert not contact.advance_lifecycle(Lifecycle.LEAD)
    contact.refresh_from_db()
    assert contact.lifecycle == Lifecycle.MEMBER
