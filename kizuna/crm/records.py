"""Adding, changing and deleting a contact's records (purchases, deals, seminar attendance…)."""

from django.db import transaction

from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import files
from kizuna.crm.models import Record


def record_values(record: Record) -> dict:
    values = {
        "occurred_at": record.occurred_at.isoformat() if record.occurred_at else None,
        "company": record.company.name if record.company_id else "",
    }
    values.update(record.custom or {})
    return values


def create_record(record: Record, *, by, uploads=None) -> Record:
    with transaction.atomic():
        files.apply_uploads(record.custom, uploads, by)
        if record.created_by_id is None and getattr(by, "pk", None):
            record.created_by = by
        record.save()
        filled = {k: v for k, v in record_values(record).items() if v not in ("", None)}
        changes = {"contact": [None, record.contact_id], **changed_fields({}, filled)}
        record_audit(by, AuditAction.CREATE, record, changes=changes)
    return record


def update_record(record: Record, *, by, uploads=None) -> dict:
    with transaction.atomic():
        stored = Record.objects.select_for_update(of=("self",)).select_related("company")
        before = record_values(stored.get(pk=record.pk))
        files.apply_uploads(record.custom, uploads, by)
        record.save()
        changes = changed_fields(before, record_values(record))
        if changes:
            record_audit(by, AuditAction.UPDATE, record, changes=changes)
    return changes


def delete_record(record: Record, *, by) -> None:
    with transaction.atomic():
        record_audit(by, AuditAction.DELETE, record, changes={"contact": [record.contact_id, None]})
        record.delete()
