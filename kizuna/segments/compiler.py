"""The whole segment filter language (../shared/docs/SEGMENTS.md) compiled to one ORM query.

Field and tag conditions are crm's (crm/filtering.py, so they mean the same everywhere); this
module adds event, record and segment conditions: one SQL query, no ids loaded into Python.
An event or record count (and a record sum) is a set of contact ids built once for all contacts
(functions.ContactHasRows): counting each contact's events in a correlated subquery ran out of
any time budget on PostgreSQL. Event conditions of one type under one `any` share one set, read
in one pass and counted several ways.

An event condition counts the contact's events *and* those of its visitors not yet folded onto
it (tracking/stitching.py sets the alias at once, the fold runs in the background).
"""

import datetime
import ipaddress
import json
import operator
from dataclasses import dataclass
from urllib.parse import quote_plus

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Right, StrIndex
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.crm.filtering import FieldRef, FilterCompiler, FilterError
from kizuna.crm.models import Contact, FieldDefinition, FieldTarget, Record, RecordType
from kizuna.segments.functions import ContactHasRows, IPInNetwork, mark_anti_joins
from kizuna.segments.models import Segment
from kizuna.tracking.models import Event, Visitor

__all__ = ["FilterError", "SegmentCompiler", "compile_filter", "matches", "parse_document"]

EVENT_KEYS = {
    "event", "url_contains", "url_equals", "param", "ip", "visitor", "campaign", "form",
    "props", "within_days", "since", "until", "min_count", "max_count", "distinct",
    "include_machine",
}  # fmt: skip
RECORD_KEYS = {"record", "where", "within_days", "since", "until", "min_count", "max_count", "sum"}
SUM_OPS = {"eq", "ne", "gt", "gte", "lt", "lte", "between"}
SUM_TESTS = {"eq": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
             "lte": operator.le}  # fmt: skip


def parse_document(document) -> dict | list:
    """A filter given as JSON text or as parsed JSON; FilterError if the text is not JSON."""
    if isinstance(document, str | bytes):
        try:
            return json.loads(document)
        except json.JSONDecodeError as error:
            raise FilterError(
                _("The filter is not valid JSON: %(error)s") % {"error": error}
            ) from None
    return document


def compile_filter(document, *, now: datetime.datetime | None = None) -> Q:
    """The Q over Contact for a whole filter; raises FilterError naming the place."""
    return SegmentCompiler(now or timezone.now()).filter_q(parse_document(document), "")


def matches(document, contact, *, now: datetime.datetime | None = None) -> bool:
    """Whether one contact is selected: the same compiled query, restricted to its id."""
    compiler = SegmentCompiler(now or timezone.now(), contact_id=contact.pk)
    q = compiler.filter_q(parse_document(document), "")
    return Contact.objects.filter(q, pk=contact.pk).exists()


class SegmentCompiler(FilterCompiler):
    def __init__(
        self,
        now: datetime.datetime,
        segment_path: tuple[str, ...] = (),
        *,
        contact_id: int | None = None,
        found: dict | None = None,
    ):
        super().__init__(now)
        self.segment_path = segment_path  # the saved segments being expanded (cycle check)
        # Set by matches(): the query is for this one contact, so event conditions read only
        # its events (the set of all contacts would be built to answer for one).
        self.contact_id = contact_id
        # Record types, their fields and saved segments looked up by this compile (and the
        # compiles of the segments it refers to): each once, however often the filter names it.
        self.found = {} if found is None else found
        self._definitions = self.found.setdefault("definitions", {})

    def look_up(self, key: tuple, query):
        """query.first(), once per compile for each key."""
        if key not in self.found:
            self.found[key] = query.first()
        return self.found[key]

    def find_record_type(self, key) -> RecordType | None:
        if not isinstance(key, str):
            return None
        return self.look_up(("record_type", key), RecordType.objects.filter(key=key))

    def record_field(self, record_type: RecordType, key) -> FieldDefinition | None:
        if not isinstance(key, str):
            return None
        query = FieldDefinition.objects.filter(
            target=FieldTarget.RECORD, record_type=record_type, key=key
        )
        return self.look_up(("record_field", record_type.pk, key), query)

    def filter_q(self, node, place: str) -> Q:
        if isinstance(node, dict) and set(node) == {"any"} and isinstance(node["any"], list):
            q = self.any_q(node["any"], self.at(place, "any"))
        else:
            q = super().filter_q(node, place)
        if not place:  # the whole filter (or a saved segment's, then again in the whole)
            mark_anti_joins(q)
        return q

    def other_condition_q(self, kind: str, node: dict, place: str) -> Q:
        if kind == "event":
            return self.event_q(node, place)
        if kind == "record":
            return self.record_q(node, place)
        return self.segment_q(node, place)

    def any_q(self, children: list, place: str) -> Q:
        """{"any": children}. Its event conditions of one event type (that need at least one
        event) are one set of contacts, read in one pass over the events: for Loyal customers,
        the form posts of a year once, counted two ways (ContactHasRows' tests), not twice."""
        if not children:
            return Q(pk__in=[])  # not Q(): its negation would be Q() too
        parts, by_type = [], {}
        for index, child in enumerate(children):
            child_place = f"{place}[{index}]"
            if isinstance(child, dict) and "event" in child and set(child) <= EVENT_KEYS:
                test = self.event_test(child, child_place)
                if test.minimum > 0:
                    by_type.setdefault(child["event"], []).append(test)
                    continue
                parts.append(self.contacts_with_events_q([test]))
            else:
                parts.append(self.filter_q(child, child_place))
        parts += [self.contacts_with_events_q(tests) for tests in by_type.values()]
        combined = parts[0]
        for part in parts[1:]:
            combined |= part
        return combined

    # --- event conditions ---------------------------------------------------------------------

    def event_q(self, node: dict, place: str) -> Q:
        return self.contacts_with_events_q([self.event_test(node, place)])

    def event_test(self, node: dict, place: str) -> "EventTest":
        """An event condition checked and compiled: which events, what to count, how many."""
        self.only_keys(node, EVENT_KEYS, place)
        kind = node["event"]
        if not isinstance(kind, str) or not kind:
            raise self.error(self.at(place, "event"), _("expected an event type"))
        # One Q, filtered once: each QuerySet.filter() copies the query, and matches() of one
        # contact spends more time compiling than the database spends answering.
        where = Q(type=kind)
        if "url_contains" in node:
            where &= Q(url__icontains=self.text(node, "url_contains", place))
        if "url_equals" in node:
            where &= Q(url=self.text(node, "url_equals", place))
        if "param" in node:
            where &= self.param_q(node["param"], self.at(place, "param"))
        if "ip" in node:
            where &= self.ip_q(node["ip"], self.at(place, "ip"))
        if "visitor" in node:
            where &= Q(visitor_id=self.text(node, "visitor", place))
        for key in ("campaign", "form"):
            if key in node:
                value = self.text(node, key, place)
                where &= Q(_text_equals(KeyTextTransform(key, "props"), value))
        if "props" in node:
            where &= self.props_q(node["props"], self.at(place, "props"))
        if not node.get("include_machine", False):
            where &= Q(is_machine=False)
        if not isinstance(node.get("include_machine", False), bool):
            raise self.error(self.at(place, "include_machine"), _("expected true or false"))
        where &= self.window_q("occurred_at", node, place)
        distinct = node.get("distinct")
        if distinct is not None and (not isinstance(distinct, str) or not distinct):
            raise self.error(self.at(place, "distinct"), _("expected a property name"))
        counted = KeyTextTransform(distinct, "props") if distinct else None
        minimum, maximum = self.bounds(node, place)
        if self.keeps_counts:
            self.count_q(self.events_of_contact(where), node, place, counted)
        since = []  # the window's lower bounds (window_q checked them)
        if "within_days" in node:
            since.append(self.now - datetime.timedelta(days=node["within_days"]))
        if "since" in node:
            since.append(_local_midnight(datetime.date.fromisoformat(node["since"])))
        return EventTest(where, counted, minimum, maximum, max(since) if since else None)

    def events_of_contact(self, where: Q):
        """Events matching `where` of the outer query's contact: its own and its visitors'
        not yet folded onto it."""
        visitors = Visitor.objects.filter(contact_id=OuterRef(OuterRef("pk"))).values("id")
        return Event.objects.filter(
            where,
            Q(contact_id=OuterRef("pk")) | Q(contact__isnull=True, visitor_id__in=visitors),
        )

    def contacts_with_events_q(self, tests: list["EventTest"]) -> Q:
        """The contacts whose count of events matching a test's `where` is within its
        minimum..maximum (for any of several tests, each needing an event): the contacts' own
        events and those of their visitors not yet folded onto them, as two parts of a UNION
        ALL - each part can use its index, where an OR of the two in one query makes the
        database read them all."""
        own = Q(contact__isnull=False)
        unfolded = Q(contact__isnull=True, visitor__contact__isnull=False)
        if self.contact_id is not None:
            own = Q(contact_id=self.contact_id)
            unfolded &= Q(visitor__contact_id=self.contact_id)
        counts, columns, where = [], {}, Q()
        if len(tests) == 1:
            (test,) = tests
            where = test.where
            if test.counted is not None:
                columns["counted"] = test.counted
        elif all(test.simple for test in tests):
            for test in tests:  # any event matching any of them
                where |= test.where
        else:  # a column a test: its events (1 or NULL), or their counted value (or NULL)
            for index, test in enumerate(tests):
                where |= test.where
                value = Value(1) if test.counted is None else test.counted
                output = IntegerField() if test.counted is None else TextField()
                columns[f"t{index}"] = Case(When(test.where, then=value), output_field=output)
                counts.append((f"t{index}", test.counted is not None, test.minimum, test.maximum))
        if len(tests) > 1 and all(test.since for test in tests):
            # Implied by the OR of the windows, and a range the index of events can use.
            where &= Q(occurred_at__gte=min(test.since for test in tests))
        arms = [
            Event.objects.order_by().filter(where, own).values(cid=F("contact_id"), **columns),
            Event.objects.order_by()
            .filter(where, unfolded)
            .values(cid=F("visitor__contact_id"), **columns),
        ]
        if counts:
            return Q(ContactHasRows(arms, tests=counts))
        if len(tests) > 1:
            return Q(ContactHasRows(arms))
        return self.counted_contacts_q(
            arms, tests[0].minimum, tests[0].maximum, distinct=tests[0].counted is not None
        )

    def counted_contacts_q(self, arms, minimum: int, maximum: int | None, distinct=False) -> Q:
        """minimum <= the contact's rows in `arms` (or distinct values of their `counted`) <=
        maximum, as one set of contact ids for all contacts (ContactHasRows)."""
        if minimum == 0:
            if maximum is None:
                return Q(pk__isnull=False)  # everyone (and its negation nobody, unlike Q())
            # Not more than max_count: contacts without any rows too.
            return ~Q(ContactHasRows(arms, at_least=maximum + 1, distinct=distinct))
        return Q(ContactHasRows(arms, at_least=minimum, at_most=maximum, distinct=distinct))

    def param_q(self, params, place: str) -> Q:
        if not isinstance(params, dict) or not params:
            raise self.error(place, _("expected an object of query parameters"))
        q = Q()
        for key, value in params.items():
            if not key:
                raise self.error(place, _("expected a parameter name"))
            if value is not None and not isinstance(value, str):
                raise self.error(f"{place}.{key}", _("expected text or null"))
            q &= _query_has(key, value)
        return q

    def ip_q(self, value, place: str) -> Q:
        if not isinstance(value, str):
            raise self.error(place, _("expected an IP address or a CIDR block"))
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise self.error(place, _("expected an IP address or a CIDR block")) from None
        return Q(IPInNetwork(F("ip"), str(network)))

    def props_q(self, props, place: str) -> Q:
        if not isinstance(props, dict) or not props:
            raise self.error(place, _("expected an object of properties"))
        q = Q()
        for key, value in props.items():
            if isinstance(value, dict | list):
                raise self.error(f"{place}.{key}", _("expected text, a number, true or false"))
            if isinstance(value, str):
                q &= Q(_text_equals(KeyTextTransform(key, "props"), value))
            else:
                q &= Q(**{f"props__{key}": value})
        return q

    # --- record conditions --------------------------------------------------------------------

    def record_q(self, node: dict, place: str) -> Q:
        self.only_keys(node, RECORD_KEYS, place)
        key = node["record"]
        record_type = self.find_record_type(key)
        if record_type is None:
            raise self.error(
                self.at(place, "record"), _('unknown record type "%(key)s"') % {"key": key}
            )
        where = Q(record_type=record_type)
        if "where" in node:
            compiler = RecordWhereCompiler(self.now, record_type, self)
            where &= compiler.filter_q(node["where"], self.at(place, "where"))
        where &= self.window_q("occurred_at", node, place)
        records = Record.objects.filter(where)
        minimum, maximum = self.bounds(node, place)
        of_contact = None
        if self.keeps_counts:
            of_contact = records.filter(contact_id=OuterRef("pk"))
            self.count_q(of_contact, node, place)
        # The count as a set of contacts: under an OR, PostgreSQL costs a correlated NOT
        # EXISTS as a scan a contact and JIT-compiles the whole query for that.
        own = records.order_by()
        if self.contact_id is not None:
            own = own.filter(contact_id=self.contact_id)
        if "sum" not in node:
            return self.counted_contacts_q([own.values(cid=F("contact_id"))], minimum, maximum)
        amount, total_q, zero_passes = self.sum_q(
            of_contact, record_type, node["sum"], self.at(place, "sum")
        )
        return self.summed_contacts_q(own, amount, total_q, zero_passes, minimum, maximum)

    def summed_contacts_q(self, records, amount, total_q: Q, zero_passes: bool, minimum, maximum):
        """The count and the sum tested together, in one pass over the records grouped by
        contact (GROUP BY … HAVING), as one set of contact ids (ContactHasRows). A contact
        without records has the count 0 and the sum 0: where those pass, the contacts are
        all but those whose records fail the test."""
        passes = total_q
        if minimum > 1:
            passes &= Q(n__gte=minimum)
        if maximum is not None:
            passes &= Q(n__lte=maximum)
        decimal = DecimalField(max_digits=30, decimal_places=10)
        groups = records.values(cid=F("contact_id")).annotate(
            n=Count("pk"), total=Coalesce(Sum(amount), Value(0, output_field=decimal))
        )
        if minimum == 0 and zero_passes:
            return ~Q(ContactHasRows([groups.filter(~passes).values("cid")]))
        return Q(ContactHasRows([groups.filter(passes).values("cid")]))

    def sum_q(self, records, record_type, node, place: str) -> tuple:
        """(the summed amount, a Q over the sum annotated as `total`, whether a sum of 0 passes)
        of a record condition's `sum`. `records`: the outer contact's, or None where the
        compile keeps no counts (explain sums them)."""
        if not isinstance(node, dict):
            raise self.error(place, _("expected an object"))
        self.only_keys(node, {"field", "op", "value"}, place)
        definition = self.record_field(record_type, node.get("field"))
        if definition is None or definition.type not in ("number", "decimal"):
            raise self.error(
                self.at(place, "field"), _("expected a number field of the record type")
            )
        op = node.get("op")
        if op not in SUM_OPS:
            raise self.error(
                self.at(place, "op"), _('"%(op)s" is not an operator for a sum') % {"op": op}
            )
        amount = Cast(
            KeyTextTransform(definition.key, "custom"),
            DecimalField(max_digits=30, decimal_places=10),
        )
        value_place = self.at(place, "value")
        if op == "between":
            low, high = (
                self.number(v, value_place) for v in self.pair(node.get("value"), value_place)
            )
            return amount, Q(total__gte=low, total__lte=high), low <= 0 <= high
        number = self.number(node.get("value"), value_place)
        if op == "ne":
            return amount, ~Q(total=number), number != 0
        lookup = "exact" if op == "eq" else op
        return amount, Q(**{f"total__{lookup}": number}), SUM_TESTS[op](0, number)

    # --- segment conditions -------------------------------------------------------------------

    def segment_q(self, node: dict, place: str) -> Q:
        self.only_keys(node, {"segment"}, place)
        slug = node["segment"]
        segment = None
        if isinstance(slug, str):
            segment = self.look_up(("segment", slug), Segment.objects.filter(slug=slug))
        if segment is None:
            raise self.error(
                self.at(place, "segment"), _('unknown segment "%(slug)s"') % {"slug": slug}
            )
        if slug in self.segment_path:
            raise self.error(
                self.at(place, "segment"),
                _('segment "%(slug)s" refers to itself') % {"slug": slug},
            )
        inner = SegmentCompiler(
            self.now, (*self.segment_path, slug), contact_id=self.contact_id, found=self.found
        )
        try:
            return inner.filter_q(segment.filter, "")
        except FilterError as error:
            raise self.error(self.at(place, "segment"), f"{slug}: {error}") from None

    # --- shared parts -------------------------------------------------------------------------

    @property
    def keeps_counts(self) -> bool:
        """Whether this compile wants each event and record condition's count of one contact
        (count_q): explain does (explaining.py overrides count_q to keep them). A plain compile
        skips building those correlated queries - matches() of one contact on every page view
        spent a third of its time on them."""
        return type(self).count_q is not SegmentCompiler.count_q

    def bounds(self, node: dict, place: str) -> tuple[int, int | None]:
        """(min_count, default 1; max_count, default None), checked."""
        minimum = self.count(node, "min_count", place, default=1)
        maximum = self.count(node, "max_count", place, default=None)
        if maximum is not None and maximum < minimum:
            raise self.error(self.at(place, "max_count"), _("must not be less than min_count"))
        return minimum, maximum

    def count_q(self, rows, node: dict, place: str, counted=None) -> Q:
        """min_count (default 1) <= number of rows (or of distinct `counted`) <= max_count, for
        `rows` correlated with the contact. Event and record conditions run the set form
        (counted_contacts_q); explain keeps the count of one contact from this (explaining.py)."""
        minimum, maximum = self.bounds(node, place)
        if counted is None and maximum is None:
            if minimum == 0:
                return Q(pk__isnull=False)  # everyone (and its negation nobody, unlike Q())
            if minimum == 1:
                return Q(Exists(rows))
        if counted is None:
            number = Func(F("pk"), function="COUNT")
        else:
            number = Func(
                counted, function="COUNT", template="%(function)s(DISTINCT %(expressions)s)"
            )
        total = Subquery(
            rows.order_by().annotate(n=number).values("n")[:1], output_field=IntegerField()
        )
        q = Q(pk__isnull=False)
        if minimum > 0:
            q &= Q(_compare(total, "gte", minimum))
        if maximum is not None:
            q &= Q(_compare(total, "lte", maximum))
        return q

    def count(self, node: dict, key: str, place: str, default):
        if key not in node:
            return default
        value = node[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.error(self.at(place, key), _("expected a whole number, 0 or more"))
        return value

    def window_q(self, column: str, node: dict, place: str) -> Q:
        q = Q()
        if "within_days" in node:
            days = node["within_days"]
            if not isinstance(days, int) or isinstance(days, bool) or days < 0:
                raise self.error(
                    self.at(place, "within_days"), _("expected a whole number of days")
                )
            q &= Q(**{f"{column}__gte": self.now - datetime.timedelta(days=days)})
        if "since" in node:
            day = self.date(node["since"], self.at(place, "since"))
            q &= Q(**{f"{column}__gte": _local_midnight(day)})
        if "until" in node:
            day = self.date(node["until"], self.at(place, "until"))
            q &= Q(**{f"{column}__lt": _local_midnight(day + datetime.timedelta(days=1))})
        return q

    def text(self, node: dict, key: str, place: str) -> str:
        value = node[key]
        if not isinstance(value, str):
            raise self.error(self.at(place, key), _("expected text"))
        return value


@dataclass(frozen=True)
class EventTest:
    """An event condition compiled: the events it counts (`where`), the property whose distinct
    values it counts instead (`counted`), and the bounds of the count."""

    where: Q
    counted: object
    minimum: int
    maximum: int | None
    since: datetime.datetime | None  # the earliest event it counts, if it has a window

    @property
    def simple(self) -> bool:
        """Any one event will do."""
        return self.counted is None and self.minimum == 1 and self.maximum is None


class RecordWhereCompiler(FilterCompiler):
    """`where` of a record condition: field conditions over one record type's fields only."""

    def __init__(self, now: datetime.datetime, record_type: RecordType, outer: SegmentCompiler):
        super().__init__(now)
        self.record_type = record_type
        self.outer = outer  # looks the fields up, once per compile

    def resolve(self, name, place: str) -> FieldRef:
        definition = self.outer.record_field(self.record_type, name)
        if definition is None:
            raise self.error(
                place,
                _('unknown field "%(field)s" of record type "%(type)s"')
                % {"field": name, "type": self.record_type.key},
            )
        return FieldRef(name, definition.type, custom_key=name, definition=definition)

    def tag_q(self, name, place: str) -> Q:
        raise self.error(place, _("a record's where takes field conditions only"))

    def other_condition_q(self, kind: str, node: dict, place: str) -> Q:
        raise self.error(self.at(place, kind), _("a record's where takes field conditions only"))


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def _compare(expression, lookup: str, value):
    lookup_class = expression.output_field.get_lookup(lookup)
    return lookup_class(expression, value)


def _text_equals(expression, value: str):
    return _compare(expression, "exact", value)


def _query_has(key: str, value: str | None) -> Q:
    """The URL's query string has `key` (with this value, or any value for None). Case-
    sensitive on both databases (instr / strpos), the value as typed or percent-encoded."""
    q = Q()
    values = [None] if value is None else sorted({value, quote_plus(value)})
    for text in values:
        pair = f"{key}=" if text is None else f"{key}={text}"
        for before in ("?", "&"):
            needle = before + pair
            if text is None:
                q |= Q(_compare(StrIndex(F("url"), Value(needle)), "gt", 0))
            else:
                q |= Q(_compare(StrIndex(F("url"), Value(needle + "&")), "gt", 0))
                q |= Q(_compare(Right(F("url"), len(needle)), "exact", needle))
    return q
