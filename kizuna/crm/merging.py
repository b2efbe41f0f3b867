"""Duplicates and merge, with undo.

A merge keeps one contact (the survivor) and moves everything that points at the other one to it:
every foreign key, one-to-one and many-to-many link to Contact in any app, found through
Contact._meta, so the events, inquiries, tickets and memberships of later apps move without a
change here. The other contact's whole row, the survivor's values before and after, and the ids of
every moved row are kept in a ContactMerge, so the merge can be undone exactly: the other contact
comes back with its own id and values, and exactly the rows that moved go back to it.

Rows that name a contact without a foreign key (the audit log's object_id) are left as they are:
they keep the merged contact's id, which is the id it has again after an undo.
"""

from dataclasses import dataclass

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, F, StringAgg, Value
from django.db.models.functions import Cast, Lower, Replace
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import fields
from kizuna.crm.models import ConsentRecord, Contact, ContactMerge, FieldDefinition
from kizuna.crm.signals import contact_merged, merge_undone

# The built-in fields staff choose between on the merge screen.
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
FIELDS_BY_ATTNAME = {field.attname: field for field in Contact._meta.concrete_fields}
# Recomputed on every save, or not a value anyone chose: never compared on undo.
DERIVED_FIELDS = {"search_text", "search_pairs", "updated_at", "custom"}
EMAIL_UNIQUE_CONSTRAINT = "crm_contact_email_unique_ci"
CHUNK = 500  # ids per UPDATE … WHERE id IN (…): well under SQLite's limit on parameters


class MergeError(Exception):
    """A merge or undo that cannot be done; the message is translated."""


# --- Likely duplicates --------------------------------------------------------------------------


def _phone_digits():
    """The phone number without the separators people type: 03-1234-5678 = 0312345678."""
    expression = F("phone")
    for separator in "-() .":
        expression = Replace(expression, Value(separator), Value(""))
    return expression


def _email_case_duplicates_possible() -> bool:
    """Two emails differing only in case can exist only where the unique index on Lower(email) is
    missing (a database filled before it): otherwise that GROUP BY is a full scan that cannot find
    anything, and is skipped."""
    with connection.cursor() as cursor:
        names = connection.introspection.get_constraints(cursor, Contact._meta.db_table)
    return EMAIL_UNIQUE_CONSTRAINT not in names


def find_duplicate_groups(limit: int = 100) -> list[dict]:
    """Likely duplicates, each rule one SQL GROUP BY … HAVING COUNT(*) > 1 that also collects
    the ids (one scan per rule, however many contacts): the same email ignoring case (legacy data:
    new emails are unique ignoring case), the same phone digits, or the same family and given name
    with the same kana. Contacts found by several rules form one group with several reasons.

    Each group: {"ids": [contact ids, oldest first], "reasons": [{"rule", "label", "value"}]},
    the largest groups first."""
    groups: dict[tuple, dict] = {}
    ids = StringAgg(Cast("id", models.CharField()), Value(","))
    rules = [
        (
            "phone",
            _("Same phone"),
            Contact.objects.exclude(phone="").annotate(value=_phone_digits()).exclude(value=""),
            ["value"],
        ),
        (
            "name",
            _("Same name and kana"),
            Contact.objects.exclude(family_name="")
            .exclude(given_name="")
            .exclude(family_name_kana=""),
            ["family_name", "given_name", "family_name_kana", "given_name_kana"],
        ),
    ]
    if _email_case_duplicates_possible():
        with_email = Contact.objects.exclude(email="").annotate(value=Lower("email"))
        rules.insert(0, ("email", _("Same email"), with_email, ["value"]))
    for rule, label, queryset, columns in rules:
        found = (
            queryset.values(*columns)
            .annotate(n=Count("id"), ids=ids)
            .filter(n__gt=1)
            .order_by("-n", *columns)[:limit]
        )
        for row in found:
            members = tuple(sorted(int(pk) for pk in row["ids"].split(",")))
            if rule == "name":
                value = "{} {} ({} {})".format(*(row[c] for c in columns)).replace(" )", ")")
            else:
                value = row["value"]
            group = groups.setdefault(members, {"ids": list(members), "reasons": []})
            group["reasons"].append({"rule": rule, "label": label, "value": value})
    ordered = sorted(groups.values(), key=lambda group: (-len(group["ids"]), group["ids"]))
    return ordered[:limit]


def find_contact(text: str) -> Contact | None:
    """The contact someone means by "123", "#123" or an email address (merge screen)."""
    text = (text or "").strip()
    if text.lstrip("#").isdigit():
        return Contact.objects.filter(pk=int(text.lstrip("#"))).first()
    if "@" in text:
        return Contact.objects.with_email(text).first()
    return None


# --- What points at a contact -------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One way rows point at a contact: `model.attname` holds the contact's id. For the link table
    of a many-to-many, `partner` is its other column: a pair both contacts have is kept once."""

    model: type[models.Model]
    name: str
    attname: str
    partner: str = ""
    one_to_one: bool = False

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.name}"

    @property
    def rows(self) -> models.QuerySet:
        # The base manager: a default manager that hides rows (soft deletion) must not leave
        # them behind on the contact that is about to be deleted.
        return self.model._base_manager.all()


def links() -> list[Link]:
    """Every relation to Contact from every installed app: foreign keys (hidden ones too), one-to-
    ones, and the link tables of many-to-manys in either direction. A many-to-many with a model
    of its own as `through` is that model's foreign key."""
    found = []
    for relation in Contact._meta.get_fields(include_hidden=True):
        if not isinstance(relation, models.ForeignObjectRel) or relation.many_to_many:
            continue
        model, field = relation.related_model, relation.field
        partner = ""
        if model._meta.auto_created:  # the link table Django made for a many-to-many
            partner = next(
                other.attname
                for other in model._meta.concrete_fields
                if other.is_relation and other is not field
            )
        found.append(Link(model, field.name, field.attname, partner, relation.one_to_one))
    return found


def _chunks(ids: list) -> list[list]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


def _move(link: Link, from_id: int, to_id: int) -> tuple[list, list]:
    """Point link's rows at to_id. Returns the moved row ids and, for a link table, the partners
    both contacts had (those rows of from_id are deleted, to be recreated on undo)."""
    rows = link.rows.filter(**{link.attname: from_id})
    dropped = []
    if link.partner:
        theirs = link.rows.filter(**{link.attname: to_id}).values(link.partner)
        clashing = rows.filter(**{f"{link.partner}__in": theirs})
        dropped = list(clashing.values_list(link.partner, flat=True))
        clashing.delete()
    ids = list(rows.order_by("pk").values_list("pk", flat=True))
    try:
        with transaction.atomic():
            for chunk in _chunks(ids):
                link.rows.filter(pk__in=chunk).update(**{link.attname: to_id})
    except IntegrityError as error:
        raise MergeError(
            _(
                "Both contacts have %(things)s that may exist only once per contact; "
                "delete one of them, then merge."
            )
            % {"things": link.model._meta.verbose_name_plural}
        ) from error
    return ids, dropped


# --- Merge --------------------------------------------------------------------------------------


def _row(contact: Contact) -> dict:
    """The contact's row as JSON: every column but the id."""
    values = {name: getattr(contact, name) for name in ROW_FIELDS}
    for name, value in values.items():
        if hasattr(value, "isoformat"):
            values[name] = value.isoformat()
    return values


def _value(attname: str, value):
    """A snapshot value (JSON) back to what the model field holds; a foreign key to something
    deleted since (a company, an owner's account) comes back empty."""
    field = FIELDS_BY_ATTNAME[attname]
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        return field.to_python(value)
    if (
        field.is_relation
        and value is not None
        and not field.related_model._base_manager.filter(pk=value).exists()
    ):
        return None
    return value


def merge_problem(survivor: Contact, other: Contact) -> str:
    """Why these two cannot be merged, or "" (the merge screen says it before anyone submits)."""
    if survivor.pk == other.pk:
        return _("A contact cannot be merged with itself.")
    if survivor.user_id and other.user_id:
        return _(
            "Both contacts have a login. A person has one login: remove the login of one of "
            "them (or keep the contact that has the login you want), then merge."
        )
    for link in links():
        if link.one_to_one and all(
            link.rows.filter(**{link.attname: pk}).exists() for pk in (survivor.pk, other.pk)
        ):
            return _("Both contacts have a %(thing)s; a contact can have only one.") % {
                "thing": link.model._meta.verbose_name
            }
    return ""


@transaction.atomic
def merge_contacts(
    survivor: Contact, other: Contact, chosen: dict[str, str], *, by
) -> ContactMerge:
    """Merge `other` into `survivor` and delete `other`; return the ContactMerge that can undo it.

    chosen: {field: "survivor" | "other"} for built-in fields and custom keys; a field not named
    keeps the survivor's value, or takes the other's where the survivor has none. Tags are
    united; every row pointing at `other` moves; the login moves when the survivor has none."""
    survivor = Contact.objects.select_for_update().get(pk=survivor.pk)
    other = Contact.objects.select_for_update().get(pk=other.pk)
    if problem := merge_problem(survivor, other):
        raise MergeError(problem)
    before, other_row = _row(survivor), _row(other) | {"id": other.pk}
    for name in MERGEABLE_FIELDS:
        attname = Contact._meta.get_field(name).attname
        mine, theirs = getattr(survivor, attname), getattr(other, attname)
        if chosen.get(name) == "other" or (chosen.get(name) != "survivor" and not mine):
            setattr(survivor, attname, theirs)
    custom = dict(survivor.custom)
    for key in set(custom) | set(other.custom):
        if chosen.get(key) == "other" or (chosen.get(key) != "survivor" and key not in custom):
            if key in other.custom:
                custom[key] = other.custom[key]
            else:
                custom.pop(key, None)
    survivor.custom = custom
    survivor.first_seen_at = min(
        (t for t in (survivor.first_seen_at, other.first_seen_at) if t), default=None
    )
    survivor.last_seen_at = max(
        (t for t in (survivor.last_seen_at, other.last_seen_at) if t), default=None
    )
    survivor.sessions += other.sessions
    if other.user_id:
        survivor.user_id = other.user_id
    moved, dropped = {}, {}
    for link in links():
        ids, partners = _move(link, other.pk, survivor.pk)
        if ids:
            moved[link.label] = ids
        if partners:
            dropped[link.label] = partners
    # Deleted before the survivor saves: its email, external id and login may move over. Nothing
    # points at it any more, so nothing cascades.
    Contact.objects.filter(pk=other.pk).delete()
    latest = ConsentRecord.objects.filter(contact=survivor).order_by("-recorded_at", "-id").first()
    if latest is not None:
        survivor.email_opt_in = latest.opted_in
    survivor.save()
    name = " ".join(p for p in (other_row["family_name"], other_row["given_name"]) if p)
    merge = ContactMerge.objects.create(
        survivor=survivor,
        merged_contact_id=other.pk,
        merged_contact_name=(name or other_row["email"] or f"#{other.pk}")[:255],
        snapshot={
            "survivor_id": survivor.pk,
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
            "merged_contact": other.pk,
            "email": other_row["email"],
            "chosen": {key: value for key, value in chosen.items() if value == "other"},
            "moved": {label: len(ids) for label, ids in moved.items()},
        },
    )
    merged_id = other.pk
    transaction.on_commit(
        lambda: contact_merged.send(
            sender=Contact, survivor=survivor, merged_contact_id=merged_id, merge=merge
        )
    )
    return merge


# --- Undo ---------------------------------------------------------------------------------------


@dataclass
class UndoPlan:
    """What undoing a merge does to the survivor: values put back, and fields changed since the
    merge that therefore stay as they are."""

    values: dict
    custom: dict
    kept: list[str]


def _plan(merge: ContactMerge, survivor: Contact) -> UndoPlan:
    snapshot = merge.snapshot
    before, after = snapshot["survivor_before"], snapshot["survivor_after"]
    now, values, kept = _row(survivor), {}, []
    for name in ROW_FIELDS:
        if name in DERIVED_FIELDS or before.get(name) == after.get(name):
            continue
        if now.get(name) == after.get(name):
            values[name] = _value(name, before.get(name))
        else:
            kept.append(name)
    custom = dict(survivor.custom)
    for key in sorted(set(before["custom"]) | set(after["custom"])):
        if before["custom"].get(key) == after["custom"].get(key):
            continue
        if custom.get(key) != after["custom"].get(key):
            kept.append(key)
        elif key in before["custom"]:
            custom[key] = before["custom"][key]
        else:
            custom.pop(key, None)
    return UndoPlan(values, custom, kept)


def undo_problem(merge: ContactMerge, survivor: Contact, plan: UndoPlan) -> str:
    """Why this merge cannot be undone now, or ""."""
    if merge.undone_at:
        return _("This merge was already undone.")
    snapshot = merge.snapshot
    if snapshot.get("survivor_id", merge.survivor_id) != merge.survivor_id:
        return _(
            "The contact this one was merged into was itself merged into #%(id)s later; "
            "undo that merge first."
        ) % {"id": merge.survivor_id}
    other = snapshot["other"]
    survivor_after_undo = _row(survivor) | plan.values
    for name, lookup in (("email", "iexact"), ("external_id", "exact")):
        value = other.get(name) or ""
        if not value:
            continue
        elsewhere = (
            Contact.objects.filter(**{f"{name}__{lookup}": value})
            .exclude(pk=merge.survivor_id)
            .exists()
        )
        on_survivor = survivor_after_undo.get(name) or ""
        if name == "email":
            on_survivor, value_compared = on_survivor.lower(), value.lower()
        else:
            value_compared = value
        still_on_survivor = on_survivor == value_compared
        if elsewhere or still_on_survivor:
            return _(
                "Another contact now has %(value)s, which belonged to the merged contact; "
                "change it there, then undo."
            ) % {"value": value}
    user_id = other.get("user_id")
    if user_id and Contact.objects.filter(user_id=user_id).exclude(pk=merge.survivor_id).exists():
        return _("The merged contact's login now belongs to another contact.")
    return ""


def undo_preview(merge: ContactMerge) -> dict:
    """For the confirmation screen: what would be kept, what moves back, and any problem."""
    survivor = Contact.objects.get(pk=merge.survivor_id)
    plan = _plan(merge, survivor)
    return {
        "problem": undo_problem(merge, survivor, plan),
        "kept": field_labels(plan.kept),
        "moving": sum(len(ids) for ids in merge.snapshot["moved"].values()),
    }


@transaction.atomic
def undo_merge(merge: ContactMerge, *, by) -> tuple[Contact, list[str]]:
    """Bring the merged contact back with its id, values and rows, and put back the survivor's
    values the merge changed. Returns the restored contact and the survivor's fields that changed
    after the merge and were therefore kept as they are."""
    merge = ContactMerge.objects.select_for_update().get(pk=merge.pk)
    survivor = Contact.objects.select_for_update().get(pk=merge.survivor_id)
    plan = _plan(merge, survivor)
    if problem := undo_problem(merge, survivor, plan):
        raise MergeError(problem)
    snapshot, other = merge.snapshot, merge.snapshot["other"]
    for name, value in plan.values.items():
        setattr(survivor, name, value)
    survivor.custom = plan.custom
    if other.get("user_id") and survivor.user_id == other["user_id"]:
        survivor.user_id = None  # the login goes back to the person it belonged to
    survivor.save()
    restored = Contact(pk=other["id"])
    for name in ROW_FIELDS:
        setattr(restored, name, _value(name, other.get(name)))
    restored.save(force_insert=True)
    # Exactly as it was: auto_now stamped the insert.
    restored.updated_at = _value("updated_at", other["updated_at"])
    Contact.objects.filter(pk=restored.pk).update(updated_at=restored.updated_at)
    for link in links():
        # Only rows still on the survivor: one moved elsewhere since stays where it is now.
        for chunk in _chunks(snapshot["moved"].get(link.label, [])):
            link.rows.filter(pk__in=chunk, **{link.attname: survivor.pk}).update(
                **{link.attname: restored.pk}
            )
        if partners := snapshot.get("dropped", {}).get(link.label):
            partner = link.model._meta.get_field(link.partner).related_model._base_manager
            existing = partner.filter(pk__in=partners).values_list("pk", flat=True)
            link.rows.bulk_create(
                [link.model(**{link.attname: restored.pk, link.partner: p}) for p in existing],
                ignore_conflicts=True,
            )
    merge.undone_at = timezone.now()
    merge.save(update_fields=["undone_at"])
    record_audit(
        by,
        AuditAction.UNMERGE,
        survivor,
        changes={"restored_contact": restored.pk, "merge": merge.pk, "kept": plan.kept},
    )
    transaction.on_commit(
        lambda: merge_undone.send(sender=Contact, survivor=survivor, restored=restored, merge=merge)
    )
    return restored, plan.kept


# --- Screens ------------------------------------------------------------------------------------

BUILTIN_LABELS = {column.key: column.label for column in fields.CONTACT_BUILTIN_COLUMNS}


def field_labels(keys: list[str]) -> list[str]:
    """Column names (owner_id, phone) and custom keys as staff read them."""
    definitions = {d.key: d for d in FieldDefinition.objects.for_contacts()}
    labels = []
    for key in keys:
        if key in FIELDS_BY_ATTNAME:
            name = FIELDS_BY_ATTNAME[key].name
            labels.append(str(BUILTIN_LABELS.get(name, FIELDS_BY_ATTNAME[key].verbose_name)))
        else:
            labels.append(definitions[key].label if key in definitions else key)
    return labels


def _shown(definition: FieldDefinition | None, value) -> str:
    if definition is None:
        return "" if value in (None, "", []) else str(value)
    try:
        return fields.display_value(definition, value)
    except (TypeError, ValueError, ArithmeticError):  # legacy data in an older shape
        return str(value)


def field_choices(survivor: Contact, other: Contact) -> list[dict]:
    """The side-by-side rows of the merge screen, for the fields where the two differ. The default
    is the value that is there, and where both are, the one of the contact changed last."""
    newer = "survivor" if survivor.updated_at >= other.updated_at else "other"
    rows = []

    def add(key, label, mine_shown, theirs_shown):
        default = newer if mine_shown and theirs_shown else "survivor" if mine_shown else "other"
        rows.append(
            {
                "key": key,
                "label": label,
                "survivor": mine_shown,
                "other": theirs_shown,
                "default": default,
            }
        )

    for name in MERGEABLE_FIELDS:
        field = Contact._meta.get_field(name)
        mine, theirs = getattr(survivor, field.attname), getattr(other, field.attname)
        if (mine or "") == (theirs or ""):
            continue
        if field.choices:
            shown = [dict(field.flatchoices).get(v, v) if v else "" for v in (mine, theirs)]
        elif field.is_relation:
            shown = [str(getattr(c, name) or "") for c in (survivor, other)]
        else:
            shown = [mine or "", theirs or ""]
        add(name, BUILTIN_LABELS.get(name, field.verbose_name), *map(str, shown))
    definitions = {d.key: d for d in FieldDefinition.objects.for_contacts()}
    for key in sorted(
        set(survivor.custom) | set(other.custom),
        key=lambda k: (k not in definitions, definitions[k].order if k in definitions else 0, k),
    ):
        mine, theirs = survivor.custom.get(key), other.custom.get(key)
        if mine == theirs:
            continue
        definition = definitions.get(key)
        label = definition.label if definition else key
        add(key, label, _shown(definition, mine), _shown(definition, theirs))
    return rows
