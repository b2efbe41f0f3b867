"""How a segment's contacts spread over one field: the distribution chart of the segment page.

One GROUP BY query over the contacts the filter selects - the same SQL shape on SQLite and
PostgreSQL - then labels in Python. Dimensions: built-in columns (prefecture, lifecycle, owner,
source, marketing consent), the device of the contact's most recently seen visitor, and every
active custom contact field of type choice or yes / no (grouped by its JSON key).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kizuna.crm.models import FieldDefinition, FieldType, Lifecycle
from kizuna.tracking.models import DeviceType, Visitor

# More buckets than this are folded into one "Other" bar (a free-text column can hold thousands).
MAX_BUCKETS = 20
DEFAULT_DIMENSION = "prefecture"
GROUPABLE_CUSTOM_TYPES = (FieldType.CHOICE, FieldType.BOOLEAN)


@dataclass(frozen=True)
class Dimension:
    """Something to group contacts by: `group` names the values() the GROUP BY uses and
    `label(row)` turns one grouped row into (bucket key, label, is_missing)."""

    key: str
    label: object  # str or lazy str
    group: dict  # alias -> expression for annotate(); grouped by these aliases
    label_row: Callable[[dict], tuple[str, str, bool]]


@dataclass
class Bucket:
    key: str
    label: str
    count: int
    missing: bool = False  # the "not set" bar
    other: bool = False  # the folded "Other" bar
    share: float = 0.0  # percent of the total


@dataclass
class Distribution:
    dimension: Dimension
    buckets: list[Bucket] = field(default_factory=list)
    total: int = 0

    @property
    def largest(self) -> int:
        return max((bucket.count for bucket in self.buckets), default=0)


def dimensions() -> list[Dimension]:
    """Every dimension offered in the segment page's select, built-in ones first."""
    return [*BUILTIN_DIMENSIONS.values(), *(_custom_dimension(d) for d in _groupable_fields())]


def dimension_for(key: str) -> Dimension | None:
    if key in BUILTIN_DIMENSIONS:
        return BUILTIN_DIMENSIONS[key]
    definition = _groupable_fields().filter(key=key).first()
    return _custom_dimension(definition) if definition else None


def distribution(contacts, dimension: Dimension, *, limit: int = MAX_BUCKETS) -> Distribution:
    """`contacts` (a Contact queryset, e.g. a segment's) counted per value of `dimension`."""
    aliases = list(dimension.group)
    rows = (
        contacts.order_by()
        .annotate(**dimension.group)
        .values(*aliases)
        .annotate(_n=Count("pk"))
        .order_by()
    )
    merged: dict[str, Bucket] = {}
    for row in rows:
        key, label, missing = dimension.label_row(row)
        bucket = merged.get(key)
        if bucket is None:
            merged[key] = Bucket(key=key, label=label, count=row["_n"], missing=missing)
        else:  # e.g. NULL and "" are both "not set"
            bucket.count += row["_n"]
    present = sorted((b for b in merged.values() if not b.missing), key=_largest_first)
    missing = [b for b in merged.values() if b.missing]
    if len(present) > limit:
        rest = present[limit:]
        present = present[:limit]
        other = Bucket(key="", label=_("Other"), count=sum(b.count for b in rest), other=True)
        present.append(other)
    buckets = present + missing
    total = sum(bucket.count for bucket in buckets)
    for bucket in buckets:
        bucket.share = round(100 * bucket.count / total, 1) if total else 0.0
    return Distribution(dimension=dimension, buckets=buckets, total=total)


def _largest_first(bucket: Bucket):
    return (-bucket.count, bucket.label)


# --- Dimensions -----------------------------------------------------------------------------------


def _not_set() -> str:
    return _("Not set")


def _text_row(row: dict) -> tuple[str, str, bool]:
    value = row["_value"]
    if value in (None, ""):
        return "", _not_set(), True
    return str(value), str(value), False


def _lifecycle_row(row: dict) -> tuple[str, str, bool]:
    value = row["_value"]
    if not value:
        return "", _not_set(), True
    try:
        return value, str(Lifecycle(value).label), False
    except ValueError:
        return value, value, False


def _owner_row(row: dict) -> tuple[str, str, bool]:
    if row["_owner"] is None:
        return "", _("No owner"), True
    return str(row["_owner"]), row["_owner_name"] or row["_owner_email"] or "", False


def _device_row(row: dict) -> tuple[str, str, bool]:
    value = row["_value"]
    if value is None:
        return "", _("No visits recorded"), True
    if value == "":
        return "?", _("Unknown device"), False
    try:
        return value, str(DeviceType(value).label), False
    except ValueError:
        return value, value, False


def _yes_no_row(row: dict) -> tuple[str, str, bool]:
    value = _as_bool(row["_value"])
    if value is None:
        return "", _not_set(), True
    return ("true", _("Yes"), False) if value else ("false", _("No"), False)


def _as_bool(value) -> bool | None:
    """A boolean as the database hands it back: True/False, 1/0 (SQLite JSON), "true"/"false"
    (PostgreSQL ->>)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def _latest_device():
    """The device of the contact's most recently seen visitor (NULL for a contact never seen)."""
    return Subquery(
        Visitor.objects.filter(contact_id=OuterRef("pk"))
        .order_by("-last_seen_at", "-pk")
        .values("device_type")[:1]
    )


BUILTIN_DIMENSIONS = {
    dimension.key: dimension
    for dimension in [
        Dimension("prefecture", gettext_lazy("Prefecture"), {"_value": F("prefecture")}, _text_row),
        Dimension(
            "lifecycle", gettext_lazy("Lifecycle"), {"_value": F("lifecycle")}, _lifecycle_row
        ),
        Dimension(
            "owner",
            pgettext_lazy("contact", "Owner"),
            {
                "_owner": F("owner_id"),
                "_owner_name": F("owner__name"),
                "_owner_email": F("owner__email"),
            },
            _owner_row,
        ),
        Dimension("device", gettext_lazy("Device"), {"_value": _latest_device()}, _device_row),
        Dimension("source", gettext_lazy("Source"), {"_value": F("source")}, _text_row),
        Dimension(
            "email_opt_in",
            gettext_lazy("Marketing consent"),
            {"_value": F("email_opt_in")},
            _yes_no_row,
        ),
        Dimension(
            "company.prefecture",
            gettext_lazy("Company prefecture"),
            {"_value": F("company__prefecture")},
            _text_row,
        ),
    ]
}


def _groupable_fields():
    return FieldDefinition.objects.for_contacts().active().filter(type__in=GROUPABLE_CUSTOM_TYPES)


def _custom_dimension(definition: FieldDefinition) -> Dimension:
    expression = {"_value": KeyTextTransform(definition.key, "custom")}
    if definition.type == FieldType.BOOLEAN:
        return Dimension(definition.key, definition.label, expression, _yes_no_row)

    def choice_row(row: dict) -> tuple[str, str, bool]:
        value = row["_value"]
        if value in (None, ""):
            return "", _not_set(), True
        return str(value), definition.choice_label(str(value)), False

    return Dimension(definition.key, definition.label, expression, choice_row)
