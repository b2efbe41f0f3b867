"""The audit log: written by operations, read by staff in the console."""

from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction, AuditLog


def test_an_entry_says_who_did_what_to_which_object_and_how_many_rows(staff):
    entry = record_audit(staff, AuditAction.UPDATE, staff, changes={"name": ["a", "b"]})
    assert (entry.actor, entry.actor_label, entry.object_type) == (
        staff,
        staff.email,
        "accounts.user",
    )
    assert (entry.object_id, entry.rows) == (str(staff.pk), 1)


def test_an_action_on_many_rows_names_the_model_and_the_count(staff):
    entry = record_audit(staff, AuditAction.EXPORT, type(staff), rows=1200)
    assert (entry.object_type, entry.object_id, entry.rows) == ("accounts.user", "", 1200)


def test_changed_fields_lists_only_what_differs():
    assert changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {
        "b": [2, 3],
        "c": [None, 4],
    }


def test_staff_read_the_log_newest_first_and_filter_it(staff_client, staff):
    for number in range(60):
        record_audit(staff, AuditAction.EXPORT, type(staff), rows=number)
    record_audit(staff, AuditAction.DELETE, staff)
    page = staff_client.get("/console/audit/")
    assert page.status_code == 200
    assert page.context["entries"][0].action == AuditAction.DELETE
    assert len(page.context["entries"]) == 50
    older = staff_client.get(f"/console/audit/?before={page.context['next_before']}")
    assert [e.rows for e in older.context["entries"]] == list(range(10, -1, -1))
    deletes = staff_client.get("/console/audit/?action=delete")
    assert [e.action for e in deletes.context["entries"]] == ["delete"]
    assert AuditLog.objects.count() == 61


def test_members_cannot_read_the_log(member_client):
    assert member_client.get("/console/audit/").status_code == 403
