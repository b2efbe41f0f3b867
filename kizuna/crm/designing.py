"""The field designer's operations: custom fields and record types added, changed, reordered,
archived and restored. Nothing with data is ever dropped: a field with values is archived (its
values stay in `custom`) and can be restored."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction
from kizuna.crm.models import FieldDefinition, RecordType

AUDITED_FIELD_ATTRIBUTES = [
    "key",
    "label_ja",
    "label_en",
    "type",
    "required",
    "min_length",
    "max_length",
    "min_value",
    "max_value",
    "choices",
    "help_ja",
    "help_en",
    "group_ja",
    "group_en",
    "file_kinds",
    "max_file_mb",
    "member_visible",
    "member_editable",
    "at_registration",
    "archived_at",
]


class DesignError(Exception):
    """A designer change that cannot be made; the message is translated."""


def _values(definition: FieldDefinition) -> dict:
    values = {name: getattr(definition, name) for name in AUDITED_FIELD_ATTRIBUTES}
    for name in ("min_value", "max_value", "archived_at"):
        values[name] = None if values[name] is None else str(values[name])
    return values


def siblings(definition: FieldDefinition):
    """The fields shown together with this one: same target (and record type)."""
    return FieldDefinition.objects.filter(
        target=definition.target, record_type_id=definition.record_type_id
    )


@transaction.atomic
def create_field(definition: FieldDefinition, *, by) -> FieldDefinition:
    last = siblings(definition).aggregate(last=Max("order"))["last"]
    definition.order = 0 if last is None else last + 1
    definition.save()
    record_audit(by, AuditAction.CREATE, definition, changes={"new": _values(definition)})
    return definition


@transaction.atomic
def update_field(definition: FieldDefinition, before: dict, *, by) -> dict:
    """Save a changed field; `before` is _values() of the stored row (the form's snapshot)."""
    definition.save()
    changes = changed_fields(before, _values(definition))
    if changes:
        record_audit(by, AuditAction.UPDATE, definition, changes=changes)
    return changes


def snapshot(definition: FieldDefinition) -> dict:
    return _values(definition)


@transaction.atomic
def move_field(definition: FieldDefinition, direction: int, *, by) -> None:
    """Swap with the neighbour above (-1) or below (+1); orders are renumbered 0..n first."""
    ordered = list(siblings(definition).select_for_update().order_by("order", "id"))
    index = next(i for i, item in enumerate(ordered) if item.pk == definition.pk)
    other = index + direction
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for order, item in enumerate(ordered):
        if item.order != order:
            item.order = order
            item.save(update_fields=["order"])
    record_audit(by, AuditAction.UPDATE, definition, changes={"order": [index, other]})


@transaction.atomic
def archive_field(definition: FieldDefinition, *, by) -> None:
    """Hide a field everywhere; its values stay in `custom` and come back with restore_field."""
    if definition.archived_at is not None:
        return
    definition.archived_at = timezone.now()
    definition.save(update_fields=["archived_at", "updated_at"])
    record_audit(by, AuditAction.UPDATE, definition, changes={"archived": [False, True]})


@transaction.atomic
def delete_field(definition: FieldDefinition, *, by) -> None:
    """Delete a field that holds no value anywhere; one with data can only be archived."""
    FieldDefinition.objects.select_for_update().filter(pk=definition.pk).first()
    if used := definition.owners().filter(custom__has_key=definition.key).count():
        raise DesignError(
            ngettext(
                "“%(label)s” has a value in %(count)d record; archive it instead.",
                "“%(label)s” has values in %(count)d records; archive it instead.",
                used,
            )
            % {"label": definition, "count": used}
        )
    record_audit(by, AuditAction.DELETE, definition, changes={"old": _values(definition)})
    definition.delete()


def remove_field(definition: FieldDefinition, *, by) -> str:
    """The safe way to remove: archive a field with data, delete one without. Returns what
    happened: "archived" or "deleted"."""
    with transaction.atomic():
        if definition.has_data():
            archive_field(definition, by=by)
            return "archived"
        delete_field(definition, by=by)
        return "deleted"


@transaction.atomic
def restore_field(definition: FieldDefinition, *, by) -> None:
    clash = (
        siblings(definition).active().filter(key=definition.key).exclude(pk=definition.pk).exists()
    )
    if clash:
        raise DesignError(
            _("Another field already uses the key “%(key)s”.") % {"key": definition.key}
        )
    definition.archived_at = None
    definition.save(update_fields=["archived_at", "updated_at"])
    record_audit(by, AuditAction.UPDATE, definition, changes={"archived": [True, False]})


@transaction.atomic
def save_record_type(record_type: RecordType, before: dict | None, *, by) -> RecordType:
    creating = record_type.pk is None
    if creating:
        last = RecordType.objects.aggregate(last=Max("order"))["last"]
        record_type.order = 0 if last is None else last + 1
    record_type.save()
    after = {
        "key": record_type.key,
        "name_ja": record_type.name_ja,
        "name_en": record_type.name_en,
        "description": record_type.description,
    }
    if creating:
        record_audit(by, AuditAction.CREATE, record_type, changes={"new": after})
    elif changes := changed_fields(before or {}, after):
        record_audit(by, AuditAction.UPDATE, record_type, changes=changes)
    return record_type


@transaction.atomic
def set_record_type_archived(record_type: RecordType, archived: bool, *, by) -> None:
    record_type.archived_at = timezone.now() if archived else None
    record_type.save(update_fields=["archived_at"])
    record_audit(
        by, AuditAction.UPDATE, record_type, changes={"archived": [not archived, archived]}
    )
