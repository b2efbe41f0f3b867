"""Duplicates and merge, with undo.

A merge keeps one contact (the survivor) and moves everything that points at the other one to it:
every foreign key and many-to-many to Contact in any app (found through Contact._meta, so events,
inquiries and tickets of later apps move without changes here). The other contact's row, the
survivor's previous values and the ids of every moved row are kept in a ContactMerge, so the merge
can be undone exactly: the other contact comes back with its own id and its rows go back to it.
"""

from django.db import models, transaction
from django.db.models import Count, F
from django.db.models.functions import Lower
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm.models import ConsentRecord, Contact, ContactMerge, FieldDefinition

contact_merged = Signal()
"""Sent on commit after a merge. Arguments: survivor (Contact), merged_contact_id (int),
merge (ContactMerge)."""

merge_undone = Signal()
"""Sent on commit after a merge was undone. Arguments: survivor (Contact), restored (Contact),
merge (ContactMerge)."""

MERGEABLE_FIELDS = [
    "email",
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "phone",
    "postal_code",
    "prefecture",
    "city",
    "address",
    "owner",
    "company",
    "lifecycle",
    "source",
    "external_id",
]
ROW_FIELDS = [f.attname for f in Contact._meta.concrete_fields if f.name != "id"]


class MergeError(Exception):
    """A merge or undo that cannot be done; the message is translated."""


def find_duplicate_groups(limit: int = 100) -> list[dict]:
    """Likely duplicates, found by SQL GROUP BY: same email ignoring case, same phone, or same
    name and kana. Each group: reason, the shared value, contact ids."""
    groups = []
    rules = [
        (
            "email",
            _("Same email"),
            Contact.objects.exclude(email="").annotate(value=Lower("email")),
        ),
        ("phone", _("Same phone"), Contact.objects.exclude(phone="").annotate(value=F("phone"))),
    ]
    for _key, reason, queryset in rules:
        for row in (
            queryset.values("value").annotate(n=Count("id")).filter(n__gt=1).order_by("-n")[:limit]
        ):
            ids = list(
                queryset.filter(value=row["value"]).order_by("id").values_list("id", flat=True)
            )
            groups.append({"reason": reason, "value": row["value"], "ids": ids})
    named = (
        Contact.objects.exclude(family_name="")
        .exclude(family_name_kana="")
        .values("family_name", "given_name", "family_name_kana", "given_name_kana")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("-n")[:limit]
    )
    for row in named:
        row.pop("n")
        ids = list(Contact.objects.filter(**row).order_by("id").values_list("id", flat=True))
        value = f"{row['family_name']} {row['given_name']} ({row['family_name_kana']} {row['given_name_kana']})"  # noqa: E501
        groups.append({"reason": _("Same name and kana"), "value": value, "ids": ids})
    return groups[:limit]


def _relations():
    """(model, field name) of every foreign key to Contact, and the M2M through tables."""
    for relation in Contact._meta.related_objects:
        if relation.many_to_many:
            continue
        if relation.one_to_many or relation.one_to_one:
            if relation.related_model is ContactMerge:
                continue
            yield relation.related_model, relation.field.name
    for field in Contact._meta.many_to_many:
        yield field.remote_field.through, field.m2m_field_name()


def _row(contact: Contact) -> dict:
    values = {name: getattr(contact, name) for name in ROW_FIELDS}
    for name, value in values.items():
        if hasattr(value, "isoformat"):
            values[name] = value.isoformat()
    return values


@transaction.atomic
def merge_contacts(
    survivor: Contact, other: Contact, chosen: dict[str, str], *, by
) -> ContactMerge:
    """Merge `other` into `survivor`. chosen: {field: "survivor" | "other"} for built-in fields
    and custom keys; a field not named keeps the survivor's value, or takes the other's where the
    survivor has none."""
    if survivor.pk == other.pk:
        raise MergeError(_("A contact cannot be merged with itself."))
    survivor = Contact.objects.select_for_update().get(pk=survivor.pk)
    other = Contact.objects.select_for_update().get(pk=other.pk)
    if survivor.user_id and other.user_id:
        raise MergeError(_("Both contacts have a login; one login must be removed first."))
    before, other_row = _row(survivor), _row(other) | {"id": other.pk}
    for name in MERGEABLE_FIELDS:
        attname = Contact._meta.get_field(name).attname
        mine, theirs = getattr(survivor, attname), getattr(other, attname)
        if chosen.get(name) == "other" or (chosen.get(name) != "survivor" and not mine):
            setattr(survivor, attname, theirs)
    custom = dict(survivor.custom)
    for key, value in other.custom.items():
        if chosen.get(key) == "other" or (chosen.get(key) != "survivor" and key not in custom):
            custom[key] = value
    survivor.custom = custom
    seen = [t for t in (survivor.first_seen_at, other.first_seen_at) if t]
    survivor.first_seen_at = min(seen, default=None)
    last = [t for t in (survivor.last_seen_at, other.last_seen_at) if t]
    survivor.last_seen_at = max(last, default=None)
    survivor.sessions += other.sessions
    if other.user_id and not survivor.user_id:
        survivor.user_id = other.user_id
    moved, dropped = _move_rows(other.pk, survivor.pk)
    other.delete()  # before the survivor saves: the unique email / external id may move over
    survivor.save()
    latest = ConsentRecord.objects.filter(contact=survivor).order_by("-recorded_at", "-id").first()
    if latest and latest.opted_in != survivor.email_opt_in:
        survivor.email_opt_in = latest.opted_in
        Contact.objects.filter(pk=survivor.pk).update(email_opt_in=latest.opted_in)
    name = " ".join(p for p in (other_row["family_name"], other_row["given_name"]) if p)
    merge = ContactMerge.objects.create(
        survivor=survivor,
        merged_contact_id=other_row["id"],
        merged_contact_name=(name or other_row["email"] or f"#{other_row['id']}")[:255],
        snapshot={
            "other": other_row,
            "survivor_before": before,
            "survivor_after": _row(survivor),
            "moved": moved,
            "dropped": dropped,
        },
        merged_by=by if getattr(by, "pk", None) else None,
    )
    record_audit(
        by,
        AuditAction.MERGE,
        survivor,
        changes={
            "merged_contact": other_row["id"],
            "email": other_row["email"],
            "moved": {label: len(ids) for label, ids in moved.items()},
        },
    )
    transaction.on_commit(
        lambda: contact_merged.send(
            sender=Contact, survivor=survivor, merged_contact_id=other_row["id"], merge=merge
        )
    )
    return merge


def _move_rows(from_id: int, to_id: int) -> tuple[dict, dict]:
    """Point every row of every relation at `to_id`; tag links the survivor already has are
    dropped (and remembered)."""
    moved, dropped = {}, {}
    for model, field_name in _relations():
        label = f"{model._meta.label}.{field_name}"
        rows = model._default_manager.filter(**{field_name: from_id})
        if model is Contact.tags.through:
            mine = model.objects.filter(contact_id=to_id).values_list("tag_id", flat=True)
            clashing = rows.filter(tag_id__in=list(mine))
            dropped[label] = list(clashing.values_list("tag_id", flat=True))
            clashing.delete()
        ids = list(rows.values_list("pk", flat=True))
        if ids:
            moved[label] = ids
            model._default_manager.filter(pk__in=ids).update(**{field_name: to_id})
    return moved, dropped


@transaction.atomic
def undo_merge(merge: ContactMerge, *, by) -> tuple[Contact, list[str]]:
    """Bring the merged contact back with its id, values and rows. Returns it and the survivor's
    fields that changed after the merge and were therefore kept as they are."""
    merge = ContactMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at:
        raise MergeError(_("This merge was already undone."))
    survivor = Contact.objects.select_for_update().get(pk=merge.survivor_id)
    snapshot = merge.snapshot
    before, after = snapshot["survivor_before"], snapshot["survivor_after"]
    now, kept = _row(survivor), []
    for name in ROW_FIELDS:
        if name in ("search_text", "search_pairs", "updated_at", "custom"):
            continue
        if before.get(name) != after.get(name):
            if now.get(name) == after.get(name):
                setattr(survivor, name, _value(name, before.get(name)))
            else:
                kept.append(name)
    custom = dict(survivor.custom)
    for key in set(before["custom"]) | set(after["custom"]):
        if before["custom"].get(key) == after["custom"].get(key):
            continue
        if custom.get(key) != after["custom"].get(key):
            kept.append(key)
        elif key in before["custom"]:
            custom[key] = before["custom"][key]
        else:
            custom.pop(key, None)
    survivor.custom = custom
    survivor.save()
    other = snapshot["other"]
    for unique in ("email", "external_id"):
        value = other.get(unique) or ""
        if value and Contact.objects.filter(**{f"{unique}__iexact": value}).exists():
            raise MergeError(
                _("Another contact now has %(value)s; change it before undoing.") % {"value": value}
            )
    restored = Contact(pk=other["id"])
    for name in ROW_FIELDS:
        setattr(restored, name, _value(name, other.get(name)))
    if restored.user_id and survivor.user_id == restored.user_id:
        Contact.objects.filter(pk=survivor.pk).update(user=None)
    restored.save(force_insert=True)
    for model, field_name in _relations():
        label = f"{model._meta.label}.{field_name}"
        if ids := snapshot["moved"].get(label):
            model._default_manager.filter(pk__in=ids).update(**{field_name: restored.pk})
        if tag_ids := snapshot["dropped"].get(label):
            model.objects.bulk_create(
                [model(contact_id=restored.pk, tag_id=tag_id) for tag_id in tag_ids],
                ignore_conflicts=True,
            )
    merge.undone_at = timezone.now()
    merge.save(update_fields=["undone_at"])
    record_audit(
        by, AuditAction.UNMERGE, survivor, changes={"restored_contact": restored.pk, "kept": kept}
    )
    transaction.on_commit(
        lambda: merge_undone.send(sender=Contact, survivor=survivor, restored=restored, merge=merge)
    )
    return restored, kept


FIELDS_BY_ATTNAME = {field.attname: field for field in Contact._meta.concrete_fields}


def _value(attname: str, value):
    """A snapshot value (JSON) back to what the model field holds."""
    field = FIELDS_BY_ATTNAME[attname]
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        return field.to_python(value)
    return value


def field_choices(survivor: Contact, other: Contact) -> list[dict]:
    """The side-by-side rows of the merge screen: fields where the two differ."""
    rows = []
    for name in MERGEABLE_FIELDS:
        field = Contact._meta.get_field(name)
        mine, theirs = getattr(survivor, name), getattr(other, name)
        if (mine or "") != (theirs or ""):
            rows.append(
                {
                    "key": name,
                    "label": field.verbose_name,
                    "survivor": mine or "",
                    "other": theirs or "",
                    "default": "survivor" if mine else "other",
                }
            )
    definitions = {d.key: d for d in FieldDefinition.objects.for_contacts()}
    for key in sorted(set(survivor.custom) | set(other.custom)):
        mine, theirs = survivor.custom.get(key), other.custom.get(key)
        if mine != theirs:
            label = definitions[key].label if key in definitions else key
            rows.append(
                {
                    "key": key,
                    "label": label,
                    "survivor": mine or "",
                    "other": theirs or "",
                    "default": "survivor" if mine not in (None, "", []) else "other",
                }
            )
    return rows
