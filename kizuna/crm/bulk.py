"""Bulk updates on a selection of contacts: set a field, add or remove tags, set the owner, delete.

A bulk update is a BulkJob that goes through three steps:

1. prepare_bulk_job: the action's parameters are validated once (a custom field's value through
   fields.clean_value, the same rules as the forms and the import) and the contacts are counted;
   the job waits in DRAFT for the person to confirm that number.
2. confirm_bulk_job: DRAFT -> QUEUED, refused when the number of contacts has changed meanwhile.
   A small job (KIZUNA_BULK_INLINE_ROWS, 1,000 by default) then runs during the request, a larger
   one as the task crm.tasks.run_bulk.
3. run_bulk_job: claims the job with a conditional UPDATE and works through the selection in keyset
   chunks of CHUNK ids, each chunk in its own transaction with set-based SQL (a JSON key set on
   the whole chunk with json_set / jsonb, one INSERT for the tag links, one UPDATE for the owner).
   The job's cursor (last_id, processed_rows) is saved in the chunk's transaction, so a run that
   is retried or taken over after its worker died goes on where the last one stopped and changes
   nothing twice. One audit entry is written at the end with the number of contacts (or when the
   job fails, with the number done until then).
"""

import datetime
import json
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.accounts.models import User
from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import fields, normalising
from kizuna.crm.models import (
    BulkAction,
    BulkJob,
    Company,
    Contact,
    FieldDefinition,
    FieldType,
    JobState,
    Lifecycle,
    Tag,
    contact_search_document,
)
from kizuna.crm.selection import contacts_for_selection

logger = logging.getLogger(__name__)

CHUNK = 2000
# Built-in fields that make sense to set on many people at once, with their length limits.
# Names, emails, phones and addresses belong to one person; consent is recorded, never set.
SETTABLE_BUILTINS = {"lifecycle": 10, "source": 100, "company": 200, "prefecture": 10, "city": 100}
TAG_LIMIT = 100
_LIFECYCLE = FieldDefinition(
    key="lifecycle",
    type=FieldType.CHOICE,
    required=True,
    choices=[
        {"value": value, "ja": str(label), "en": str(label)} for value, label in Lifecycle.choices
    ],
)


class BulkError(ValueError):
    """A bulk update that cannot run as asked; the message is translated."""


class _Superseded(Exception):
    """Another runner has taken the job over (or it is no longer running)."""


def inline_limit() -> int:
    """Up to this many contacts a bulk update runs during the request; more go to a task."""
    return getattr(settings, "KIZUNA_BULK_INLINE_ROWS", 1000)


def settable_columns() -> list[fields.Column]:
    """The columns a bulk update may set: SETTABLE_BUILTINS and every custom field but files."""
    return [
        column
        for column in fields.contact_columns()
        if column.key in SETTABLE_BUILTINS or (column.is_custom and column.type != FieldType.FILE)
    ]


# --- Preparing and confirming -------------------------------------------------------------------


def check_params(action: str, params: dict) -> dict:
    """The action's parameters, validated and in their stored form. Raises BulkError."""
    if action == BulkAction.SET_FIELD:
        return _check_field(params.get("field") or "", params.get("value"))
    if action in (BulkAction.ADD_TAGS, BulkAction.REMOVE_TAGS):
        names = params.get("tags") or []
        names = list(dict.fromkeys(n for n in (normalising.normalize_text(n) for n in names) if n))
        if not names:
            raise BulkError(_("Enter one or more tags."))
        if any(len(name) > TAG_LIMIT for name in names):
            raise BulkError(_("A tag can have at most 100 characters."))
        return {"tags": names}
    if action == BulkAction.SET_OWNER:
        owner = params.get("owner")
        if owner and not User.objects.filter(pk=owner, is_staff=True, is_active=True).exists():
            raise BulkError(_("Choose an active staff member."))
        return {"owner": int(owner) if owner else None}
    if action == BulkAction.DELETE:
        return {}
    raise BulkError(_("Choose what to do with the selected contacts."))


def _check_field(key: str, value) -> dict:
    """A value for one column: text (as typed in a CSV cell or sent by the value input for the
    field's type), a list of texts for several choices, or a Python value."""
    column = next((c for c in settable_columns() if c.key == key), None)
    if column is None:
        raise BulkError(_("Choose a field that can be set in bulk."))
    if isinstance(value, list | tuple) and column.type != FieldType.MULTI_CHOICE:
        value = value[-1] if value else ""
    try:
        if column.is_custom:
            definition = column.definition
            if isinstance(value, str):
                value = fields.parse_cell(definition, value)
            elif isinstance(value, list | tuple):  # several choices ticked
                parsed = [fields.parse_cell(definition, str(item)) for item in value]
                value = [part for parts in parsed if parts is not fields.MISSING for part in parts]
            stored = fields.clean_value(definition, value)
            return {"field": key, "value": None if stored is fields.MISSING else stored}
        text = normalising.normalize_text(str(value or ""))
        if key == "lifecycle":
            text = fields.clean_value(_LIFECYCLE, text)
        elif len(text) > SETTABLE_BUILTINS[key]:
            raise ValidationError(
                _("Use at most %(limit)d characters (it has %(count)d).")
                % {"limit": SETTABLE_BUILTINS[key], "count": len(text)}
            )
        return {"field": key, "value": text}
    except ValidationError as error:
        raise BulkError(f"{column.label}: {' '.join(error.messages)}") from None


def prepare_bulk_job(action: str, params: dict, selection: dict, *, by) -> BulkJob:
    """A DRAFT job, counted, waiting to be confirmed. Raises BulkError (and FilterError for a
    selection that cannot be read)."""
    params = check_params(action, params)
    total = contacts_for_selection(selection).count()
    if not total:
        raise BulkError(_("Select at least one contact first."))
    return BulkJob.objects.create(
        created_by=by,
        action=action,
        params=params,
        selection=selection,
        total_rows=total,
        state=JobState.DRAFT,
    )


def count_selected(job: BulkJob) -> int:
    return contacts_for_selection(job.selection).count()


def confirm_bulk_job(job: BulkJob, *, by, expected_rows: int) -> bool:
    """The person confirmed the job for `expected_rows` contacts: queue it. Returns True when it
    is small enough to run now (the caller runs it, or enqueues tasks.run_bulk on commit).

    Raises BulkError when the job is not waiting for this person's confirmation, or when the
    selection no longer has `expected_rows` contacts (the new number is saved in total_rows, so
    the confirmation page can ask again)."""
    count = count_selected(job)
    if count != expected_rows:
        BulkJob.objects.filter(pk=job.pk, state=JobState.DRAFT).update(total_rows=count)
        job.total_rows = count
        raise BulkError(
            _("The selection has changed: it now has %(count)d contacts. Check and confirm again.")
            % {"count": count}
        )
    queued = BulkJob.objects.filter(pk=job.pk, state=JobState.DRAFT, created_by=by).update(
        state=JobState.QUEUED, total_rows=count
    )
    if not queued:
        raise BulkError(_("This bulk update has already been confirmed or cancelled."))
    job.state, job.total_rows = JobState.QUEUED, count
    return count <= inline_limit()


def cancel_bulk_job(job: BulkJob, *, by) -> bool:
    """Drop a job that has not been confirmed yet; True when it was."""
    cancelled = BulkJob.objects.filter(pk=job.pk, state=JobState.DRAFT, created_by=by).update(
        state=JobState.CANCELLED, finished_at=timezone.now()
    )
    return bool(cancelled)


# --- Running ------------------------------------------------------------------------------------


def run_bulk_job(job_id: int) -> None:
    """Run a queued job, or take over a running one whose runner has been silent for longer than
    the worker heartbeat timeout. Does nothing for a job that another runner is working on or
    that has ended, so a task delivered twice is harmless."""
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=settings.KIZUNA_WORKER_HEARTBEAT_TIMEOUT)
    claimed = (
        BulkJob.objects.filter(pk=job_id)
        .filter(Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING, heartbeat_at__lt=stale))
        .update(state=JobState.RUNNING, heartbeat_at=now, started_at=Coalesce("started_at", now))
    )
    if not claimed:
        return
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    try:
        context = _Context.for_job(job)
        while _run_chunk(job, context):
            pass
    except _Superseded:
        return
    except Exception as error:  # recorded on the job and in the log; the rows done stay done
        logger.exception("Bulk update %s failed", job_id)
        _finish(job, JobState.FAILED, _("The bulk update stopped: %(error)s") % {"error": error})
        return
    _finish(job, JobState.DONE)


class _Context:
    """What a job resolves once, not per chunk: tag ids, the company id."""

    def __init__(self, tag_ids=(), company_id=None):
        self.tag_ids, self.company_id = list(tag_ids), company_id

    @classmethod
    def for_job(cls, job: BulkJob) -> "_Context":
        if job.action == BulkAction.ADD_TAGS:
            return cls(tag_ids=_tag_ids(job.params["tags"], create=True))
        if job.action == BulkAction.REMOVE_TAGS:
            return cls(tag_ids=_tag_ids(job.params["tags"], create=False))
        if job.action == BulkAction.SET_FIELD and job.params["field"] == "company":
            return cls(company_id=_company_id(job.params["value"]))
        return cls()


def _run_chunk(job: BulkJob, context: _Context) -> bool:
    """Apply the job to the next chunk of its selection; False when there is none left."""
    with transaction.atomic():
        ids = list(
            contacts_for_selection(job.selection)
            .filter(id__gt=job.last_id)
            .order_by("id")
            .values_list("id", flat=True)[:CHUNK]
        )
        if not ids:
            return False
        _apply(job, context, ids, timezone.now())
        # Conditional on the cursor: if another runner took the job over, this chunk rolls back.
        moved = BulkJob.objects.filter(
            pk=job.pk, state=JobState.RUNNING, last_id=job.last_id
        ).update(
            last_id=ids[-1],
            processed_rows=F("processed_rows") + len(ids),
            heartbeat_at=timezone.now(),
        )
        if not moved:
            raise _Superseded
    job.last_id = ids[-1]
    job.processed_rows += len(ids)
    return len(ids) == CHUNK


def _finish(job: BulkJob, state: str, error_message: str = "") -> None:
    with transaction.atomic():
        job.refresh_from_db(fields=["processed_rows", "state", "last_id"])
        if job.state != JobState.RUNNING:
            return
        if job.processed_rows or state == JobState.DONE:
            record_audit(
                job.created_by,
                AuditAction.BULK_DELETE
                if job.action == BulkAction.DELETE
                else AuditAction.BULK_UPDATE,
                Contact,
                rows=job.processed_rows,
                changes={
                    "job": job.pk,
                    "action": job.action,
                    "params": job.params,
                    "selection": job.selection,
                    "state": state,
                },
            )
        finished = {"state": state, "finished_at": timezone.now(), "error_message": error_message}
        if state == JobState.DONE:
            finished["total_rows"] = job.processed_rows
        BulkJob.objects.filter(pk=job.pk).update(**finished)


def _apply(job: BulkJob, context: _Context, ids: list[int], now) -> None:
    contacts = Contact.objects.filter(pk__in=ids)
    params = job.params
    if job.action == BulkAction.SET_FIELD:
        key, value = params["field"], params["value"]
        if key == "company":
            contacts.update(company_id=context.company_id, updated_at=now)
            _refresh_search_documents(ids)
        elif key in SETTABLE_BUILTINS:
            contacts.update(**{key: value}, updated_at=now)
        else:
            contacts.update(custom=_json_key_set(key, value), updated_at=now)
    elif job.action == BulkAction.ADD_TAGS:
        links = Contact.tags.through
        links.objects.bulk_create(
            [links(contact_id=c, tag_id=t) for c in ids for t in context.tag_ids],
            ignore_conflicts=True,
            batch_size=1000,
        )
        contacts.update(updated_at=now)
    elif job.action == BulkAction.REMOVE_TAGS:
        Contact.tags.through.objects.filter(contact_id__in=ids, tag_id__in=context.tag_ids).delete()
        contacts.update(updated_at=now)
    elif job.action == BulkAction.SET_OWNER:
        contacts.update(owner_id=params["owner"], updated_at=now)
    elif job.action == BulkAction.DELETE:
        contacts.delete()


def _json_key_set(key: str, value) -> RawSQL:
    """`custom` with one key set to `value` (None: removed), computed by the database for every
    row of the UPDATE. The key is a field key ([a-z][a-z0-9_]*), passed as a parameter anyway."""
    output = models.JSONField()
    if connection.vendor == "postgresql":
        if value is None:
            return RawSQL("(custom - %s::text)", [key], output_field=output)
        return RawSQL(
            "(custom || jsonb_build_object(%s::text, %s::jsonb))",
            [key, json.dumps(value, ensure_ascii=False)],
            output_field=output,
        )
    path = f'$."{key}"'
    if value is None:
        return RawSQL("json_remove(custom, %s)", [path], output_field=output)
    return RawSQL(
        "json_set(custom, %s, json(%s))",
        [path, json.dumps(value, ensure_ascii=False)],
        output_field=output,
    )


def _tag_ids(names: list[str], *, create: bool) -> list[int]:
    if create:
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=names).values_list("id", flat=True))


def _company_id(name: str) -> int | None:
    """The company of that name (the oldest if several have it); created when there is none."""
    if not name:
        return None
    company = Company.objects.filter(name=name).order_by("id").first()
    if company is None:
        company = Company(name=name)
        company.normalize()
        company.save()
    return company.pk


def _refresh_search_documents(ids: list[int]) -> None:
    """The company name is part of quick search: rebuild the chunk's search documents."""
    rows = Contact.objects.filter(pk__in=ids).values_list(
        "id",
        "family_name",
        "given_name",
        "family_name_kana",
        "given_name_kana",
        "email",
        "phone",
        "company__name",
    )
    documents = []
    for contact_id, *parts in rows:
        parts[-1] = parts[-1] or ""
        documents.append((contact_id, *contact_search_document(*parts)))
    if not documents:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one statement for the chunk
            ids, texts, pairs = (list(column) for column in zip(*documents, strict=True))
            cursor.execute(
                "UPDATE crm_contact AS c SET search_text = v.search_text, "
                "search_pairs = v.search_pairs "
                "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, search_text, "
                "search_pairs) WHERE c.id = v.id",
                [ids, texts, pairs],
            )
        else:  # SQLite runs one prepared statement per row, in C: as fast as it gets there
            cursor.executemany(
                "UPDATE crm_contact SET search_text = %s, search_pairs = %s WHERE id = %s",
                [(text, pairs, contact_id) for contact_id, text, pairs in documents],
            )


def company_exists(name: str) -> bool:
    return Company.objects.filter(name=name).exists()


# --- Words --------------------------------------------------------------------------------------


def describe(job: BulkJob) -> str:
    """What the job does, in words, for the confirmation and result pages."""
    params = job.params
    if job.action == BulkAction.SET_FIELD:
        column = next((c for c in fields.contact_columns(True) if c.key == params["field"]), None)
        label = str(column.label) if column else params["field"]
        if params["value"] in (None, ""):
            return _("Clear “%(field)s”") % {"field": label}
        return _("Set “%(field)s” to “%(value)s”") % {
            "field": label,
            "value": _display(column, params["value"]),
        }
    if job.action == BulkAction.ADD_TAGS:
        return _("Add the tags %(tags)s") % {"tags": "、".join(params["tags"])}
    if job.action == BulkAction.REMOVE_TAGS:
        return _("Remove the tags %(tags)s") % {"tags": "、".join(params["tags"])}
    if job.action == BulkAction.SET_OWNER:
        owner = User.objects.filter(pk=params["owner"]).first() if params["owner"] else None
        if owner is None:
            return _("Clear the owner")
        return _("Set the owner to %(owner)s") % {"owner": owner.display_name}
    return _("Delete the contacts")


def _display(column: fields.Column | None, value) -> str:
    if column is None:
        return str(value)
    if column.is_custom:
        return fields.display_value(column.definition, value)
    if column.key == "lifecycle":
        return str(Lifecycle(value).label) if value in Lifecycle.values else value
    return str(value)
