"""The segments console: list, builder with live count, segment page, "why", access rules.

Pages render in Japanese by default, and the Japanese catalog may not hold these strings yet:
tests assert on data (ids, data-* attributes, counts, JSON) rather than on wording.
"""

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kizuna.accounts.tests.factories import PASSWORD, UserFactory
from kizuna.crm.models import Contact, FieldType, Lifecycle, SavedView
from kizuna.crm.tests.factories import (
    ContactFactory,
    FieldDefinitionFactory,
    RecordTypeFactory,
    TagFactory,
)
from kizuna.segments.models import Membership, Segment
from kizuna.segments.views import console
from kizuna.tracking.models import Event

LIST = "/console/segments/"
ADD = "/console/segments/add/"
COUNT = "/console/segments/count/"
CATALOG = "/console/segments/catalog/"


def segment_url(slug, rest=""):
    return f"/console/segments/{slug}/{rest}"


def make_segment(slug, *, owner=None, shared=True, filter=None, **extra):
    return Segment.objects.create(
        name=extra.pop("name", slug.title()),
        slug=slug,
        owner=owner,
        shared=shared,
        filter=filter
        if filter is not None
        else {"field": "prefecture", "op": "eq", "value": "東京都"},
        **extra,
    )


def form_data(**overrides):
    data = {
        "name": "VIP customers",
        "slug": "",
        "description": "",
        "shared": "on",
        "filter": json.dumps({"all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]}),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def count_in(response) -> int:
    match = re.search(r'data-count="(\d+)"', response.content.decode())
    assert match, response.content.decode()
    return int(match.group(1))


def builder_catalog(response) -> dict:
    body = response.content.decode()
    match = re.search(
        r'<script id="segment-builder-catalog" type="application/json">(.*?)</script>', body, re.S
    )
    assert match
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def tokyo(db):
    return [ContactFactory(prefecture="東京都"), ContactFactory(prefecture="東京都")]


# --- Access -------------------------------------------------------------------------------------


@pytest.fixture
def screens(db):
    make_segment("tokyo")
    contact = ContactFactory()
    return [
        LIST,
        ADD,
        CATALOG,
        segment_url("tokyo"),
        segment_url("tokyo", "edit/"),
        segment_url("tokyo", f"why/{contact.pk}/"),
        f"/console/contacts/{contact.pk}/segments/",
    ]


def test_staff_open_every_segments_screen(staff_client, screens):
    for url in screens:
        assert staff_client.get(url).status_code == 200, url


def test_members_and_strangers_get_403_from_every_segments_screen(client, screens, stranger):
    for user in (UserFactory(), stranger):
        client.force_login(user)
        for url in screens:
            assert client.get(url).status_code == 403, url
        assert client.post(COUNT, {"filter": '{"all": []}'}).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, screens):
    for url in screens:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_console_menu_links_the_segments(staff_client):
    assert f'href="{LIST}"' in staff_client.get("/console/").content.decode()


def test_the_list_shows_shared_segments_and_only_the_users_own_personal_ones(
    client, staff, colleague
):
    make_segment("shared-one", owner=colleague)
    make_segment("mine", owner=staff, shared=False)
    make_segment("colleagues", owner=colleague, shared=False)
    client.force_login(staff)
    body = client.get(LIST).content.decode()
    assert 'data-segment="shared-one"' in body
    assert 'data-segment="mine"' in body
    assert 'data-segment="colleagues"' not in body
    # The predefined segments of the migration are shared.
    for slug in ("new", "slipping-away", "loyal-customers"):
        assert f'data-segment="{slug}"' in body


def test_a_colleague_gets_404_for_another_staff_members_personal_segment(client, staff, colleague):
    make_segment("mine", owner=staff, shared=False)
    contact = ContactFactory()
    client.force_login(colleague)
    for url in (
        segment_url("mine"),
        segment_url("mine", "edit/"),
        segment_url("mine", f"why/{contact.pk}/"),
        segment_url("mine", f"why/?contact={contact.pk}"),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(segment_url("mine", "refresh/")).status_code == 404
    assert client.post(segment_url("mine", "edit/"), form_data(slug="mine")).status_code == 404
    assert Segment.objects.get(slug="mine").name == "Mine"


def test_the_owner_opens_and_edits_their_personal_segment(client, staff):
    make_segment("mine", owner=staff, shared=False)
    client.force_login(staff)
    assert client.get(segment_url("mine")).status_code == 200
    response = client.post(
        segment_url("mine", "edit/"), form_data(name="Mine again", slug="mine", shared=None)
    )
    assert response.status_code == 302
    segment = Segment.objects.get(slug="mine")
    assert segment.name == "Mine again"
    assert not segment.shared


def test_the_segment_list_makes_the_same_number_of_queries_for_many_segments(
    staff_client, staff, django_assert_num_queries
):
    staff_client.get(LIST)  # warm up (session, site settings)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(LIST)
    for index in range(10):
        make_segment(f"more-{index}", owner=staff, refreshed_at=timezone.now(), member_count=index)
    with django_assert_num_queries(len(few.captured_queries)):
        response = staff_client.get(LIST)
    assert response.content.decode().count("data-segment=") == 13


# --- Builder: save --------------------------------------------------------------------------------


def test_a_new_segment_is_saved_with_its_author_as_owner(
    staff_client, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(ADD, form_data(slug="vip"))
    assert response.status_code == 302
    assert response["Location"] == segment_url("vip")
    segment = Segment.objects.get(slug="vip")
    assert segment.owner == staff
    assert segment.shared
    assert segment.filter == {"all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]}
    assert len(callbacks) == 1  # the refresh of its members, after the commit


def test_an_english_name_without_a_slug_gets_one_made_from_it(staff_client):
    response = staff_client.post(ADD, form_data(name="Tokyo VIP customers"))
    assert response.status_code == 302
    assert Segment.objects.filter(slug="tokyo-vip-customers").exists()


def test_a_japanese_name_without_a_slug_asks_for_an_ascii_slug(staff_client):
    response = staff_client.post(ADD, form_data(name="東京の優良顧客"))
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors
    assert not Segment.objects.filter(name="東京の優良顧客").exists()
    body = response.content.decode()
    # The error is tied to the slug input.
    assert 'id="id_slug_error"' in body


def test_a_slug_that_is_a_screen_is_refused(staff_client):
    response = staff_client.post(ADD, form_data(slug="add"))
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors


def test_a_taken_slug_is_refused(staff_client):
    make_segment("vip")
    response = staff_client.post(ADD, form_data(slug="vip"))
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors


def test_a_filter_is_compiled_before_saving_and_its_error_names_the_place(staff_client):
    bad = {"all": [{"tag": "VIP"}, {"field": "prefecture", "op": "gt", "value": "x"}]}
    response = staff_client.post(ADD, form_data(slug="bad", filter=json.dumps(bad)))
    assert response.status_code == 200
    errors = response.context["form"].errors["filter"]
    assert errors[0].startswith("all[1].op:")
    body = response.content.decode()
    assert 'data-place="all[1].op"' in body
    assert 'aria-describedby="id_filter_helptext filter-status id_filter_error"' in body
    assert not Segment.objects.filter(slug="bad").exists()


def test_a_filter_that_is_not_json_is_refused(staff_client):
    response = staff_client.post(ADD, form_data(slug="bad", filter="{all: [}"))
    assert response.status_code == 200
    assert "filter" in response.context["form"].errors


def test_a_segment_cannot_refer_to_itself(staff_client):
    make_segment("a", filter={"all": []})
    make_segment("b", filter={"segment": "a"})
    for document in ({"segment": "a"}, {"any": [{"segment": "b"}]}):
        response = staff_client.post(
            segment_url("a", "edit/"), form_data(name="A", slug="a", filter=json.dumps(document))
        )
        assert response.status_code == 200, document
        assert "filter" in response.context["form"].errors
    assert Segment.objects.get(slug="a").filter == {"all": []}


def test_a_slug_other_segments_refer_to_cannot_be_changed(staff_client):
    make_segment("a", filter={"all": []})
    make_segment("b", filter={"not": {"segment": "a"}})
    response = staff_client.post(
        segment_url("a", "edit/"), form_data(name="A", slug="a2", filter='{"all": []}')
    )
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors
    assert Segment.objects.filter(slug="a").exists()


def test_a_colleague_may_edit_a_shared_segment_but_not_make_it_personal(client, staff, colleague):
    make_segment("team", owner=staff)
    client.force_login(colleague)
    response = client.post(
        segment_url("team", "edit/"), form_data(name="Team", slug="team", shared=None)
    )
    assert response.status_code == 302
    segment = Segment.objects.get(slug="team")
    assert segment.shared  # the field is disabled for anyone but the owner
    assert segment.owner == staff


def test_predefined_segments_are_editable(staff_client):
    segment = Segment.objects.get(slug="slipping-away")
    document = {"field": "last_seen_at", "op": "more_than_days_ago", "value": 60}
    response = staff_client.post(
        segment_url("slipping-away", "edit/"),
        form_data(name=segment.name, slug="slipping-away", filter=json.dumps(document)),
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.filter == document
    assert segment.predefined
    assert segment.shared


def test_a_personal_segment_always_keeps_an_owner(staff_client, staff):
    Segment.objects.filter(slug="new").update(owner=None)
    response = staff_client.post(
        segment_url("new", "edit/"),
        form_data(name="New", slug="new", shared=None, filter='{"all": []}'),
    )
    assert response.status_code == 302
    segment = Segment.objects.get(slug="new")
    assert not segment.shared
    assert segment.owner == staff


# --- Builder: page, catalog, live count -----------------------------------------------------------


def test_the_builder_page_has_the_builder_the_json_and_the_live_count(staff_client):
    body = staff_client.get(ADD).content.decode()
    assert "data-segment-builder" in body
    assert 'data-json-for="id_filter"' in body
    assert 'hx-post="/console/segments/count/"' in body
    assert 'hx-sync="this:replace"' in body
    assert 'id="filter-status"' in body and 'aria-live="polite"' in body
    assert "segments/builder.js" in body
    # No inline script may run under the CSP: the only inline <script> is the JSON catalog.
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body)
    assert scripts == ['<script id="segment-builder-catalog" type="application/json">']
    assert " onclick=" not in body and " onchange=" not in body


def test_the_builder_catalog_has_fields_operators_tags_events_records_and_segments(staff_client):
    FieldDefinitionFactory(
        key="rank",
        type=FieldType.CHOICE,
        label_ja="ランク",
        choices=[{"value": "gold", "ja": "ゴールド"}, {"value": "silver", "ja": "シルバー"}],
    )
    FieldDefinitionFactory(key="old", type=FieldType.TEXT, archived_at=timezone.now())
    purchase = RecordTypeFactory()
    FieldDefinitionFactory(
        target="record", record_type=purchase, key="amount", type=FieldType.NUMBER
    )
    TagFactory(name="VIP")
    make_segment("mine")
    catalog = builder_catalog(staff_client.get(segment_url("mine", "edit/")))
    by_name = {field["name"]: field for field in catalog["fields"]}
    assert by_name["prefecture"]["family"] == "text"
    assert by_name["lifecycle"]["family"] == "choice"
    assert {c["value"] for c in by_name["lifecycle"]["choices"]} == set(Lifecycle.values)
    assert by_name["rank"]["group"] == "custom"
    assert by_name["rank"]["choices"][0] == {"value": "gold", "label": "ゴールド"}
    assert by_name["company.name"]["group"] == "company"
    assert by_name["created_at"]["family"] == "date"
    assert "old" not in by_name  # archived
    assert catalog["families"]["number"][:2] == ["eq", "ne"]
    assert set(catalog["families"]["boolean"]) == {"eq"}
    assert "VIP" in catalog["tags"]
    assert {"value": "form_submit"}.items() <= catalog["events"][3].items()
    assert catalog["records"][0]["key"] == "purchase"
    assert catalog["records"][0]["fields"][0]["name"] == "amount"
    slugs = {segment["slug"] for segment in catalog["segments"]}
    assert "loyal-customers" in slugs
    assert "mine" not in slugs  # the segment being edited cannot refer to itself
    assert "東京都" in catalog["lists"]["prefecture"]
    assert catalog["text"]["add_condition"]


def test_the_catalog_is_also_served_as_json_for_other_pages(staff_client):
    response = staff_client.get(CATALOG)
    assert response["Content-Type"] == "application/json"
    assert "fields" in response.json()


def test_the_live_count_counts_the_contacts_the_filter_selects(staff_client, tokyo):
    ContactFactory(prefecture="大阪府")
    document = {"field": "prefecture", "op": "eq", "value": "東京都"}
    response = staff_client.post(
        COUNT, {"filter": json.dumps(document)}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert count_in(response) == 2
    assert "<html" not in response.content.decode()  # the fragment only


def test_the_live_count_counts_event_conditions(staff_client, tokyo):
    Event.objects.create(type="form_submit", occurred_at=timezone.now(), contact=tokyo[0])
    response = staff_client.post(COUNT, {"filter": '{"event": "form_submit", "within_days": 7}'})
    assert count_in(response) == 1


def test_the_live_count_shows_the_error_and_its_place(staff_client):
    document = {"any": [{"tag": "VIP"}, {"event": "page_view", "min_count": -1}]}
    response = staff_client.post(COUNT, {"filter": json.dumps(document)})
    body = response.content.decode()
    assert 'data-place="any[1].min_count"' in body
    assert "any[1].min_count:" in body
    assert "data-count" not in body


def test_the_live_count_explains_json_it_cannot_read(staff_client):
    body = staff_client.post(COUNT, {"filter": '{"all": ['}).content.decode()
    assert 'id="filter-error"' in body
    assert 'data-place=""' in body


def test_the_live_count_refuses_a_filter_referring_to_the_segment_being_edited(staff_client):
    make_segment("a", filter={"all": []})
    response = staff_client.post(COUNT, {"filter": '{"segment": "a"}', "editing": "a"})
    assert 'data-place="segment"' in response.content.decode()
    response = staff_client.post(COUNT, {"filter": '{"segment": "a"}'})
    assert count_in(response) == 0


def test_a_count_that_takes_too_long_is_given_up_with_a_message(staff_client, monkeypatch):
    def too_long(queryset):
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(console, "_count", too_long)
    body = staff_client.post(COUNT, {"filter": '{"all": []}'}).content.decode()
    assert 'id="filter-error"' in body
    assert "data-count" not in body


def test_the_count_stops_at_the_statement_timeout_on_postgresql(db, monkeypatch):
    ContactFactory()
    monkeypatch.setattr(console, "COUNT_TIMEOUT_MS", 20)
    if connection.vendor == "postgresql":  # SQLite has no statement timeout: it counts to the end
        slow = Contact.objects.extra(where=["(SELECT 1 FROM pg_sleep(0.5)) = 1"])  # noqa: S610
        with pytest.raises(OperationalError):
            console._count(slow)
    assert console._count(Contact.objects.all()) == 1  # the connection is still usable


def test_the_live_count_only_accepts_post(staff_client):
    assert staff_client.get(COUNT).status_code == 405


def test_the_builder_links_its_filter_to_the_contact_list(staff_client):
    make_segment("tokyo")
    body = staff_client.get(segment_url("tokyo", "edit/")).content.decode()
    link = re.search(
        r'<a id="open-in-contacts" data-base="/console/contacts/" href="([^"]+)"', body
    )
    query = parse_qs(urlsplit(html.unescape(link.group(1))).query)
    assert json.loads(query["filter"][0]) == {"field": "prefecture", "op": "eq", "value": "東京都"}


# --- Segment page ---------------------------------------------------------------------------------


def test_the_segment_page_shows_the_count_members_and_distribution(staff_client, tokyo):
    ContactFactory(prefecture="大阪府")
    make_segment("tokyo")
    response = staff_client.get(segment_url("tokyo"))
    assert response.status_code == 200
    assert response.context["count"] == 2
    body = response.content.decode()
    for contact in tokyo:
        assert f'data-contact="{contact.pk}"' in body
        assert f'href="/console/segments/tokyo/why/{contact.pk}/"' in body
    assert 'data-bucket="東京都" data-count="2"' in body


def test_the_segment_page_links_export_and_bulk_update_to_the_whole_segment(staff_client, tokyo):
    make_segment("tokyo")
    response = staff_client.get(segment_url("tokyo"))
    for name in ("export_url", "bulk_url"):
        url = response.context[name]
        query = parse_qs(urlsplit(url).query)
        assert query["select_all"] == ["1"]
        assert json.loads(query["filter"][0]) == {"segment": "tokyo"}
        assert html.escape(url) in response.content.decode()
    # The CRM screens take that selection as it is.
    export = staff_client.get(response.context["export_url"])
    assert export.status_code == 200
    assert export.context["count"] == 2
    bulk = staff_client.get(response.context["bulk_url"])
    assert bulk.status_code == 200
    assert bulk.context["count"] == 2
    listing = staff_client.get(response.context["contact_list_url"])
    assert listing.context["page"].count == 2


def test_the_segment_page_shows_the_members_in_a_saved_views_columns(staff_client, staff, tokyo):
    tokyo[0].city = "千代田区"
    tokyo[0].save()
    make_segment("tokyo")
    view = SavedView.objects.create(name="住所", owner=staff, columns=["city"], sort="city")
    response = staff_client.get(segment_url("tokyo") + f"?view={view.pk}")
    assert [column.key for column in response.context["state"].columns] == ["city"]
    assert "千代田区" in response.content.decode()


def test_the_segment_page_pages_through_its_members(staff_client):
    for index in range(30):
        ContactFactory(prefecture="東京都", email=f"p{index:02d}@example.jp")
    make_segment("tokyo")
    response = staff_client.get(segment_url("tokyo") + "?per=25")
    assert len(response.context["rows"]) == 25
    second = staff_client.get(segment_url("tokyo") + response.context["next_url"])
    assert len(second.context["rows"]) == 5
    first_ids = {contact.pk for contact, _cells in response.context["rows"]}
    assert first_ids.isdisjoint({contact.pk for contact, _cells in second.context["rows"]})


def test_the_segment_page_makes_the_same_number_of_queries_for_more_members(staff_client, staff):
    owner = UserFactory(staff=True)
    make_segment("tokyo")
    ContactFactory(prefecture="東京都", owner=owner)
    staff_client.get(segment_url("tokyo"))
    with CaptureQueriesContext(connection) as few:
        staff_client.get(segment_url("tokyo"))
    for _index in range(15):
        ContactFactory(prefecture="東京都", owner=UserFactory(staff=True))
    with CaptureQueriesContext(connection) as many:
        staff_client.get(segment_url("tokyo"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_distribution_fragment_changes_with_the_chosen_field(staff_client, tokyo):
    tokyo[0].lifecycle = Lifecycle.MEMBER
    tokyo[0].save()
    make_segment("tokyo")
    response = staff_client.get(
        segment_url("tokyo") + "?by=lifecycle",
        headers={"HX-Request": "true", "HX-Target": "distribution"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="distribution"')
    assert 'data-dimension="lifecycle"' in body
    assert 'data-bucket="member" data-count="1"' in body
    assert 'data-bucket="lead" data-count="1"' in body


def test_an_unknown_distribution_field_falls_back_to_prefecture(staff_client, tokyo):
    make_segment("tokyo")
    response = staff_client.get(segment_url("tokyo") + "?by=nothing")
    assert response.context["distribution"].dimension.key == "prefecture"


def test_refresh_now_records_who_is_in_the_segment(staff_client, tokyo):
    make_segment("tokyo")
    response = staff_client.post(segment_url("tokyo", "refresh/"))
    assert response.status_code == 302
    segment = Segment.objects.get(slug="tokyo")
    assert segment.member_count == 2
    assert segment.refreshed_at is not None
    assert Membership.objects.filter(segment=segment).count() == 2
    assert staff_client.get(segment_url("tokyo", "refresh/")).status_code == 405


def test_a_segment_whose_filter_no_longer_compiles_shows_the_error_not_a_500(staff_client):
    make_segment("broken", filter={"field": "no_such_field", "op": "eq", "value": "x"})
    response = staff_client.get(segment_url("broken"))
    assert response.status_code == 200
    assert "no_such_field" in response.context["error"]


# --- Why is this person in it? --------------------------------------------------------------------


def test_asking_why_by_email_or_id_opens_the_explanation(staff_client, tokyo):
    make_segment("tokyo")
    contact = tokyo[0]
    for text in (contact.email.upper(), str(contact.pk)):
        response = staff_client.get(segment_url("tokyo", "why/"), {"contact": text})
        assert response["Location"] == segment_url("tokyo", f"why/{contact.pk}/")


def test_asking_why_for_an_unknown_contact_says_so(staff_client):
    make_segment("tokyo")
    response = staff_client.get(segment_url("tokyo", "why/"), {"contact": "nobody@example.jp"})
    assert response["Location"] == segment_url("tokyo") + "#why"


def test_the_why_page_marks_each_condition_with_text_and_the_counts(staff_client, tokyo):
    contact = tokyo[0]
    for _index in range(3):
        Event.objects.create(type="page_view", occurred_at=timezone.now(), contact=contact)
    document = {
        "all": [
            {"field": "prefecture", "op": "eq", "value": "東京都"},
            {"event": "page_view", "within_days": 7, "min_count": 5},
        ]
    }
    make_segment("busy", filter=document)
    response = staff_client.get(segment_url("busy", f"why/{contact.pk}/"))
    body = response.content.decode()
    root = response.context["root"]
    assert not root.matched
    assert [step.matched for step in root.children] == [True, False]
    assert 'data-place="all[0]" data-matched="true"' in body
    assert 'data-place="all[1]" data-matched="false"' in body
    assert 'data-count="3"' in body
    assert "✓" in body and "✗" in body


def test_the_why_page_of_a_missing_contact_is_404(staff_client):
    make_segment("tokyo")
    assert staff_client.get(segment_url("tokyo", "why/999999/")).status_code == 404


def test_a_contacts_segments_panel_lists_each_segment_with_a_why_link(staff_client, tokyo):
    make_segment("tokyo")
    make_segment("osaka", filter={"field": "prefecture", "op": "eq", "value": "大阪府"})
    response = staff_client.get(
        f"/console/contacts/{tokyo[0].pk}/segments/", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body
    assert 'data-segment="tokyo" data-matched="true"' in body
    assert 'data-segment="osaka" data-matched="false"' in body
    assert f'href="/console/segments/tokyo/why/{tokyo[0].pk}/"' in body


# --- In a browser -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_builder_writes_the_json_and_updates_the_count_in_a_browser(browser, live_server):
    user = UserFactory(staff=True, email="builder@kizuna.test")
    for prefecture in ("東京都", "東京都", "大阪府"):
        ContactFactory(prefecture=prefecture)
    context = browser.new_context(locale="ja-JP", base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.goto("/accounts/login/?next=/console/segments/add/")
    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/console/segments/add/")

    textarea = page.locator("#id_filter")
    page.wait_for_selector("[data-count]")
    assert page.locator("[data-count]").get_attribute("data-count") == "3"  # {"all": []}

    page.locator("#sb-root-g-add").click()  # add a condition: prefecture = …
    value = page.locator("#sb-all-0-value")
    value.fill("東京都")
    page.wait_for_selector('[data-count="2"]')
    assert json.loads(textarea.input_value()) == {
        "all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]
    }

    page.locator("#sb-all-0-c-not").check()  # exclude it
    page.wait_for_selector('[data-count="1"]')
    assert json.loads(textarea.input_value())["all"][0] == {
        "not": {"field": "prefecture", "op": "eq", "value": "東京都"}
    }

    page.locator("#sb-root-g-addgroup").click()  # a nested "any" group
    assert json.loads(textarea.input_value())["all"][1]["any"][0]["field"] == "prefecture"

    # Typing JSON redraws the builder.
    textarea.fill(json.dumps({"any": [{"field": "sessions", "op": "gt", "value": "x"}]}))
    page.wait_for_selector("#sb-any-0-field")
    assert page.locator("#sb-root-g-match").input_value() == "any"
    # The server's error is tied to the control it is about.
    page.wait_for_selector('#sb-any-0-value[aria-invalid="true"]')
    assert "filter-error" in page.locator("#sb-any-0-value").get_attribute("aria-describedby")

    link = page.locator("#open-in-contacts").get_attribute("href")
    assert json.loads(parse_qs(urlsplit(link).query)["filter"][0])["any"][0]["field"] == "sessions"

    # Every kind of node is drawn, and what the builder does not know stays as JSON.
    every_kind = {
        "all": [
            {"event": "form_submit", "within_days": 365, "distinct": "product", "min_count": 2},
            {"record": "purchase", "where": {"field": "product", "op": "eq", "value": "冷蔵庫"}},
            {"segment": "loyal-customers"},
            {"not": {"any": [{"field": "lifecycle", "op": "in", "value": ["member"]}]}},
            {"field": "created_at", "op": "between", "value": ["2026-01-01", "2026-03-31"]},
            {"future": "condition"},
        ]
    }
    textarea.fill(json.dumps(every_kind))
    page.wait_for_selector("#sb-all-5-raw")
    assert page.locator("#sb-all-0-distinct").input_value() == "product"
    assert page.locator("#sb-all-0-more").get_attribute("open") is not None
    assert page.locator("#sb-all-1-where-field").input_value() == "product"
    assert page.locator("#sb-all-2-segment").input_value() == "loyal-customers"
    assert page.locator("#sb-all-3-g-not").is_checked()
    assert page.locator("#sb-all-3-g-match").input_value() == "any"
    assert page.locator("#sb-all-4-value-low").input_value() == "2026-01-01"
    page.locator("#sb-all-0-c-remove").click()  # removing keeps the keyboard in the group
    assert page.evaluate("document.activeElement.id") == "sb-root-g-add"
    assert len(json.loads(textarea.input_value())["all"]) == 5
    assert problems == []
    context.close()
