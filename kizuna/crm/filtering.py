"""Field and tag conditions of the segment filter language (../shared/docs/SEGMENTS.md), compiled
to one ORM query over contacts - the part of the language that needs only crm's tables.

The segments app (issue 5) owns the whole language - event, record and segment conditions,
explain, saved segments - and builds on `condition_q` for field and tag conditions, so a field
condition means exactly the same thing in the export command, the contacts list and a segment.
"""

import datetime
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import BooleanField, DecimalField, Exists, F, Func, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.crm.models import Contact, FieldDefinition, FieldTarget, FieldType

TEXT_OPS = {
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "empty",
    "not_empty",
}
OPERATORS = {
    "text": TEXT_OPS,
    "number": {"eq", "ne", "gt", "gte", "lt", "lte", "between", "empty", "not_empty"},
    "date": {
        "eq",
        "before",
        "after",
        "between",
        "within_last_days",
        "more_than_days_ago",
        "within_next_days",
        "empty",
        "not_empty",
    },
    "boolean": {"eq"},
    "choice": {"eq", "ne", "in", "not_in", "empty", "not_empty"},
    "multi_choice": {"has_any", "has_all", "has_none", "empty", "not_empty"},
    "file": {"empty", "not_empty"},
}
OPERATOR_FAMILY = {
    FieldType.TEXT: "text",
    FieldType.TEXTAREA: "text",
    FieldType.EMAIL: "text",
    FieldType.URL: "text",
    FieldType.PHONE: "text",
    FieldType.NUMBER: "number",
    FieldType.DECIMAL: "number",
    FieldType.DATE: "date",
    FieldType.DATETIME: "date",
    FieldType.BOOLEAN: "boolean",
    FieldType.CHOICE: "choice",
    FieldType.MULTI_CHOICE: "multi_choice",
    FieldType.FILE: "file",
}
NO_VALUE_OPS = {"empty", "not_empty"}
# Operators that a missing value matches (SEGMENTS.md "Semantics").
MISSING_MATCHES = {"empty", "ne", "not_in", "not_contains", "has_none"}
LATER_CONDITIONS = {"event", "record", "segment"}

# Built-in contact fields: SEGMENTS.md name -> (ORM path, type).
CONTACT_FIELDS = {
    "email": ("email", FieldType.EMAIL),
    "family_name": ("family_name", FieldType.TEXT),
    "given_name": ("given_name", FieldType.TEXT),
    "family_name_kana": ("family_name_kana", FieldType.TEXT),
    "given_name_kana": ("given_name_kana", FieldType.TEXT),
    "phone": ("phone", FieldType.PHONE),
    "postal_code": ("postal_code", FieldType.TEXT),
    "prefecture": ("prefecture", FieldType.TEXT),
    "city": ("city", FieldType.TEXT),
    "address": ("address", FieldType.TEXT),
    "owner": ("owner__email", FieldType.EMAIL),
    "lifecycle": ("lifecycle", FieldType.CHOICE),
    "source": ("source", FieldType.TEXT),
    "external_id": ("external_id", FieldType.TEXT),
    "email_opt_in": ("email_opt_in", FieldType.BOOLEAN),
    "created_at": ("created_at", FieldType.DATETIME),
    "updated_at": ("updated_at", FieldType.DATETIME),
    "first_seen_at": ("first_seen_at", FieldType.DATETIME),
    "last_seen_at": ("last_seen_at", FieldType.DATETIME),
    "sessions": ("sessions", FieldType.NUMBER),
}
COMPANY_FIELDS = {
    "name": ("name", FieldType.TEXT),
    "name_kana": ("name_kana", FieldType.TEXT),
    "domain": ("domain", FieldType.TEXT),
    "phone": ("phone", FieldType.PHONE),
    "postal_code": ("postal_code", FieldType.TEXT),
    "prefecture": ("prefecture", FieldType.TEXT),
    "city": ("city", FieldType.TEXT),
    "address": ("address", FieldType.TEXT),
    "owner": ("owner__email", FieldType.EMAIL),
    "created_at": ("created_at", FieldType.DATETIME),
}
# Fields SEGMENTS.md names that other apps bring (members): refused until registered.
FIELDS_OF_LATER_APPS = {"member_state", "tier"}


# Label and choices (a callable returning [(value, label)]) of the fields registered below.
REGISTERED_FIELD_LABELS: dict[str, object] = {}
REGISTERED_FIELD_CHOICES: dict[str, Callable[[], list[tuple[str, str]]]] = {}


def register_contact_field(name: str, path: str, kind: str, *, label, choices=None) -> None:
    """A downstream app adds a built-in field SEGMENTS.md names (members: `member_state`,
    `tier`), reached from the contact by the ORM path `path`."""
    CONTACT_FIELDS[name] = (path, kind)
    FIELDS_OF_LATER_APPS.discard(name)
    REGISTERED_FIELD_LABELS[name] = label
    if choices is not None:
        REGISTERED_FIELD_CHOICES[name] = choices


class FilterError(ValueError):
    """A filter that does not fit SEGMENTS.md; the message names the place, translated."""


@dataclass(frozen=True)
class FieldRef:
    """Where a filter field's value lives: a column (path) or a custom JSON key (custom_key)."""

    name: str
    type: str
    path: str = ""
    custom_key: str = ""
    definition: FieldDefinition | None = None
    prefix: str = ""  # "company__" for company fields

    @property
    def is_custom(self) -> bool:
        return bool(self.custom_key)


def use_compiler(compiler_class: type["FilterCompiler"]) -> None:
    """The segments app installs its compiler (the whole language) in its ready(): from then on
    the contacts list, export and bulk update accept event, record and segment conditions."""
    global _compiler_class
    _compiler_class = compiler_class


def filter_contacts(queryset, document, *, now: datetime.datetime | None = None):
    """`queryset` narrowed to the contacts the filter selects. Raises FilterError."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            message = _("The filter is not valid JSON: %(error)s") % {"error": error}
            raise FilterError(message) from None
    compiler = _compiler_class(now or timezone.now())
    return queryset.filter(compiler.filter_q(document, ""))


def condition_q(document, *, now: datetime.datetime | None = None) -> Q:
    """The Q object for a filter made of groups, field and tag conditions."""
    return _compiler_class(now or timezone.now()).filter_q(document, "")


class FilterCompiler:
    """Compiles a filter document to a Q over contacts. The segments app subclasses it for the
    event, record and segment conditions (`other_condition_q`)."""

    def __init__(self, now: datetime.datetime):
        self.now = now
        self.today = timezone.localtime(now).date()
        self._definitions = {}

    # --- structure --------------------------------------------------------------------------

    def filter_q(self, node, place: str) -> Q:
        if not isinstance(node, dict):
            raise self.error(place, _("expected an object"))
        for group in ("all", "any"):
            if group in node:
                self.only_keys(node, {group}, place)
                children = node[group]
                if not isinstance(children, list):
                    raise self.error(self.at(place, group), _("expected a list"))
                parts = [
                    self.filter_q(child, f"{self.at(place, group)}[{index}]")
                    for index, child in enumerate(children)
                ]
                if not parts:
                    # Not Q(): its negation would be Q() too, and {"not": {"all": []}} is nobody.
                    return Q(pk__isnull=False) if group == "all" else Q(pk__in=[])
                combined = parts[0]
                for part in parts[1:]:
                    combined = combined & part if group == "all" else combined | part
                return combined
        if "not" in node:
            self.only_keys(node, {"not"}, place)
            return ~self.filter_q(node["not"], self.at(place, "not"))
        if "tag" in node:
            self.only_keys(node, {"tag"}, place)
            return self.tag_q(node["tag"], self.at(place, "tag"))
        if "field" in node:
            return self.field_q(node, place)
        for kind in LATER_CONDITIONS:
            if kind in node:
                return self.other_condition_q(kind, node, place)
        raise self.error(place, _("expected all, any, not, field or tag"))

    def tag_q(self, name, place: str) -> Q:
        if not isinstance(name, str) or not name:
            raise self.error(place, _("expected a tag name"))
        tagged = Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag__name=name)
        return Q(Exists(tagged))

    def other_condition_q(self, kind: str, node: dict, place: str) -> Q:
        """Event, record and segment conditions: the segments app compiles them."""
        raise self.error(
            self.at(place, kind),
            _("%(kind)s conditions are evaluated by segments, not here") % {"kind": kind},
        )

    def only_keys(self, node: dict, allowed: set, place: str):
        extra = sorted(set(node) - allowed)
        if extra:
            raise self.error(self.at(place, extra[0]), _("unexpected key"))

    # --- field conditions -------------------------------------------------------------------

    def field_q(self, node: dict, place: str) -> Q:
        self.only_keys(node, {"field", "op", "value"}, place)
        ref = self.resolve(node["field"], self.at(place, "field"))
        op = node.get("op")
        family = OPERATOR_FAMILY[ref.type]
        if ref.name == "lifecycle":
            family = "choice"
        if op not in OPERATORS[family]:
            raise self.error(
                self.at(place, "op"),
                _('"%(op)s" is not an operator for %(type)s field "%(field)s"')
                % {"op": op, "type": ref.type, "field": ref.name},
            )
        value_place = self.at(place, "value")
        if op in NO_VALUE_OPS:
            if "value" in node:
                raise self.error(value_place, _("%(op)s takes no value") % {"op": op})
            value = None
        elif "value" not in node:
            raise self.error(value_place, _("a value is required"))
        else:
            value = node["value"]
        present = self.present_q(ref)
        if op == "empty":
            return ~present
        if op == "not_empty":
            return present
        if family == "boolean":
            if not isinstance(value, bool):
                raise self.error(value_place, _("expected true or false"))
            true_q = self.lookup(ref, "exact", True)
            if ref.is_custom:
                true_q &= present  # a missing value is false, and NOT (missing = true) is NULL
            return true_q if value else ~true_q
        match = self.match_q(ref, family, op, value, value_place)
        if op in MISSING_MATCHES:
            return ~(present & match)
        return present & match

    def match_q(self, ref: FieldRef, family: str, op: str, value, place: str) -> Q:
        positive = {"ne": "eq", "not_in": "in", "not_contains": "contains", "has_none": "has_any"}
        op = positive.get(op, op)
        if family in ("text", "choice"):
            return self.text_q(ref, op, value, place)
        if family == "number":
            return self.number_q(ref, op, value, place)
        if family == "date":
            return self.date_q(ref, op, value, place)
        if family == "multi_choice":
            values = self.string_list(value, place)
            return Q(_JSONArrayHas(F(f"{ref.prefix}custom"), ref.custom_key, values, op))
        raise self.error(place, _("unsupported"))

    def text_q(self, ref: FieldRef, op: str, value, place: str) -> Q:
        case_insensitive = ref.type == FieldType.EMAIL
        if op == "in":
            values = self.string_list(value, place)
            if case_insensitive:
                q = Q(pk__in=[])
                for item in values:
                    q |= self.lookup(ref, "iexact", item)
                return q
            return self.lookup(ref, "in", values)
        if not isinstance(value, str):
            raise self.error(place, _("expected text"))
        lookup = {
            "eq": "iexact" if case_insensitive else "exact",
            "contains": "icontains",
            "starts_with": "istartswith",
            "ends_with": "iendswith",
        }[op]
        return self.lookup(ref, lookup, value)

    def number_q(self, ref: FieldRef, op: str, value, place: str) -> Q:
        if op == "between":
            low, high = (self.number(v, place) for v in self.pair(value, place))
            return self.number_lookup(ref, "gte", low) & self.number_lookup(ref, "lte", high)
        number = self.number(value, place)
        if op == "eq":
            return self.number_lookup(ref, "exact", number)
        return self.number_lookup(ref, op, number)

    def date_q(self, ref: FieldRef, op: str, value, place: str) -> Q:
        days = None
        if op in ("within_last_days", "more_than_days_ago", "within_next_days"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise self.error(place, _("expected a whole number of days"))
            days = value
        one = datetime.timedelta(days=1)
        if op == "eq":
            day = self.date(value, place)
            return self.day_range(ref, day, day + one)
        if op == "before":
            return self.day_range(ref, None, self.date(value, place))
        if op == "after":
            return self.day_range(ref, self.date(value, place) + one, None)
        if op == "between":
            low, high = (self.date(v, place) for v in self.pair(value, place))
            return self.day_range(ref, low, high + one)
        if op == "within_last_days":
            return self.day_range(ref, self.today - days * one, self.today + one)
        if op == "more_than_days_ago":
            return self.day_range(ref, None, self.today - days * one)
        return self.day_range(ref, self.today, self.today + (days + 1) * one)

    def day_range(self, ref: FieldRef, start: datetime.date | None, end: datetime.date | None):
        """start <= day < end, by calendar day in the site's time zone."""
        q = Q()
        for bound, lookup in ((start, "gte"), (end, "lt")):
            if bound is None:
                continue
            if ref.type == FieldType.DATE:
                q &= self.lookup(ref, lookup, bound.isoformat(), text=True)
                continue
            moment = timezone.make_aware(datetime.datetime.combine(bound, datetime.time()))
            if ref.is_custom:  # stored as UTC ISO text, which sorts like the instant
                q &= self.lookup(ref, lookup, moment.astimezone(datetime.UTC).isoformat(), True)
            else:
                q &= self.lookup(ref, lookup, moment)
        return q

    # --- where values live ------------------------------------------------------------------

    def resolve(self, name, place: str) -> FieldRef:
        if not isinstance(name, str) or not name:
            raise self.error(place, _("expected a field name"))
        if name in FIELDS_OF_LATER_APPS:
            raise self.error(place, _('field "%(field)s" is not available yet') % {"field": name})
        if name.startswith("company."):
            key = name.removeprefix("company.")
            if key in COMPANY_FIELDS:
                path, kind = COMPANY_FIELDS[key]
                return FieldRef(name, kind, path=f"company__{path}", prefix="company__")
            definition = self.definition(FieldTarget.COMPANY, key)
            if definition:
                return FieldRef(
                    name, definition.type, custom_key=key, definition=definition, prefix="company__"
                )
        elif name in CONTACT_FIELDS:
            path, kind = CONTACT_FIELDS[name]
            return FieldRef(name, kind, path=path)
        elif definition := self.definition(FieldTarget.CONTACT, name):
            return FieldRef(name, definition.type, custom_key=name, definition=definition)
        raise self.error(place, _('unknown field "%(field)s"') % {"field": name})

    def definition(self, target: str, key: str) -> FieldDefinition | None:
        if (target, key) not in self._definitions:
            self._definitions[target, key] = FieldDefinition.objects.filter(
                target=target, key=key
            ).first()
        return self._definitions[target, key]

    def present_q(self, ref: FieldRef) -> Q:
        if ref.is_custom:
            q = Q(**{f"{ref.prefix}custom__has_key": ref.custom_key})
            if ref.type in (FieldType.MULTI_CHOICE,):
                return q & ~Q(**{f"{ref.prefix}custom__{ref.custom_key}": []})
            return q & ~Q(**{f"{ref.prefix}custom__{ref.custom_key}": ""})
        q = Q(**{f"{ref.path}__isnull": False})
        field_is_text = ref.type not in (FieldType.DATETIME, FieldType.NUMBER, FieldType.BOOLEAN)
        if field_is_text:
            q &= ~Q(**{ref.path: ""})
        return q

    def lookup(self, ref: FieldRef, lookup: str, value, text: bool = False) -> Q:
        if ref.is_custom:
            if text or lookup in ("icontains", "istartswith", "iendswith", "iexact", "in"):
                expression = KeyTextTransform(ref.custom_key, f"{ref.prefix}custom")
                return Q(_lookup(expression, lookup, value))
            return Q(**{f"{ref.prefix}custom__{ref.custom_key}__{lookup}": value})
        return Q(**{f"{ref.path}__{lookup}": value})

    def number_lookup(self, ref: FieldRef, lookup: str, number: Decimal) -> Q:
        if ref.is_custom:
            expression = Cast(
                KeyTextTransform(ref.custom_key, f"{ref.prefix}custom"),
                DecimalField(max_digits=30, decimal_places=10),
            )
            return Q(_lookup(expression, lookup, number))
        return Q(**{f"{ref.path}__{lookup}": number})

    # --- values -----------------------------------------------------------------------------

    def string_list(self, value, place: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(place, _("expected a list of text values"))
        return value

    def pair(self, value, place: str):
        if not isinstance(value, list) or len(value) != 2:
            raise self.error(place, _("expected [low, high]"))
        return value

    def number(self, value, place: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.error(place, _("expected a number"))
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.error(place, _("expected a number")) from None
        if not number.is_finite():
            raise self.error(place, _("expected a number"))
        return number

    def date(self, value, place: str) -> datetime.date:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return datetime.date.fromisoformat(value)
            except ValueError:
                pass
        raise self.error(place, _("expected a date as YYYY-MM-DD"))

    @staticmethod
    def at(place: str, key: str) -> str:
        return f"{place}.{key}" if place else key

    @staticmethod
    def error(place: str, message: str) -> FilterError:
        return FilterError(f"{place or '(filter)'}: {message}")


def _lookup(expression, lookup: str, value):
    """A lookup object usable in filter() for an expression (KT, Cast)."""
    lookup_class = expression.output_field.get_lookup(lookup)
    return lookup_class(expression, value)


class _JSONArrayHas(Func):
    """custom[key] (a JSON list of strings) has any / all of `values`. One EXISTS over the
    array's elements on SQLite, the ?| / ?& operators on PostgreSQL."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column, key: str, values: list[str], op: str):
        super().__init__(column)
        self.key, self.values, self.op = key, values, op

    def as_sql(self, compiler, connection, **extra):
        column_sql, column_params = compiler.compile(self.source_expressions[0])
        if not self.values:
            return ("1 = 1" if self.op == "has_all" else "1 = 0"), []
        if connection.vendor == "postgresql":
            operator = "?|" if self.op == "has_any" else "?&"
            placeholders = ", ".join(["%s"] * len(self.values))
            sql = f"(({column_sql} -> %s) {operator} ARRAY[{placeholders}]::text[])"
            return sql, [*column_params, self.key, *self.values]
        placeholders = ", ".join(["%s"] * len(self.values))
        path = f'$."{self.key}"'
        if self.op == "has_any":
            # Only the compiled column and placeholders are formatted into the SQL.
            sql = f"EXISTS (SELECT 1 FROM json_each({column_sql}, %s) WHERE json_each.value IN ({placeholders}))"  # noqa: E501, S608
            return sql, [*column_params, path, *self.values]
        sql = f"(SELECT COUNT(DISTINCT json_each.value) FROM json_each({column_sql}, %s) WHERE json_each.value IN ({placeholders})) = %s"  # noqa: E501, S608
        return sql, [*column_params, path, *self.values, len(set(self.values))]


_compiler_class: type[FilterCompiler] = FilterCompiler
