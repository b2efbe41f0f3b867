"""Bulk updates on ticked rows or a whole search / filter result: validated once, confirmed with
the number of contacts, applied in chunks with set-based SQL, resumable, audited; large ones in the
background."""

import datetime

import pytest
from django.utils import timezone

from kizuna.core.models import AuditLog
from kizuna.crm import bulk, tasks
from kizuna.crm.models import BulkJob, Company, Contact, FieldType, JobState, Lifecycle, Tag
from kizuna.crm.search import search_contacts
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    TagFactory,
)

START = "/console/contacts/bulk/"


@pytest.fixture
def three(db):
    return [ContactFactory(family_name=name) for name in ("田中", "田中", "鈴木")]


def start_and_confirm(client, data: dict):
    """Fill in the form, then confirm on the confirmation page; returns the job."""
    response = client.post(START, data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    job = BulkJob.objects.latest("id")
    assert response["Location"] == f"/console/bulk/{job.pk}/confirm/"
    assert job.state == JobState.DRAFT
    page = client.get(response["Location"])
    confirmed = client.post(
        response["Location"], {"expected_rows": page.context["job"].total_rows, "confirm": "1"}
    )
    assert confirmed["Location"] == f"/console/bulk/{job.pk}/"
    job.refresh_from_db()
    return job


def custom_values(key):
    return [c.custom.get(key) for c in Contact.objects.order_by("id")]


# --- Each action ---------------------------------------------------------------------------------


def test_set_a_custom_choice_field_on_the_ticked_rows(staff_client, three):
    FieldDefinitionFactory(
        key="rank", type=FieldType.CHOICE, choices=[{"value": "gold", "ja": "ゴールド"}]
    )
    three[0].custom = {"memo": "kept"}
    three[0].save()
    ids = [three[0].pk, three[2].pk]
    job = start_and_confirm(
        staff_client, {"ids": ids, "action": "set_field", "field": "rank", "value": "ゴールド"}
    )
    assert (job.state, job.processed_rows) == (JobState.DONE, 2)
    assert custom_values("rank") == ["gold", None, "gold"]
    assert Contact.objects.get(pk=three[0].pk).custom == {"memo": "kept", "rank": "gold"}
    assert AuditLog.objects.get(action="bulk_update").rows == 2


@pytest.mark.parametrize(
    ("kind", "choices", "posted", "stored"),
    [
        (FieldType.NUMBER, [], "１，２００", 1200),
        (FieldType.DECIMAL, [], "-12.50", "-12.50"),
        (FieldType.DATE, [], "2026/11/22", "2026-11-22"),
        (FieldType.DATETIME, [], "2026-11-22T09:30", "2026-11-22T00:30:00+00:00"),
        (FieldType.BOOLEAN, [], "false", False),
        (FieldType.MULTI_CHOICE, [{"value": "tv"}, {"value": "ac"}], ["ac", "tv"], ["tv", "ac"]),
        (FieldType.TEXT, [], "  展示会で名刺交換  ", "展示会で名刺交換"),
        (FieldType.EMAIL, [], "ＳＵＰＰＯＲＴ@example.jp", "SUPPORT@example.jp"),
    ],
)
def test_every_field_type_is_set_through_the_fields_own_rules(
    staff_client, three, settings, kind, choices, posted, stored
):
    settings.TIME_ZONE = "Asia/Tokyo"
    FieldDefinitionFactory(key="value_field", type=kind, choices=choices)
    start_and_confirm(
        staff_client,
        {"select_all": "1", "action": "set_field", "field": "value_field", "value": posted},
    )
    assert custom_values("value_field") == [stored] * 3


def test_an_empty_value_clears_the_field(staff_client, three):
    FieldDefinitionFactory(key="memo")
    for contact in three:
        contact.custom = {"memo": "x", "other": 1}
        contact.save()
    start_and_confirm(
        staff_client, {"ids": [three[1].pk], "action": "set_field", "field": "memo", "value": ""}
    )
    assert custom_values("memo") == ["x", None, "x"]
    assert Contact.objects.get(pk=three[1].pk).custom == {"other": 1}


def test_a_bad_value_is_refused_before_anything_changes(staff_client, three):
    FieldDefinitionFactory(key="count", type=FieldType.NUMBER, label_en="Count")
    FieldDefinitionFactory(key="needed", required=True)
    for field, value in (("count", "abc"), ("needed", ""), ("email", "x@example.jp")):
        response = staff_client.post(
            START, {"ids": [three[0].pk], "action": "set_field", "field": field, "value": value}
        )
        assert response.status_code == 200
        assert response.context["form"].errors
    assert not BulkJob.objects.exists()


def test_set_the_lifecycle_and_the_source(staff_client, three):
    start_and_confirm(
        staff_client,
        {
            "select_all": "1",
            "q": "田中",
            "action": "set_field",
            "field": "lifecycle",
            "value": "member",
        },
    )
    start_and_confirm(
        staff_client,
        {"ids": [three[2].pk], "action": "set_field", "field": "source", "value": "展示会"},
    )
    assert [c.lifecycle for c in Contact.objects.order_by("id")] == [
        Lifecycle.MEMBER,
        Lifecycle.MEMBER,
        Lifecycle.LEAD,
    ]
    assert list(Contact.objects.exclude(source="").values_list("pk", flat=True)) == [three[2].pk]


def test_setting_the_company_creates_it_and_quick_search_finds_them_by_it(staff_client, three):
    response = staff_client.post(
        START,
        {
            "ids": [three[0].pk, three[1].pk],
            "action": "set_field",
            "field": "company",
            "value": "株式会社ひかり",
        },
    )
    confirm = staff_client.get(response["Location"])
    assert confirm.context["new_company"]
    staff_client.post(response["Location"], {"expected_rows": 2, "confirm": "1"})
    company = Company.objects.get(name="株式会社ひかり")
    assert sorted(c.pk for c in company.contacts.all()) == [three[0].pk, three[1].pk]
    found = search_contacts(Contact.objects.all(), "ひかり")
    assert sorted(found.values_list("pk", flat=True)) == [three[0].pk, three[1].pk]
    start_and_confirm(
        staff_client, {"ids": [three[0].pk], "action": "set_field", "field": "company", "value": ""}
    )
    assert list(search_contacts(Contact.objects.all(), "ひかり")) == [three[1]]


def test_add_and_remove_tags_on_a_whole_search_result(staff_client, three):
    TagFactory(name="VIP")
    start_and_confirm(
        staff_client,
        {"select_all": "1", "q": "田中", "action": "add_tags", "tags": "VIP、 展示会2026"},
    )
    tagged = Contact.objects.filter(tags__name="展示会2026")
    assert sorted(c.pk for c in tagged) == [three[0].pk, three[1].pk]
    assert Tag.objects.filter(name="VIP").count() == 1
    # Adding again changes nothing twice.
    start_and_confirm(staff_client, {"select_all": "1", "action": "add_tags", "tags": "VIP"})
    assert Contact.tags.through.objects.filter(tag__name="VIP").count() == 3
    start_and_confirm(
        staff_client,
        {"select_all": "1", "q": "田中", "action": "remove_tags", "tags": "VIP, 存在しないタグ"},
    )
    assert list(Contact.objects.filter(tags__name="VIP")) == [three[2]]
    assert not Tag.objects.filter(name="存在しないタグ").exists()
    assert Contact.objects.filter(tags__name="展示会2026").count() == 2


def test_set_and_clear_the_owner(staff_client, staff, colleague, three):
    start_and_confirm(
        staff_client, {"ids": [three[1].pk], "action": "set_owner", "owner": colleague.pk}
    )
    assert list(Contact.objects.filter(owner=colleague)) == [three[1]]
    start_and_confirm(staff_client, {"ids": [three[1].pk], "action": "set_owner", "owner": ""})
    assert not Contact.objects.exclude(owner=None).exists()


def test_only_active_staff_can_become_owner(staff_client, member, three):
    response = staff_client.post(
        START, {"ids": [three[0].pk], "action": "set_owner", "owner": member.pk}
    )
    assert response.status_code == 200 and response.context["form"].errors["owner"]


def test_delete_is_confirmed_with_the_number_of_contacts(staff_client, three):
    response = staff_client.post(START, {"select_all": "1", "q": "田中", "action": "delete"})
    page = staff_client.get(response["Location"])
    assert Contact.objects.count() == 3
    assert page.context["job"].total_rows == 2
    assert "2件の顧客が削除されます。" in page.content.decode()
    staff_client.post(response["Location"], {"expected_rows": 2, "confirm": "1"})
    assert list(Contact.objects.all()) == [three[2]]
    entry = AuditLog.objects.get(action="bulk_delete")
    assert entry.rows == 2 and entry.changes["selection"] == {"query": "田中"}


def test_a_changed_selection_must_be_confirmed_again(staff_client, three):
    response = staff_client.post(START, {"select_all": "1", "q": "田中", "action": "delete"})
    ContactFactory(family_name="田中")
    changed = staff_client.post(response["Location"], {"expected_rows": 2, "confirm": "1"})
    assert changed.status_code == 409 and changed.context["job"].total_rows == 3
    assert Contact.objects.count() == 4
    staff_client.post(response["Location"], {"expected_rows": 3, "confirm": "1"})
    assert list(Contact.objects.all()) == [three[2]]


def test_cancelling_changes_nothing(staff_client, three):
    response = staff_client.post(START, {"select_all": "1", "action": "delete"})
    staff_client.post(response["Location"], {"cancel": "1"})
    assert Contact.objects.count() == 3
    assert BulkJob.objects.get().state == JobState.CANCELLED
    again = staff_client.post(response["Location"], {"expected_rows": 3, "confirm": "1"})
    assert again.status_code == 302 and Contact.objects.count() == 3


def test_nothing_selected_sends_back_to_the_list(staff_client, three):
    response = staff_client.post(START, {"action": "delete"})
    assert response.status_code == 302 and response["Location"] == "/console/contacts/"


# --- The form ------------------------------------------------------------------------------------


def test_choosing_a_field_brings_an_input_of_its_type(staff_client, three):
    FieldDefinitionFactory(
        key="rank", type=FieldType.CHOICE, choices=[{"value": "gold", "ja": "ゴールド"}]
    )
    FieldDefinitionFactory(key="due", type=FieldType.DATE)
    form = staff_client.get(START, {"select_all": "1"})
    assert 'hx-get="/console/contacts/bulk/"' in form.content.decode()
    rank = staff_client.get(
        START, {"fragment": "value", "field": "rank"}, headers={"HX-Request": "true"}
    )
    html = rank.content.decode()
    assert (
        html.startswith('<div id="bulk-value"') and '<option value="gold">ゴールド</option>' in html
    )
    due = staff_client.get(
        START, {"fragment": "value", "field": "due"}, headers={"HX-Request": "true"}
    )
    assert 'type="date"' in due.content.decode()


def test_files_names_and_emails_are_not_offered(staff_client, three):
    FieldDefinitionFactory(key="card", type=FieldType.FILE)
    keys = {
        key
        for key, _label in staff_client.get(START, {"select_all": "1"})
        .context["form"]
        .fields["field"]
        .choices
    }
    assert {"lifecycle", "company", "source"} <= keys
    assert not keys & {"card", "email", "family_name", "phone", "email_opt_in"}


# --- Background, resuming, claiming --------------------------------------------------------------


def test_a_large_selection_runs_as_a_background_task(
    staff_client, three, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.KIZUNA_BULK_INLINE_ROWS = 2
    response = staff_client.post(START, {"select_all": "1", "action": "add_tags", "tags": "全員"})
    page = staff_client.get(response["Location"])
    assert page.context["in_background"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        staff_client.post(response["Location"], {"expected_rows": 3, "confirm": "1"})
    job = BulkJob.objects.get()
    assert job.state == JobState.QUEUED and len(callbacks) == 1
    progress = staff_client.get(f"/console/bulk/{job.pk}/progress/")
    assert 'hx-trigger="every 1s"' in progress.content.decode()
    callbacks[0]()  # the commit: the task is enqueued and (immediate backend) runs
    job.refresh_from_db()
    assert (job.state, job.processed_rows) == (JobState.DONE, 3)
    assert Tag.objects.get(name="全員").contacts.count() == 3
    done = staff_client.get(f"/console/bulk/{job.pk}/progress/").content.decode()
    assert "hx-trigger" not in done and "3件の顧客を更新しました。" in done


def queued_job(action, params, selection, by) -> BulkJob:
    job = bulk.prepare_bulk_job(action, params, selection, by=by)
    bulk.confirm_bulk_job(job, by=by, expected_rows=job.total_rows)
    return job


def test_the_task_runs_the_job_in_chunks(db, staff, monkeypatch, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    monkeypatch.setattr(bulk, "CHUNK", 2)
    for _ in range(5):
        ContactFactory()
    FieldDefinitionFactory(key="rank")
    job = queued_job("set_field", {"field": "rank", "value": "A"}, {"query": ""}, staff)
    tasks.run_bulk.enqueue(job.pk)
    job.refresh_from_db()
    assert (job.state, job.processed_rows, job.last_id) == (
        JobState.DONE,
        5,
        Contact.objects.order_by("id").last().pk,
    )
    assert custom_values("rank") == ["A"] * 5
    assert AuditLog.objects.get(action="bulk_update").rows == 5


def test_a_job_taken_over_after_its_worker_died_goes_on_where_it_stopped(db, staff, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 2)
    contacts = [ContactFactory() for _ in range(5)]
    job = queued_job("delete", {}, {"query": ""}, staff)
    # The first runner deleted two contacts, then its worker died.
    Contact.objects.filter(pk__in=[c.pk for c in contacts[:2]]).delete()
    BulkJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING,
        last_id=contacts[1].pk,
        processed_rows=2,
        heartbeat_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    bulk.run_bulk_job(job.pk)
    job.refresh_from_db()
    assert (job.state, job.processed_rows) == (JobState.DONE, 5)
    assert not Contact.objects.exists()
    assert AuditLog.objects.get(action="bulk_delete").rows == 5


def test_a_job_whose_runner_is_alive_is_not_run_a_second_time(db, staff, three):
    job = queued_job("add_tags", {"tags": ["x"]}, {"ids": [three[0].pk]}, staff)
    BulkJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING, heartbeat_at=timezone.now())
    bulk.run_bulk_job(job.pk)
    assert not Contact.objects.filter(tags__name="x").exists()


def test_a_finished_job_delivered_again_does_nothing(db, staff, three):
    job = queued_job("add_tags", {"tags": ["x"]}, {"ids": [three[0].pk]}, staff)
    bulk.run_bulk_job(job.pk)
    bulk.run_bulk_job(job.pk)
    assert AuditLog.objects.filter(action="bulk_update").count() == 1
    assert BulkJob.objects.get().processed_rows == 1


def test_a_chunk_of_a_runner_that_lost_the_job_is_rolled_back(db, staff, three, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 1)
    job = queued_job("set_owner", {"owner": staff.pk}, {"query": ""}, staff)
    apply = bulk._apply

    def taken_over_meanwhile(job, context, ids, now):
        apply(job, context, ids, now)
        BulkJob.objects.filter(pk=job.pk).update(last_id=ids[-1])  # another runner moved on

    monkeypatch.setattr(bulk, "_apply", taken_over_meanwhile)
    bulk.run_bulk_job(job.pk)
    assert not Contact.objects.filter(owner=staff).exists()
    assert not AuditLog.objects.filter(action="bulk_update").exists()


def test_a_failure_is_recorded_and_the_rows_done_are_audited(db, staff, three, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 1)
    job = queued_job("set_owner", {"owner": staff.pk}, {"query": ""}, staff)
    apply = bulk._apply

    def fails_on_the_second_chunk(job, context, ids, now):
        if job.processed_rows == 1:
            raise RuntimeError("disk full")
        apply(job, context, ids, now)

    monkeypatch.setattr(bulk, "_apply", fails_on_the_second_chunk)
    bulk.run_bulk_job(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "disk full" in job.error_message
    assert Contact.objects.filter(owner=staff).count() == 1
    entry = AuditLog.objects.get(action="bulk_update")
    assert (entry.rows, entry.changes["state"]) == (1, JobState.FAILED)


def test_set_based_updates_run_a_few_statements_per_chunk(
    db, staff, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(bulk, "CHUNK", 50)
    for _ in range(100):
        ContactFactory()
    FieldDefinitionFactory(key="rank")
    job = queued_job("set_field", {"field": "rank", "value": "A"}, {"query": ""}, staff)
    # claim, load, field definitions; per chunk: ids, update, cursor (+ savepoints); finish
    with django_assert_max_num_queries(25):
        bulk.run_bulk_job(job.pk)
    assert custom_values("rank") == ["A"] * 100


# --- Access --------------------------------------------------------------------------------------


def test_only_the_person_who_prepared_a_job_confirms_it(staff_client, client, colleague, three):
    response = staff_client.post(START, {"select_all": "1", "action": "delete"})
    client.force_login(colleague)
    assert client.get(response["Location"]).status_code == 404
    assert client.post(response["Location"], {"expected_rows": 3}).status_code == 404
    assert Contact.objects.count() == 3


def test_members_and_visitors_cannot_bulk_update(member_client, client, staff, three):
    job = queued_job("add_tags", {"tags": ["x"]}, {"query": ""}, staff)
    for path in (START, f"/console/bulk/{job.pk}/confirm/", f"/console/bulk/{job.pk}/"):
        assert member_client.post(path, {"select_all": "1", "action": "delete"}).status_code == 403
    assert member_client.get(f"/console/bulk/{job.pk}/progress/").status_code == 403
    member_client.logout()
    response = client.post(START, {"select_all": "1", "action": "delete"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Contact.objects.count() == 3 and BulkJob.objects.count() == 1


def test_a_colleague_can_follow_a_confirmed_job(client, colleague, staff, three):
    job = queued_job("add_tags", {"tags": ["x"]}, {"query": ""}, staff)
    bulk.run_bulk_job(job.pk)
    client.force_login(colleague)
    page = client.get(f"/console/bulk/{job.pk}/")
    assert page.status_code == 200 and "x" in page.context["description"]


def test_companies_made_earlier_are_reused(staff_client, three):
    company = CompanyFactory(name="既存商事")
    start_and_confirm(
        staff_client,
        {"select_all": "1", "action": "set_field", "field": "company", "value": "既存商事"},
    )
    assert Company.objects.filter(name="既存商事").count() == 1
    assert company.contacts.count() == 3
