"""Writing the audit log: every create, update, delete, import, export and bulk action on
personal data goes through record_audit(), inside the operation's transaction."""

from django.db import models

from kizuna.core.models import AuditAction, AuditLog


def record_audit(
    actor,
    action: AuditAction | str,
    target: models.Model | type[models.Model],
    *,
    rows: int = 1,
    changes: dict | None = None,
) -> AuditLog:
    """`target` is the object acted on, or its model class for actions on many rows."""
    is_instance = isinstance(target, models.Model)
    meta = target._meta
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=(getattr(actor, "email", "") or "")[:255],
        action=action,
        object_type=meta.label_lower,
        object_id=str(target.pk) if is_instance else "",
        object_repr=str(target)[:255] if is_instance else "",
        rows=rows,
        changes=changes or {},
    )


def changed_fields(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the values that differ - the `changes` of an update entry."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
