"""Why is this person in it (or not)? Each node of a filter evaluated for one contact.

Every node - condition or group - is compiled by the same SegmentCompiler that decides the
segment, and all of them are asked in one query restricted to the contact: each as
CASE WHEN <compiled condition> THEN true ELSE false END, which is exactly whether WHERE would
select the contact (SQL's unknown counts as no). Event and record conditions also get the count
behind them (the events or records that matched the condition's other keys), and a record
condition with `sum` the sum. So the explanation can never disagree with the segment.

The words for operators and conditions live here too: the builder's picker and the explanation
name things the same way.
"""

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    BooleanField,
    Case,
    DecimalField,
    F,
    Func,
    IntegerField,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kizuna.crm import fields, filtering
from kizuna.crm.filtering import FieldRef
from kizuna.crm.models import Contact, FieldDefinition, FieldTarget
from kizuna.segments.compiler import FilterError, SegmentCompiler, parse_document
from kizuna.tracking.models import EventType

# Operators in the order the builder offers them, with their words.
OPERATOR_LABELS = {
    "eq": pgettext_lazy("filter operator", "is"),
    "ne": pgettext_lazy("filter operator", "is not"),
    "in": pgettext_lazy("filter operator", "is one of"),
    "not_in": pgettext_lazy("filter operator", "is none of"),
    "contains": pgettext_lazy("filter operator", "contains"),
    "not_contains": pgettext_lazy("filter operator", "does not contain"),
    "starts_with": pgettext_lazy("filter operator", "starts with"),
    "ends_with": pgettext_lazy("filter operator", "ends with"),
    "gt": pgettext_lazy("filter operator", "is greater than"),
    "gte": pgettext_lazy("filter operator", "is at least"),
    "lt": pgettext_lazy("filter operator", "is less than"),
    "lte": pgettext_lazy("filter operator", "is at most"),
    "between": pgettext_lazy("filter operator", "is between"),
    "before": pgettext_lazy("filter operator", "is before"),
    "after": pgettext_lazy("filter operator", "is after"),
    "within_last_days": pgettext_lazy("filter operator", "is within the last … days"),
    "more_than_days_ago": pgettext_lazy("filter operator", "is more than … days ago"),
    "within_next_days": pgettext_lazy("filter operator", "is within the next … days"),
    "has_any": pgettext_lazy("filter operator", "has any of"),
    "has_all": pgettext_lazy("filter operator", "has all of"),
    "has_none": pgettext_lazy("filter operator", "has none of"),
    "empty": pgettext_lazy("filter operator", "is empty"),
    "not_empty": pgettext_lazy("filter operator", "is not empty"),
}
# Day operators read as a sentence with the number inside ("… in the last 30 days").
DAY_WORDS = {
    "within_last_days": gettext_lazy("%(field)s is within the last %(days)s days"),
    "more_than_days_ago": gettext_lazy("%(field)s is more than %(days)s days ago"),
    "within_next_days": gettext_lazy("%(field)s is within the next %(days)s days"),
}
COMPANY_FIELD_LABELS = {
    "name": gettext_lazy("Company name"),
    "name_kana": gettext_lazy("Company name (kana)"),
    "domain": gettext_lazy("Domain"),
    "phone": gettext_lazy("Company phone"),
    "postal_code": gettext_lazy("Company postal code"),
    "prefecture": gettext_lazy("Company prefecture"),
    "city": gettext_lazy("Company city"),
    "address": gettext_lazy("Company address"),
    "owner": gettext_lazy("Company owner"),
    "created_at": gettext_lazy("Company created"),
}
BUILTIN_FIELD_LABELS = {column.key: column.label for column in fields.CONTACT_BUILTIN_COLUMNS}
GROUP_KINDS = ("all", "any")
CONDITION_KINDS = ("field", "tag", "event", "record", "segment")


@dataclass
class Step:
    """One node of the filter and whether it holds for the contact."""

    kind: str  # all, any, not, field, tag, event, record, segment
    place: str  # as FilterError names it: "all[2].any[0]"; "" for the root
    node: dict
    matched: bool = False
    children: list["Step"] = field(default_factory=list)
    summary: str = ""
    value: str | None = None  # field conditions: the contact's value, as shown in the console
    count: int | None = None  # event / record conditions: how many matched the other keys
    total: Decimal | None = None  # record conditions with "sum": the sum over those records
    minimum: int | None = None
    maximum: int | None = None

    @property
    def place_label(self) -> str:
        return self.place or "(filter)"

    @property
    def json(self) -> str:
        return json.dumps(self.node, ensure_ascii=False)


def explain(document, contact, *, now: datetime.datetime | None = None) -> Step:
    """The filter's tree for `contact`, each node marked. Raises FilterError for a filter the
    segment itself would reject."""
    document = parse_document(document)
    compiler = _CountingCompiler(now or timezone.now())
    entries: list[tuple[Step, Q]] = []
    root = _walk(document, "", compiler, entries)
    annotations = {
        f"_why_{index}": Case(
            When(q, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
        for index, (_step, q) in enumerate(entries)
    }
    counted = {}
    for index, (place, expression) in enumerate(compiler.expressions.items()):
        counted[place] = f"_why_c{index}"
        annotations[counted[place]] = expression
    row = Contact.objects.filter(pk=contact.pk).annotate(**annotations).values(*annotations).first()
    if row is None:
        raise Contact.DoesNotExist
    for index, (step, _q) in enumerate(entries):
        step.matched = bool(row[f"_why_{index}"])
        if step.kind in ("event", "record"):
            step.count = row.get(counted.get(step.place, ""))
            step.total = row.get(counted.get(compiler.at(step.place, "sum"), ""))
        if step.kind == "field":
            step.value = _field_value(compiler, step.node, contact)
    return root


def segments_of(contact, segments) -> list[tuple]:
    """[(segment, is the contact in it now, error)] for each of `segments`, in one query."""
    compiler = SegmentCompiler(timezone.now())
    annotations, results = {}, []
    for index, segment in enumerate(segments):
        try:
            q = SegmentCompiler(compiler.now, (segment.slug,)).filter_q(segment.filter, "")
        except FilterError as error:
            results.append([segment, None, str(error)])
            continue
        annotations[f"_in_{index}"] = Case(
            When(q, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
        results.append([segment, f"_in_{index}", ""])
    row = {}
    if annotations:
        queryset = Contact.objects.filter(pk=contact.pk).annotate(**annotations)
        row = queryset.values(*annotations).first() or {}
    return [
        (segment, bool(row.get(alias)) if alias else None, error)
        for segment, alias, error in results
    ]


# --- The tree ---------------------------------------------------------------------------------


class _CountingCompiler(SegmentCompiler):
    """SegmentCompiler that also keeps, per condition place, the count (and sum) expression
    behind each event and record condition."""

    def __init__(self, now, segment_path=()):
        super().__init__(now, segment_path)
        self.expressions: dict[str, object] = {}

    def count_q(self, rows, node, place, counted=None):
        if counted is None:
            number = Func(F("pk"), function="COUNT")
        else:
            number = Func(
                counted, function="COUNT", template="%(function)s(DISTINCT %(expressions)s)"
            )
        self.expressions[place] = Coalesce(
            Subquery(
                rows.order_by().annotate(_n=number).values("_n")[:1], output_field=IntegerField()
            ),
            Value(0),
        )
        return super().count_q(rows, node, place, counted)

    def sum_q(self, records, record_type, node, place):
        q = super().sum_q(records, record_type, node, place)  # validates node first
        decimal = DecimalField(max_digits=30, decimal_places=10)
        amount = Cast(KeyTextTransform(node["field"], "custom"), decimal)
        self.expressions[place] = Coalesce(
            Subquery(
                records.order_by().annotate(_s=Func(amount, function="SUM")).values("_s")[:1],
                output_field=decimal,
            ),
            Value(0, output_field=decimal),
        )
        return q


def _walk(node, place: str, compiler: SegmentCompiler, entries: list) -> Step:
    q = compiler.filter_q(node, place)  # raises FilterError before anything is shown
    kind = _kind(node)
    step = Step(kind=kind, place=place, node=node, summary=describe(node))
    entries.append((step, q))
    if kind in GROUP_KINDS:
        prefix = compiler.at(place, kind)
        step.children = [
            _walk(child, f"{prefix}[{index}]", compiler, entries)
            for index, child in enumerate(node[kind])
        ]
    elif kind == "not":
        step.children = [_walk(node["not"], compiler.at(place, "not"), compiler, entries)]
    elif kind in ("event", "record"):
        step.minimum = node.get("min_count", 1)
        step.maximum = node.get("max_count")
    return step


def _kind(node: dict) -> str:
    for kind in (*GROUP_KINDS, "not", *CONDITION_KINDS):
        if kind in node:
            return kind
    return "unknown"


def _field_value(compiler: SegmentCompiler, node: dict, contact) -> str:
    """The contact's value of the condition's field, as the console shows it."""
    ref: FieldRef = compiler.resolve(node["field"], "")
    owner = contact.company if ref.prefix else contact
    if owner is None:
        return ""
    if ref.is_custom:
        return fields.display_value(ref.definition, (owner.custom or {}).get(ref.custom_key))
    value = owner
    for part in ref.path.removeprefix(ref.prefix).split("__"):
        value = getattr(value, part, None) if value is not None else None
    if isinstance(value, datetime.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if ref.name == "lifecycle" and value:
        return contact.get_lifecycle_display()
    return "" if value is None else str(value)


# --- Words ------------------------------------------------------------------------------------


def field_label(name: str) -> str:
    """A filter field's label: built-in, custom (in the current language) or company.*."""
    if name.startswith("company."):
        key = name.removeprefix("company.")
        if key in COMPANY_FIELD_LABELS:
            return str(COMPANY_FIELD_LABELS[key])
        definition = FieldDefinition.objects.filter(target=FieldTarget.COMPANY, key=key).first()
        label = definition.label if definition else key
        return _("Company: %(field)s") % {"field": label}
    if name in BUILTIN_FIELD_LABELS:
        return str(BUILTIN_FIELD_LABELS[name])
    if name in filtering.REGISTERED_FIELD_LABELS:
        return str(filtering.REGISTERED_FIELD_LABELS[name])
    definition = FieldDefinition.objects.filter(target=FieldTarget.CONTACT, key=name).first()
    return definition.label if definition else name


def describe(node) -> str:
    """One line saying what a node asks, in the current language."""
    if not isinstance(node, dict):
        return ""
    if "all" in node:
        return _("All of these")
    if "any" in node:
        return _("Any of these")
    if "not" in node:
        return _("Not this")
    if "tag" in node:
        return _("Has the tag “%(tag)s”") % {"tag": node["tag"]}
    if "segment" in node:
        return _("Is in the segment “%(segment)s”") % {"segment": node["segment"]}
    if "field" in node:
        label = field_label(str(node.get("field", "")))
        op = node.get("op", "")
        value = node.get("value")
        if op in DAY_WORDS:
            return DAY_WORDS[op] % {"field": label, "days": value}
        if op == "between" and isinstance(value, list) and len(value) == 2:
            return _("%(field)s is between %(low)s and %(high)s") % {
                "field": label,
                "low": _value_text(value[0]),
                "high": _value_text(value[1]),
            }
        words = str(OPERATOR_LABELS.get(op, op))
        if "value" not in node:
            return _("%(field)s %(op)s") % {"field": label, "op": words}
        return _("%(field)s %(op)s %(value)s") % {
            "field": label,
            "op": words,
            "value": _value_text(node["value"]),
        }
    if "event" in node:
        return _describe_event(node)
    if "record" in node:
        return _describe_record(node)
    return ""


def _value_text(value) -> str:
    if isinstance(value, list):
        return "、".join(_value_text(item) for item in value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def event_label(kind: str) -> str:
    try:
        return str(EventType(kind).label)
    except ValueError:
        return kind


def _describe_event(node: dict) -> str:
    parts = [event_label(str(node.get("event", "")))]
    if "url_contains" in node:
        parts.append(_("URL contains “%(text)s”") % {"text": node["url_contains"]})
    if "url_equals" in node:
        parts.append(_("URL is “%(text)s”") % {"text": node["url_equals"]})
    if "campaign" in node:
        parts.append(_("campaign “%(slug)s”") % {"slug": node["campaign"]})
    if "form" in node:
        parts.append(_("form “%(slug)s”") % {"slug": node["form"]})
    if isinstance(node.get("param"), dict):
        pairs = ", ".join(
            key if value is None else f"{key}={value}" for key, value in node["param"].items()
        )
        parts.append(_("query parameters %(pairs)s") % {"pairs": pairs})
    if "ip" in node:
        parts.append(_("IP address in %(ip)s") % {"ip": node["ip"]})
    if "visitor" in node:
        parts.append(_("visitor %(id)s") % {"id": node["visitor"]})
    if isinstance(node.get("props"), dict):
        pairs = ", ".join(f"{key}={value}" for key, value in node["props"].items())
        parts.append(_("properties %(pairs)s") % {"pairs": pairs})
    parts.extend(_window_words(node))
    if node.get("distinct"):
        parts.append(_("counting distinct “%(key)s”") % {"key": node["distinct"]})
    parts.append(_count_words(node))
    if node.get("include_machine"):
        parts.append(_("machine events included"))
    return " · ".join(parts)


def _describe_record(node: dict) -> str:
    parts = [_("Record “%(type)s”") % {"type": node.get("record", "")}]
    if "where" in node:
        parts.append(_("where %(condition)s") % {"condition": _where_words(node["where"])})
    parts.extend(_window_words(node))
    parts.append(_count_words(node))
    total = node.get("sum")
    if isinstance(total, dict):
        parts.append(
            _("sum of %(field)s %(op)s %(value)s")
            % {
                "field": total.get("field", ""),
                "op": OPERATOR_LABELS.get(total.get("op", ""), total.get("op", "")),
                "value": _value_text(total.get("value", "")),
            }
        )
    return " · ".join(parts)


def _where_words(node) -> str:
    if not isinstance(node, dict):
        return ""
    for group, joiner in (("all", _(" and ")), ("any", _(" or "))):
        if isinstance(node.get(group), list):
            return "(" + joiner.join(_where_words(child) for child in node[group]) + ")"
    if "not" in node:
        return _("not %(condition)s") % {"condition": _where_words(node["not"])}
    op = node.get("op", "")
    words = f"{node.get('field', '')} {OPERATOR_LABELS.get(op, op)}"
    return f"{words} {_value_text(node['value'])}" if "value" in node else words


def _window_words(node: dict) -> list[str]:
    words = []
    if "within_days" in node:
        words.append(_("in the last %(days)s days") % {"days": node["within_days"]})
    if "since" in node:
        words.append(_("since %(day)s") % {"day": node["since"]})
    if "until" in node:
        words.append(_("until %(day)s") % {"day": node["until"]})
    return words


def _count_words(node: dict) -> str:
    minimum = node.get("min_count", 1)
    maximum = node.get("max_count")
    if maximum is None:
        return _("at least %(min)s times") % {"min": minimum}
    if minimum == maximum:
        return _("exactly %(count)s times") % {"count": minimum}
    return _("%(min)s to %(max)s times") % {"min": minimum, "max": maximum}
