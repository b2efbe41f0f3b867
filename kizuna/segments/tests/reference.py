"""A reference evaluator of the segment filter language: plain Python over plain objects, written
straight from ../shared/docs/SEGMENTS.md, to check the compiled SQL against (test_reference.py).

It knows only what the randomised tests generate: a few built-in fields (member_state and tier
included: the members app brings them), custom fields of the
text / choice / number / date families, tags, events and records.
"""

import datetime
import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass
class PlainEvent:
    type: str
    occurred_at: datetime.datetime
    url: str = ""
    ip: str | None = None
    visitor: str | None = None
    props: dict = field(default_factory=dict)
    is_machine: bool = False


@dataclass
class PlainRecord:
    occurred_at: datetime.datetime
    custom: dict = field(default_factory=dict)


@dataclass
class PlainContact:
    email: str = ""
    prefecture: str = ""
    lifecycle: str = "lead"
    member_state: str = ""  # "" : not a member (the members app's Member row is absent)
    tier: str = ""
    custom: dict = field(default_factory=dict)
    tags: set = field(default_factory=set)
    events: list = field(default_factory=list)  # its own and its visitors' (before the fold)
    records: list = field(default_factory=list)  # of the record type "purchase"


CUSTOM_TYPES = {"rank": "choice", "score": "number", "since": "date", "memo": "text"}
BUILT_IN = {
    "email": "email",
    "prefecture": "text",
    "lifecycle": "choice",
    "member_state": "choice",
    "tier": "choice",
}
MISSING_MATCHES = {"empty", "ne", "not_in", "not_contains", "has_none"}


def evaluate(node, contact: PlainContact, now: datetime.datetime, segments=None) -> bool:
    if "all" in node:
        return all(evaluate(child, contact, now, segments) for child in node["all"])
    if "any" in node:
        return any(evaluate(child, contact, now, segments) for child in node["any"])
    if "not" in node:
        return not evaluate(node["not"], contact, now, segments)
    if "tag" in node:
        return node["tag"] in contact.tags
    if "field" in node:
        return field_matches(node, contact, now)
    if "event" in node:
        return event_matches(node, contact, now)
    if "record" in node:
        return record_matches(node, contact, now)
    return evaluate(segments[node["segment"]], contact, now, segments)


def field_matches(node, contact: PlainContact, now: datetime.datetime, values=None) -> bool:
    name, op, value = node["field"], node["op"], node.get("value")
    if values is None:
        kind = BUILT_IN.get(name) or CUSTOM_TYPES[name]
        stored = getattr(contact, name) if name in BUILT_IN else contact.custom.get(name)
    else:  # a record's fields
        kind = {"product": "choice", "amount": "number"}[name]
        stored = values.get(name)
    missing = stored is None or stored == ""
    if op == "empty":
        return missing
    if op == "not_empty":
        return not missing
    if missing:
        return op in MISSING_MATCHES
    if kind in ("text", "email", "choice"):
        return text_matches(kind, op, stored, value)
    if kind == "number":
        return number_matches(op, Decimal(str(stored)), value)
    return date_matches(op, datetime.date.fromisoformat(stored), value, now)


def text_matches(kind, op, stored: str, value) -> bool:
    def same(a, b):
        return a.lower() == b.lower() if kind == "email" else a == b

    folded, wanted = stored.lower(), value.lower() if isinstance(value, str) else value
    return {
        "eq": lambda: same(stored, value),
        "ne": lambda: not same(stored, value),
        "in": lambda: any(same(stored, v) for v in value),
        "not_in": lambda: not any(same(stored, v) for v in value),
        "contains": lambda: wanted in folded,
        "not_contains": lambda: wanted not in folded,
        "starts_with": lambda: folded.startswith(wanted),
        "ends_with": lambda: folded.endswith(wanted),
    }[op]()


def number_matches(op, stored: Decimal, value) -> bool:
    if op == "between":
        return Decimal(str(value[0])) <= stored <= Decimal(str(value[1]))
    wanted = Decimal(str(value))
    return {
        "eq": stored == wanted,
        "ne": stored != wanted,
        "gt": stored > wanted,
        "gte": stored >= wanted,
        "lt": stored < wanted,
        "lte": stored <= wanted,
    }[op]


def date_matches(op, day: datetime.date, value, now: datetime.datetime) -> bool:
    today = now.astimezone(TOKYO).date()
    one = datetime.timedelta(days=1)
    if op == "eq":
        return day == datetime.date.fromisoformat(value)
    if op == "before":
        return day < datetime.date.fromisoformat(value)
    if op == "after":
        return day > datetime.date.fromisoformat(value)
    if op == "between":
        low, high = (datetime.date.fromisoformat(v) for v in value)
        return low <= day <= high
    if op == "within_last_days":
        return today - value * one <= day <= today
    if op == "more_than_days_ago":
        return day < today - value * one
    return today <= day <= today + value * one  # within_next_days


def in_window(node, when: datetime.datetime, now: datetime.datetime) -> bool:
    if "within_days" in node and when < now - datetime.timedelta(days=node["within_days"]):
        return False
    local_day = when.astimezone(TOKYO).date()
    if "since" in node and local_day < datetime.date.fromisoformat(node["since"]):
        return False
    return not ("until" in node and local_day > datetime.date.fromisoformat(node["until"]))


def counted(node, rows: list, count) -> bool:
    number = count(rows)
    if number < node.get("min_count", 1):
        return False
    return "max_count" not in node or number <= node["max_count"]


def event_matches(node, contact: PlainContact, now: datetime.datetime) -> bool:
    def wanted(event: PlainEvent) -> bool:
        if event.type != node["event"] or not in_window(node, event.occurred_at, now):
            return False
        if event.is_machine and not node.get("include_machine", False):
            return False
        if "url_contains" in node and node["url_contains"].lower() not in event.url.lower():
            return False
        if "url_equals" in node and node["url_equals"] != event.url:
            return False
        if "param" in node:
            query = parse_qs(urlsplit(event.url).query, keep_blank_values=True)
            for key, value in node["param"].items():
                if key not in query or (value is not None and value not in query[key]):
                    return False
        if "ip" in node:
            network = ipaddress.ip_network(node["ip"], strict=False)
            if event.ip is None or ipaddress.ip_address(event.ip) not in network:
                return False
        if "visitor" in node and event.visitor != node["visitor"]:
            return False
        for key in ("campaign", "form"):
            if key in node and event.props.get(key) != node[key]:
                return False
        return all(event.props.get(k) == v for k, v in node.get("props", {}).items())

    rows = [event for event in contact.events if wanted(event)]
    if "distinct" in node:
        key = node["distinct"]
        return counted(
            node, rows, lambda r: len({e.props[key] for e in r if e.props.get(key) is not None})
        )
    return counted(node, rows, len)


def record_matches(node, contact: PlainContact, now: datetime.datetime) -> bool:
    def wanted(record: PlainRecord) -> bool:
        if not in_window(node, record.occurred_at, now):
            return False
        return "where" not in node or where_matches(node["where"], record, now)

    rows = [record for record in contact.records if wanted(record)]
    if not counted(node, rows, len):
        return False
    if "sum" in node:
        total = sum(
            (
                Decimal(str(r.custom[node["sum"]["field"]]))
                for r in rows
                if r.custom.get(node["sum"]["field"]) is not None
            ),
            Decimal(0),
        )
        return number_matches(node["sum"]["op"], total, node["sum"]["value"])
    return True


def where_matches(node, record: PlainRecord, now) -> bool:
    if "all" in node:
        return all(where_matches(child, record, now) for child in node["all"])
    if "any" in node:
        return any(where_matches(child, record, now) for child in node["any"])
    if "not" in node:
        return not where_matches(node["not"], record, now)
    return field_matches(node, None, now, values=record.custom)
