"""Duplicates and merge: nothing is lost, and a merge can be undone exactly."""

import pytest

from kizuna.core.models import AuditLog
from kizuna.crm import merging
from kizuna.crm.consent import record_consent
from kizuna.crm.models import ConsentRecord, Contact, ContactMerge, Note, Record
from kizuna.crm.tests.factories import (
    ContactFactory,
    NoteFactory,
    RecordFactory,
    TagFactory,
)


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


def test_a_merge_keeps_everything(pair, staff):
    survivor, other = pair
    other_id = other.pk
    merging.merge_contacts(survivor, other, {"email": "survivor", "rank": "other"}, by=staff)
    survivor.refresh_from_db()
    assert not Contact.objects.filter(pk=other_id).exists()
    assert (survivor.email, survivor.phone, survivor.sessions) == (
        "taro@example.jp",
        "03-1234-5678",
        3,
    )
    assert survivor.custom == {"rank": "silver", "memo": "展示会"}
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["VIP", "共通"]
    assert Note.objects.get().contact == survivor and Record.objects.get().contact == survivor
    assert ConsentRecord.objects.get().contact == survivor and survivor.email_opt_in
    assert AuditLog.objects.filter(action="merge", object_id=str(survivor.pk)).exists()


def test_undo_brings_back_both_contacts_exactly(pair, staff):
    survivor, other = pair
    survivor_before = Contact.objects.values().get(pk=survivor.pk)
    other_before = Contact.objects.values().get(pk=other.pk)
    merge = merging.merge_contacts(survivor, other, {"rank": "other"}, by=staff)
    restored, kept = merging.undo_merge(merge, by=staff)
    assert kept == []
    ignore = {"updated_at", "search_text", "search_pairs"}
    assert {
        k: v for k, v in Contact.objects.values().get(pk=survivor.pk).items() if k not in ignore
    } == {k: v for k, v in survivor_before.items() if k not in ignore}
    assert {
        k: v for k, v in Contact.objects.values().get(pk=other.pk).items() if k not in ignore
    } == {k: v for k, v in other_before.items() if k not in ignore}
    assert restored.pk == other.pk
    assert sorted(restored.tags.values_list("name", flat=True)) == ["VIP", "共通"]
    assert list(survivor.tags.values_list("name", flat=True)) == ["共通"]
    assert Note.objects.get().contact_id == other.pk and Record.objects.get().contact_id == other.pk
    assert ConsentRecord.objects.get().contact_id == other.pk
    assert ContactMerge.objects.get().undone_at is not None
    with pytest.raises(merging.MergeError):
        merging.undo_merge(merge, by=staff)


def test_a_field_changed_after_the_merge_is_kept_on_undo(pair, staff):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    survivor.refresh_from_db()
    survivor.phone = "090-0000-0000"
    survivor.save()
    _, kept = merging.undo_merge(merge, by=staff)
    survivor.refresh_from_db()
    assert kept == ["phone"] and survivor.phone == "090-0000-0000"


def test_undo_is_refused_when_the_email_now_belongs_to_someone_else(pair, staff):
    survivor, other = pair
    merge = merging.merge_contacts(survivor, other, {}, by=staff)
    ContactFactory(email="T.TANAKA@example.jp")
    with pytest.raises(merging.MergeError):
        merging.undo_merge(merge, by=staff)
    assert ContactMerge.objects.get().undone_at is None


def test_likely_duplicates_are_found_by_phone_and_by_name_and_kana(db):
    a = ContactFactory(
        phone="03-1111-2222", family_name="佐藤", given_name="一", family_name_kana="サトウ"
    )
    b = ContactFactory(
        phone="03-1111-2222", family_name="佐藤", given_name="一", family_name_kana="サトウ"
    )
    ContactFactory(
        phone="03-9999-9999", family_name="鈴木", given_name="一", family_name_kana="スズキ"
    )
    groups = merging.find_duplicate_groups()
    assert sorted(len(g["ids"]) for g in groups) == [2, 2]
    assert all(g["ids"] == [a.pk, b.pk] for g in groups)


def test_staff_merge_and_undo_from_the_console(staff_client, pair):
    survivor, other = pair
    page = staff_client.get(f"/console/contacts/{survivor.pk}/merge/{other.pk}/")
    assert page.status_code == 200 and page.context["rows"]
    staff_client.post(f"/console/contacts/{survivor.pk}/merge/{other.pk}/", {"keep_email": "other"})
    survivor.refresh_from_db()
    assert survivor.email == "t.tanaka@example.jp"
    detail = staff_client.get(f"/console/contacts/{survivor.pk}/")
    assert "merge_undo" not in detail.content.decode() and b"/undo/" in detail.content
    merge = ContactMerge.objects.get()
    staff_client.post(f"/console/merges/{merge.pk}/undo/")
    assert Contact.objects.filter(pk=other.pk).exists()
    assert staff_client.get("/console/contacts/duplicates/").status_code == 200


def test_members_cannot_merge(member_client, pair):
    survivor, other = pair
    assert (
        member_client.post(f"/console/contacts/{survivor.pk}/merge/{other.pk}/").status_code == 403
    )
    assert Contact.objects.count() == 2
