"""Duplicates and merge: nothing is lost, and a merge can be undone exactly."""

import pytest
from django.apps import apps
from django.db import connection, models
from django.utils import translation

from kizuna.accounts.tests.factories import UserFactory
from kizuna.core.models import AuditLog
from kizuna.crm import merging
from kizuna.crm.consent import record_consent
from kizuna.crm.models import (
    Company,
    ConsentRecord,
    Contact,
    ContactMerge,
    FieldDefinition,
    Note,
    Record,
    Tag,
)
from kizuna.crm.signals import contact_merged, merge_undone
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    NoteFactory,
    RecordFactory,
    TagFactory,
)

IGNORED = {"updated_at", "search_text", "search_pairs"}


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def row(pk, ignore=frozenset()):
    return {k: v for k, v in Contact.objects.values().get(pk=pk).items() if k not in ignore}


@pytest.fixture
def pair(db):
    survivor = ContactFactory(
        email="taro@example.jp",
        family_name="田中",
        given_name="太郎",
        family_name_kana="タナカ",
        phone="",
        custom={"rank": "gold"},
    )
    other = ContactFactory(
        email="t.tanaka@example.jp",
        family_name="田中",
        given_name="太郎",
        family_name_kana="タナカ",
        phone="03-1234-5678",
        company=CompanyFactory(name="株式会社キズナ"),
        custom={"rank": "silver", "memo": "展示会"},
        sessions=3,
    )
    vip, shared = TagFactory(name="VIP"), TagFactory(name="共通")
    survivor.tags.add(shared)
    other.tags.add(vip, shared)
    NoteFactory(contact=other, body="電話あり")
    RecordFactory(contact=other)
    record_consent(other, True, "form", wording="配信に同意します")
    return survivor, other


# --- Merge ---------------------------------------------------------------------------------------


def test_a_merge_keeps_everything(pair, staff):
    survivor, other = pair
    other_id = other.pk
    merging.merge_contacts(survivor, other, {"email": "survivor", "rank": "other"}, by=staff)
    survivor.refresh_from_db()
    assert not Contact.objects.filter(pk=other_id).exists()
    assert (survivor.email, survivor.phone, survivor.company.name, survivor.sessions) == (
        "taro@example.jp",
        "03-1234-5678",
        "株式会社キズナ",
        3,
    )
    assert survivor.custom == {"rank": "silver", "memo": "展示会"}
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["VIP", "共通"]
    assert Tag.objects.count() == 2
    assert Note.objects.get().contact == survivor and Record.objects.get().contact == survivor
    assert ConsentRecord.objects.get().contact == survivor and survivor.email_opt_in


def test_the_values_chosen_for_the_survivor_win_even_when_empty(pair, staff):
    survivor, other = pair
    merging.merge_contacts(survivor, other, {"phone": "survivor", "memo": "survivor"}, by=staff)
    survivor.refresh_from_db()
    assert survivor.phone == "" and "memo" not in survivor.custom
    survivor2, other2 = ContactFactory(custom={"note": "a"}), ContactFactory(custom={})
    merging.merge_contacts(survivor2, other2, {"note": "other"}, by=staff)
    survivor2.refresh_from_db()
    assert survivor2.custom == {}


def test_the_survivor_takes_the_newest_consent_answer(db, staff):
    survivor, other = ContactFactory(), ContactFactory()
    record_consent(other, True, "form")
    record_consent(survivor, False, "staff")  # the newest answer: opted out
    merging.merge_contacts(survivor, other, {}, by=staff)
    survivor.refresh_from_db()
    assert ConsentRecord.objects.filter(contact=survivor).count() == 2
    assert survivor.email_opt_in is False


def test_the_login_moves_to_a_survivor_without_one(db, staff):
    user = UserFactory()
    survivor, other = ContactFactory(), ContactFactory(user=user)
    merging.merge_contacts(survivor, other, {}, by=staff)
    survivor.refresh_from_db()
    assert survivor.user == user


def test_two_contacts_with_a_login_each_are_not_merged(db, staff):
    survivor, other = ContactFactory(user=UserFactory()), ContactFactory(user=UserFactory())
    with pytest.raises(merging.MergeError, match="login"):
        merging.merge_contacts(survivor, other, {}, by=staff)
    assert Contact.objects.count() == 2 and not ContactMerge.objects.exists()


def test_a_contact_is_not_merged_with_itself(db, staff):
    contact = ContactFactory()
    with pytest.raises(merging.MergeError):
        merging.merge_contacts(contact, contact, {}, by=staff)


def test_a_merge_is_audited_and_announced_after_commit(
    pair, staff, django_capture_on_commit_callbacks
):
    survivor, other = pair
    other_id = other.pk
    heard = []

    def listener(**kwargs):
        heard.append(kwargs)

    contact_merged.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            merge = merging.merge_contacts(survivor, other, {}, by=staff)
    finally:
        contact_merged.disconnect(listener)
    entry = AuditLog.objects.get(action="merge", object_id=str(survivor.pk))
    assert entry.actor == staff and entry.changes["merged_contact"] == other_id
    assert heard[0]["survivor"].pk == survivor.pk
    assert (heard[0]["merged_contact_id"], heard[0]["merge"]) == (other_id, merge)


def test_earlier_merges_of_the_merged_contact_move_with_it(db, staff):
    first, second, third = ContactFactory(), ContactFactory(), ContactFactory()
    earlier = merging.merge_contacts(second, first, {}, by=staff)
    later = merging.merge_contacts(third, second, {}, by=staff)
    earlier.refresh_from_db()
    assert earlier.survivor_id == third.pk
    with pytest.raises(merging.MergeError, match="undo that merge first"):
        merging.undo_merge(earlier, by=staff)
    merging.undo_merge(later, by=staff)
    merging.undo_merge(earlier, by=staff)
    assert Contact.objects.filter(pk__in=[first.pk, second.pk, third.pk]).count() == 3


# --- Rows of other apps --------------------------------------------------------------------------


@pytest.fixture
def later_app(transactional_db):
    """Models as a later app would declare them - a hidden foreign key, a many-to-many and a
    one-to-one to Contact - with their tables, for this test only. (Registered under the crm
    label: Django looks for relations among the installed apps' models.)"""

    class LaterEvent(models.Model):
        title = models.CharField(max_length=50)
        organiser = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
        attendees = models.ManyToManyField(Contact, related_name="attended_events")

        class Meta:
            app_label = "crm"

        def __str__(self):
            return self.title

    class LaterMembership(models.Model):
        contact = models.OneToOneField(Contact, on_delete=models.CASCADE)

        class Meta:
            app_label = "crm"

        def __str__(self):
            return str(self.contact_id)

    class LaterTicket(models.Model):
        contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
        code = models.CharField(max_length=10)

        class Meta:
            app_label = "crm"
            constraints = [
                models.UniqueConstraint(fields=["contact", "code"], name="later_ticket_once")
            ]

        def __str__(self):
            return self.code

    later = [LaterEvent, LaterMembership, LaterTicket]
    with connection.schema_editor() as editor:
        for model in later:
            editor.create_model(model)
    yield LaterEvent, LaterMembership, LaterTicket
    with connection.schema_editor() as editor:
        for model in later:
            editor.delete_model(model)
    for name in ("laterevent", "laterevent_attendees", "latermembership", "laterticket"):
        apps.all_models["crm"].pop(name)
    apps.clear_cache()


def test_rows_of_every_app_move_and_go_back(later_app, staff):
    Event, *_ = later_app
    survivor, other = ContactFactory(), ContactFactory()
    organised = Event.objects.create(title="説明会", organiser=other)
    both, only_other = (
        Event.objects.create(title="展示会", organiser=survivor),
        Event.objects.create(title="セミナー", organiser=survivor),
    )
    both.attendees.add(survivor, other)
    only_other.attendees.add(other)
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    organised.refresh_from_db()
    assert organised.organiser_id == survivor.pk
    assert set(survivor.attended_events.all()) == {both, only_other}
    assert both.attendees.count() == 1
    restored, _ = merging.undo_merge(merge, by=staff)
    organised.refresh_from_db()
    assert organised.organiser_id == restored.pk == other.pk
    assert set(restored.attended_events.all()) == {both, only_other}
    assert set(survivor.attended_events.all()) == {both}


def test_a_one_to_one_both_contacts_have_stops_the_merge(later_app, staff):
    _, Membership, _ = later_app
    survivor, other = ContactFactory(), ContactFactory()
    Membership.objects.create(contact=survivor)
    Membership.objects.create(contact=other)
    assert "only one" in merging.merge_problem(survivor, other)
    with pytest.raises(merging.MergeError):
        merging.merge_contacts(survivor, other, {}, by=staff)
    assert Contact.objects.count() == 2


def test_a_one_to_one_only_the_other_has_moves(later_app, staff):
    _, Membership, _ = later_app
    survivor, other = ContactFactory(), ContactFactory()
    membership = Membership.objects.create(contact=other)
    merging.merge_contacts(survivor, other, {}, by=staff)
    membership.refresh_from_db()
    assert membership.contact_id == survivor.pk


def test_rows_that_may_exist_once_per_contact_stop_the_merge_when_both_have_one(later_app, staff):
    *_, Ticket = later_app
    survivor, other = ContactFactory(), ContactFactory()
    Ticket.objects.create(contact=survivor, code="A")
    Ticket.objects.create(contact=other, code="A")
    NoteFactory(contact=other)
    with pytest.raises(merging.MergeError, match="exist only once per contact"):
        merging.merge_contacts(survivor, other, {}, by=staff)
    assert Contact.objects.count() == 2 and Note.objects.get().contact_id == other.pk
    assert not ContactMerge.objects.exists()


# --- Undo ----------------------------------------------------------------------------------------


def test_undo_brings_back_both_contacts_exactly(pair, staff):
    survivor, other = pair
    survivor_before = row(survivor.pk, IGNORED)
    other_before = row(other.pk)
    merge = merging.merge_contacts(survivor, other, {"rank": "other", "email": "other"}, by=staff)
    restored, kept = merging.undo_merge(merge, by=staff)
    assert kept == []
    assert row(survivor.pk, IGNORED) == survivor_before
    assert row(other.pk) == other_before  # the same id, every column, updated_at too
    assert restored.pk == other.pk
    assert sorted(restored.tags.values_list("name", flat=True)) == ["VIP", "共通"]
    assert list(survivor.tags.values_list("name", flat=True)) == ["共通"]
    assert Note.objects.get().contact_id == other.pk and Record.objects.get().contact_id == other.pk
    assert ConsentRecord.objects.get().contact_id == other.pk
    assert ContactMerge.objects.get().undone_at is not None
    assert AuditLog.objects.filter(action="unmerge", object_id=str(survivor.pk)).exists()


def test_a_merge_is_undone_once(pair, staff):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    merging.undo_merge(merge, by=staff)
    with pytest.raises(merging.MergeError, match="already"):
        merging.undo_merge(merge, by=staff)
    assert Contact.objects.count() == 2


def test_undo_gives_the_login_back(db, staff):
    user = UserFactory()
    survivor, other = ContactFactory(), ContactFactory(user=user)
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    merging.undo_merge(merge, by=staff)
    survivor.refresh_from_db()
    other.refresh_from_db()
    assert (survivor.user, other.user) == (None, user)


def test_a_field_changed_after_the_merge_is_kept_on_undo(pair, staff):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    survivor.refresh_from_db()
    survivor.phone = "090-0000-0000"
    survivor.custom = survivor.custom | {"memo": "後で変更"}
    survivor.save()
    assert merging.undo_preview(merge)["kept"] == ["Phone", "memo"]
    _, kept = merging.undo_merge(merge, by=staff)
    survivor.refresh_from_db()
    assert kept == ["phone", "memo"]
    assert survivor.phone == "090-0000-0000" and survivor.custom["memo"] == "後で変更"


def test_a_row_moved_elsewhere_after_the_merge_stays_there(pair, staff):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    third = ContactFactory()
    Note.objects.update(contact=third)
    merging.undo_merge(merge, by=staff)
    assert Note.objects.get().contact == third


def test_a_company_deleted_since_the_merge_is_left_empty_on_undo(pair, staff):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {"company": "survivor"}, by=staff)
    Company.objects.all().delete()
    restored, _ = merging.undo_merge(merge, by=staff)
    assert Contact.objects.get(pk=restored.pk).company is None


def test_undo_is_refused_when_the_email_now_belongs_to_someone_else(pair, staff):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    ContactFactory(email="T.TANAKA@example.jp")
    assert "T.TANAKA" not in merging.undo_preview(merge)["problem"]
    assert "t.tanaka@example.jp" in merging.undo_preview(merge)["problem"]
    with pytest.raises(merging.MergeError, match="t.tanaka@example.jp"):
        merging.undo_merge(merge, by=staff)
    assert ContactMerge.objects.get().undone_at is None
    assert not Contact.objects.filter(pk=other.pk).exists()


def test_undo_is_announced_after_commit(pair, staff, django_capture_on_commit_callbacks):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    heard = []

    def listener(**kwargs):
        heard.append(kwargs)

    merge_undone.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            merging.undo_merge(merge, by=staff)
    finally:
        merge_undone.disconnect(listener)
    assert heard[0]["restored"].pk == other.pk and heard[0]["survivor"].pk == survivor.pk


# --- Likely duplicates ---------------------------------------------------------------------------


def test_likely_duplicates_are_found_by_phone_digits(db):
    a = ContactFactory(phone="03-1111-2222", family_name="佐藤")
    b = ContactFactory(phone="0311112222", family_name="鈴木")
    ContactFactory(phone="03-9999-9999")
    groups = merging.find_duplicate_groups()
    assert [group["ids"] for group in groups] == [[a.pk, b.pk]]
    assert [(r["rule"], r["value"]) for r in groups[0]["reasons"]] == [("phone", "0311112222")]


def test_likely_duplicates_are_found_by_name_and_kana(db):
    kept = {"family_name": "佐藤", "given_name": "一", "family_name_kana": "サトウ"}
    a, b = ContactFactory(**kept), ContactFactory(**kept)
    ContactFactory(**kept | {"family_name_kana": "サイトウ"})  # a different kana: another person
    groups = merging.find_duplicate_groups()
    assert [group["ids"] for group in groups] == [[a.pk, b.pk]]
    assert [reason["rule"] for reason in groups[0]["reasons"]] == ["name"]


def test_contacts_alike_in_several_ways_form_one_group_with_every_reason(db):
    alike = {"phone": "03-1111-2222", "family_name": "佐藤", "family_name_kana": "サトウ"}
    a, b = ContactFactory(**alike, given_name="一"), ContactFactory(**alike, given_name="一")
    groups = merging.find_duplicate_groups()
    assert [group["ids"] for group in groups] == [[a.pk, b.pk]]
    assert [reason["rule"] for reason in groups[0]["reasons"]] == ["phone", "name"]


def test_the_largest_groups_come_first_and_the_limit_holds(db):
    for _ in range(3):
        ContactFactory(phone="03-3333-3333")
    for _ in range(2):
        ContactFactory(phone="03-2222-2222")
    groups = merging.find_duplicate_groups(limit=1)
    assert [len(group["ids"]) for group in groups] == [3]


# --- Screens -------------------------------------------------------------------------------------


def test_the_merge_screen_offers_the_filled_and_newer_values(staff_client, pair):
    survivor, other = pair
    FieldDefinitionFactory(key="rank", label_en="Rank")
    page = staff_client.get(f"/console/contacts/{survivor.pk}/merge/{other.pk}/")
    rows = {row["key"]: row for row in page.context["rows"]}
    assert rows["phone"]["default"] == "other"  # the survivor has none
    assert rows["email"]["default"] == "other"  # both have one; the other changed last
    assert rows["company"]["other"] == "株式会社キズナ"
    assert FieldDefinition.objects.get().key == "rank" and "rank" in rows


def test_staff_merge_and_undo_from_the_console(staff_client, pair):
    survivor, other = pair
    staff_client.post(
        f"/console/contacts/{survivor.pk}/merge/{other.pk}/",
        {"keep_email": "other", "keep_phone": "survivor"},
    )
    survivor.refresh_from_db()
    assert (survivor.email, survivor.phone) == ("t.tanaka@example.jp", "")
    merge = ContactMerge.objects.get()
    detail = staff_client.get(f"/console/contacts/{survivor.pk}/").content.decode()
    assert f"/console/merges/{merge.pk}/undo/" in detail
    confirm = staff_client.get(f"/console/merges/{merge.pk}/undo/")
    assert confirm.status_code == 200 and not confirm.context["problem"]
    response = staff_client.post(f"/console/merges/{merge.pk}/undo/")
    assert response["Location"] == f"/console/contacts/{other.pk}/"
    assert Contact.objects.filter(pk=other.pk).exists()


def test_the_second_contact_can_be_chosen_by_id_or_email(staff_client, pair):
    survivor, other = pair
    base = f"/console/contacts/{survivor.pk}/merge/"
    assert staff_client.get(base).status_code == 200
    by_id = staff_client.get(base, {"other": f"#{other.pk}"})
    by_email = staff_client.get(base, {"other": "T.Tanaka@example.jp"})
    assert by_id["Location"] == by_email["Location"] == f"{base}{other.pk}/"
    assert staff_client.get(base, {"other": "nobody@example.jp"}).context["error"]
    assert staff_client.get(base, {"other": str(survivor.pk)}).context["error"]


def test_the_merge_screen_says_why_two_logins_cannot_be_merged(staff_client, db):
    survivor, other = ContactFactory(user=UserFactory()), ContactFactory(user=UserFactory())
    url = f"/console/contacts/{survivor.pk}/merge/{other.pk}/"
    assert "ログイン" in staff_client.get(url).context["problem"]
    staff_client.post(url, {})
    assert Contact.objects.count() == 2


def test_the_duplicates_page_links_each_pair_to_the_merge_screen(staff_client, db):
    a = ContactFactory(phone="03-1111-2222")
    b = ContactFactory(phone="03-1111-2222")
    page = staff_client.get("/console/contacts/duplicates/")
    assert f"/console/contacts/{a.pk}/merge/{b.pk}/" in page.content.decode()


def test_an_undo_that_cannot_be_done_says_why(staff_client, pair):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=None)
    ContactFactory(email="t.tanaka@example.jp")
    assert staff_client.get(f"/console/merges/{merge.pk}/undo/").context["problem"]
    staff_client.post(f"/console/merges/{merge.pk}/undo/")
    assert ContactMerge.objects.get().undone_at is None


def test_members_cannot_merge_or_undo(member_client, pair):
    survivor, other = pair
    url = f"/console/contacts/{survivor.pk}/merge/{other.pk}/"
    assert member_client.post(url).status_code == 403
    merge = merging.merge_contacts(survivor, other, {}, by=None)
    assert member_client.post(f"/console/merges/{merge.pk}/undo/").status_code == 403
    assert member_client.get("/console/contacts/duplicates/").status_code == 403
    assert ContactMerge.objects.get().undone_at is None
