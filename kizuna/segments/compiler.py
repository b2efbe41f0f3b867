"""The whole segment filter language (../shared/docs/SEGMENTS.md) compiled to one ORM query.

Field and tag conditions are crm's (crm/filtering.py, so they mean the same everywhere); this
module adds event, record and segment conditions: one SQL query, no ids loaded into Python.
An event or record count is a set of contact ids built once for all contacts
(functions.ContactHasRows): counting each contact's events in a correlated subquery ran out of
any time budget on PostgreSQL. Only a record condition's `sum` stays correlated.

An event condition counts the contact's events *and* those of its visitors not yet folded onto
it (tracking/stitching.py sets the alias at once, the fold runs in the background).
"""

import datetime
import ipaddress
import json
from urllib.parse import quote_plus

from django.db.models import (
    DecimalField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
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
    return Contact.objects.filter(pk=contact.pk).filter(q).exists()


class SegmentCompiler(FilterCompiler):
    def __init__(
        self,
        now: datetime.datetime,
        segment_path: tuple[str, ...] = (),
        *,
        contact_id: int | None = None,
    ):
        super().__init__(now)
        self.segment_path = segment_path  # the saved segments being expanded (cycle check)
        # Set by matches(): the query is for this one contact, so event conditions read only
        # its events (the set of all contacts would be built to answer for one).
        self.contact_id = contact_id

    def filter_q(self, node, place: str) -> Q:
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

    # --- event conditions ---------------------------------------------------------------------

    def event_q(self, node: dict, place: str) -> Q:
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
        # The count of one contact's events (explain shows it); it also checks the counts.
        self.count_q(self.events_of_contact(where), node, place, counted)
        return self.contacts_with_events_q(where, node, place, counted)

    def events_of_contact(self, where: Q):
        """Events matching `where` of the outer query's contact: its own and its visitors'
        not yet folded onto it."""
        visitors = Visitor.objects.filter(contact_id=OuterRef(OuterRef("pk"))).values("id")
        return Event.objects.filter(
            where,
            Q(contact_id=OuterRef("pk")) | Q(contact__isnull=True, visitor_id__in=visitors),
        )

    def contacts_with_events_q(self, where: Q, node: dict, place: str, counted=None) -> Q:
        """The contacts whose count of events matching `where` is within min_count..max_count:
        the contacts' own events and those of their visitors not yet folded onto them, as two
        parts of a UNION ALL - each part can use its index, where an OR of the two in one
        query makes the database read them all."""
        own = Q(contact__isnull=False)
        unfolded = Q(contact__isnull=True, visitor__contact__isnull=False)
        if self.contact_id is not None:
            own = Q(contact_id=self.contact_id)
            unfolded &= Q(visitor__contact_id=self.contact_id)
        columns = {} if counted is None else {"counted": counted}
        arms = [
            Event.objects.order_by().filter(where, own).values(cid=F("contact_id"), **columns),
            Event.objects.order_by()
            .filter(where, unfolded)
            .values(cid=F("visitor__contact_id"), **columns),
        ]
        return self.counted_contacts_q(arms, node, place, distinct=counted is not None)

    def counted_contacts_q(self, arms, node: dict, place: str, distinct=False) -> Q:
        """min_count (default 1) <= the contact's rows in `arms` (or distinct values of their
        `counted`) <= max_count, as one set of contact ids for all contacts (ContactHasRows)."""
        minimum = self.count(node, "min_count", place, default=1)
        maximum = self.count(node, "max_count", place, default=None)
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
        record_type = RecordType.objects.filter(key=key).first() if isinstance(key, str) else None
        if record_type is None:
            raise self.error(
                self.at(place, "record"), _('unknown record type "%(key)s"') % {"key": key}
            )
        records = Record.objects.filter(record_type=record_type)
        if "where" in node:
            where = RecordWhereCompiler(self.now, record_type)
            records = records.filter(where.filter_q(node["where"], self.at(place, "where")))
        records = records.filter(self.window_q("occurred_at", node, place))
        of_contact = records.filter(contact_id=OuterRef("pk"))
        # The count of one contact's records (explain shows it); it also checks the counts.
        self.count_q(of_contact, node, place)
        # The count as a set of contacts: under an OR, PostgreSQL costs a correlated NOT
        # EXISTS as a scan a contact and JIT-compiles the whole query for that.
        own = records.order_by().filter(contact__isnull=False)
        if self.contact_id is not None:
            own = own.filter(contact_id=self.contact_id)
        q = self.counted_contacts_q([own.values(cid=F("contact_id"))], node, place)
        if "sum" in node:
            q &= self.sum_q(of_contact, record_type, node["sum"], self.at(place, "sum"))
        return q

    def sum_q(self, records, record_type, node, place: str) -> Q:
        if not isinstance(node, dict):
            raise self.error(place, _("expected an object"))
        self.only_keys(node, {"field", "op", "value"}, place)
        definition = FieldDefinition.objects.filter(
            target=FieldTarget.RECORD, record_type=record_type, key=node.get("field")
        ).first()
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
        total = Coalesce(
            Subquery(
                records.order_by().annotate(total=Func(amount, function="SUM")).values("total")[:1],
                output_field=DecimalField(max_digits=30, decimal_places=10),
            ),
            Value(0, output_field=DecimalField(max_digits=30, decimal_places=10)),
        )
        value_place = self.at(place, "value")
        if op == "between":
            low, high = (
                self.number(v, value_place) for v in self.pair(node.get("value"), value_place)
            )
            return Q(_compare(total, "gte", low)) & Q(_compare(total, "lte", high))
        number = self.number(node.get("value"), value_place)
        if op == "ne":
            return ~Q(_compare(total, "exact", number))
        return Q(_compare(total, "exact" if op == "eq" else op, number))

    # --- segment conditions -------------------------------------------------------------------

    def segment_q(self, node: dict, place: str) -> Q:
        self.only_keys(node, {"segment"}, place)
        slug = node["segment"]
        segment = Segment.objects.filter(slug=slug).first() if isinstance(slug, str) else None
        if segment is None:
            raise self.error(
                self.at(place, "segment"), _('unknown segment "%(slug)s"') % {"slug": slug}
            )
        if slug in self.segment_path:
            raise self.error(
                self.at(place, "segment"),
                _('segment "%(slug)s" refers to itself') % {"slug": slug},
            )
        inner = SegmentCompiler(self.now, (*self.segment_path, slug), contact_id=self.contact_id)
        try:
            return inner.filter_q(segment.filter, "")
        except FilterError as error:
            raise self.error(self.at(place, "segment"), f"{slug}: {error}") from None

    # --- shared parts -------------------------------------------------------------------------

    def count_q(self, rows, node: dict, place: str, counted=None) -> Q:
        """min_count (default 1) <= number of rows (or of distinct `counted`) <= max_count, for
        `rows` correlated with the contact. Event and record conditions run the set form
        (counted_contacts_q); they call this to check the counts and for explain, which keeps
        the count of one contact from it (explaining.py)."""
        minimum = self.count(node, "min_count", place, default=1)
        maximum = self.count(node, "max_count", place, default=None)
        if maximum is not None and maximum < minimum:
            raise self.error(self.at(place, "max_count"), _("must not be less than min_count"))
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


class RecordWhereCompiler(FilterCompiler):
    """`where` of a record condition: field conditions over one record type's fields only."""

    def __init__(self, now: datetime.datetime, record_type: RecordType):
        super().__init__(now)
        self.record_type = record_type

    def resolve(self, name, place: str) -> FieldRef:
        definition = (
            FieldDefinition.objects.filter(
                target=FieldTarget.RECORD, record_type=self.record_type, key=name
            ).first()
            if isinstance(name, str)
            else None
        )
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
