"""Bulk updates on a selection of contacts: set a field, add or remove tags, set the owner,
delete. Work goes in chunks of ids, each chunk in its own transaction; a job that is retried
starts over and changes nothing twice (setting, tagging and deleting are idempotent)."""

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.accounts.models import User
from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import fields, normalising
from kizuna.crm.models import BulkAction, BulkJob, Contact, JobState, Lifecycle, Tag
from kizuna.crm.selection import contacts_for_selection

CHUNK = 1000
INLINE_LIMIT = 1000  # larger selections run as a background task
# Built-in columns a bulk update may set (names, emails and phones are per person, not bulk).
SETTABLE_BUILTINS = {"lifecycle", "source", "prefecture", "city"}


class BulkError(ValueError):
    """A bulk update that cannot run as asked; the message is translated."""


def settable_columns() -> list[fields.Column]:
    return [
        column
        for column in fields.contact_columns()
        if column.key in SETTABLE_BUILTINS or (column.is_custom and column.type != "file")
    ]


def check_params(action: str, params: dict) -> dict:
    """Validate once, before any row changes: the value through the field's own rules."""
    if action == BulkAction.SET_FIELD:
        key = params.get("field", "")
        column = next((c for c in settable_columns() if c.key == key), None)
        if column is None:
            raise BulkError(_("This field cannot be set in bulk."))
        value = params.get("value")
        if column.is_custom:
            if not isinstance(value, list):
                value = fields.parse_cell(column.definition, str(value or ""))
            stored = fields.clean_value(column.definition, value)
            return {"field": key, "value": None if stored is fields.MISSING else stored}
        text = normalising.normalize_text(str(value or ""))
        if key == "lifecycle" and text not in Lifecycle.values:
            raise BulkError(_("Choose a lifecycle stage."))
        return {"field": key, "value": text}
    if action in (BulkAction.ADD_TAGS, BulkAction.REMOVE_TAGS):
        names = sorted({normalising.normalize_text(n) for n in params.get("tags", []) if n.strip()})
        if not names or any(len(name) > 100 for name in names):
            raise BulkError(_("Enter one or more tags (at most 100 characters each)."))
        return {"tags": names}
    if action == BulkAction.SET_OWNER:
        owner = params.get("owner")
        if owner and not User.objects.filter(pk=owner, is_staff=True, is_active=True).exists():
            raise BulkError(_("Choose an active staff member."))
        return {"owner": int(owner) if owner else None}
    if action == BulkAction.DELETE:
        return {}
    raise BulkError(_("Unknown bulk action."))


def create_bulk_job(action: str, params: dict, selection: dict, *, by) -> BulkJob:
    params = check_params(action, params)
    total = contacts_for_selection(selection).count()
    return BulkJob.objects.create(
        created_by=by if getattr(by, "pk", None) else None,
        action=action,
        params=params,
        selection=selection,
        total_rows=total,
    )


def runs_inline(job: BulkJob) -> bool:
    return job.total_rows <= INLINE_LIMIT


def run_bulk_job(job_id: int) -> None:
    """Claim a queued job (conditional UPDATE) and apply it chunk by chunk."""
    claimed = BulkJob.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING
    )
    if not claimed:
        return
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    ids = list(contacts_for_selection(job.selection).order_by("id").values_list("id", flat=True))
    done = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with transaction.atomic():
            _apply(job, Contact.objects.filter(pk__in=chunk))
        done += len(chunk)
        BulkJob.objects.filter(pk=job_id).update(processed_rows=done)
    action = AuditAction.BULK_DELETE if job.action == BulkAction.DELETE else AuditAction.BULK_UPDATE
    record_audit(
        job.created_by,
        action,
        Contact,
        rows=done,
        changes={"action": job.action, "params": job.params, "selection": job.selection},
    )
    BulkJob.objects.filter(pk=job_id).update(
        state=JobState.DONE, processed_rows=done, total_rows=done, finished_at=timezone.now()
    )


def _apply(job: BulkJob, contacts) -> None:
    params, now = job.params, timezone.now()
    if job.action == BulkAction.SET_FIELD:
        key, value = params["field"], params["value"]
        if key in SETTABLE_BUILTINS:
            contacts.update(
                **{key: value or ("lead" if key == "lifecycle" else "")}, updated_at=now
            )
            return
        changed = []
        for contact in contacts.only("id", "custom"):
            if value is None:
                contact.custom.pop(key, None)
            else:
                contact.custom[key] = value
            contact.updated_at = now
            changed.append(contact)
        Contact.objects.bulk_update(changed, ["custom", "updated_at"])
    elif job.action == BulkAction.ADD_TAGS:
        tag_ids = _tag_ids(params["tags"])
        pairs = [(cid, tid) for cid in contacts.values_list("id", flat=True) for tid in tag_ids]
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO crm_contact_tags (contact_id, tag_id) VALUES (%s, %s) "
                "ON CONFLICT (contact_id, tag_id) DO NOTHING",
                pairs,
            )
        contacts.update(updated_at=now)
    elif job.action == BulkAction.REMOVE_TAGS:
        Contact.tags.through.objects.filter(
            contact__in=contacts, tag__name__in=params["tags"]
        ).delete()
        contacts.update(updated_at=now)
    elif job.action == BulkAction.SET_OWNER:
        contacts.update(owner_id=params["owner"], updated_at=now)
    elif job.action == BulkAction.DELETE:
        contacts.delete()


def _tag_ids(names: list[str]) -> list[int]:
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=names).values_list("id", flat=True))


def describe(job: BulkJob) -> str:
    """What the job does, in words, for the confirmation and result pages."""
    params = job.params
    if job.action == BulkAction.SET_FIELD:
        labels = {c.key: str(c.label) for c in fields.contact_columns()}
        label = labels.get(params["field"], params["field"])
        return _("Set “%(field)s” to “%(value)s”") % {
            "field": label,
            "value": params["value"] or "",
        }
    if job.action in (BulkAction.ADD_TAGS, BulkAction.REMOVE_TAGS):
        return f"{job.get_action_display()}: {', '.join(params['tags'])}"
    if job.action == BulkAction.SET_OWNER:
        owner = User.objects.filter(pk=params["owner"]).first() if params["owner"] else None
        return _("Set the owner to %(owner)s") % {
            "owner": owner.display_name if owner else _("nobody")
        }
    return str(job.get_action_display())
