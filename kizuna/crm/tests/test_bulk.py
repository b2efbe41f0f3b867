"""Bulk updates on a selection or a whole search result, audited, large ones in the background."""

import pytest

from kizuna.core.models import AuditLog
from kizuna.crm import bulk
from kizuna.crm.models import BulkJob, Contact, FieldType, JobState
from kizuna.crm.tests.factories import ContactFactory, FieldDefinitionFactory, TagFactory


@pytest.fixture
def three(db):
    return [ContactFactory(family_name=name) for name in ("田中", "田中", "鈴木")]


def test_set_a_custom_field_on_the_ticked_rows(staff_client, three):
    FieldDefinitionFactory(
        key="rank", type=FieldType.CHOICE, choices=[{"value": "gold", "ja": "ゴールド"}]
    )
    ids = [three[0].pk, three[2].pk]
    response = staff_client.post(
        "/console/contacts/bulk/",
        {"ids": ids, "action": "set_field", "field": "rank", "value": "ゴールド"},
    )
    job = BulkJob.objects.get()
    assert response["Location"] == f"/console/bulk/{job.pk}/"
    assert job.state == JobState.DONE
    assert [c.custom.get("rank") for c in Contact.objects.order_by("id")] == ["gold", None, "gold"]
    assert AuditLog.objects.get(action="bulk_update").rows == 2


def test_a_bad_value_is_refused_before_anything_changes(staff_client, three):
    FieldDefinitionFactory(key="count", type=FieldType.NUMBER)
    response = staff_client.post(
        "/console/contacts/bulk/",
        {"ids": [three[0].pk], "action": "set_field", "field": "count", "value": "abc"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not BulkJob.objects.exists()


def test_add_and_remove_tags_on_a_whole_search_result(staff_client, three):
    staff_client.post(
        "/console/contacts/bulk/",
        {"select_all": "1", "q": "田中", "action": "add_tags", "tags": "VIP, 展示会"},
    )
    tagged = Contact.objects.filter(tags__name="VIP").distinct()
    assert sorted(c.pk for c in tagged) == [three[0].pk, three[1].pk]
    staff_client.post(
        "/console/contacts/bulk/",
        {"select_all": "1", "q": "田中", "action": "remove_tags", "tags": "VIP"},
    )
    assert not Contact.objects.filter(tags__name="VIP").exists()
    assert Contact.objects.filter(tags__name="展示会").count() == 2


def test_set_owner(staff_client, staff, three):
    staff_client.post(
        "/console/contacts/bulk/", {"ids": [three[1].pk], "action": "set_owner", "owner": staff.pk}
    )
    assert list(Contact.objects.filter(owner=staff)) == [three[1]]


def test_delete_needs_confirmation(staff_client, three):
    data = {"ids": [three[0].pk], "action": "delete"}
    unconfirmed = staff_client.post("/console/contacts/bulk/", data)
    assert unconfirmed.status_code == 200 and Contact.objects.count() == 3
    staff_client.post("/console/contacts/bulk/", data | {"confirm": "on"})
    assert Contact.objects.count() == 2
    assert AuditLog.objects.get(action="bulk_delete").rows == 1


def test_a_large_selection_runs_as_a_background_task(
    staff_client, three, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr(bulk, "INLINE_LIMIT", 1)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/console/contacts/bulk/", {"select_all": "1", "action": "add_tags", "tags": "全員"}
        )
    job = BulkJob.objects.get()
    assert (job.state, job.processed_rows) == (JobState.DONE, 3)
    assert TagFactory(name="全員").contacts.count() == 3


def test_a_claimed_job_does_not_run_twice(db, staff, three):
    job = bulk.create_bulk_job("add_tags", {"tags": ["x"]}, {"ids": [three[0].pk]}, by=staff)
    bulk.run_bulk_job(job.pk)
    bulk.run_bulk_job(job.pk)
    assert AuditLog.objects.filter(action="bulk_update").count() == 1


def test_members_cannot_bulk_update(member_client):
    assert member_client.post("/console/contacts/bulk/", {"select_all": "1"}).status_code == 403
