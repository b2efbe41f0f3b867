"""The contacts list as a spreadsheet: chosen columns, any sort, quick search, filter, and pages
that stay fast at a million rows.

Pages are keyset pages: a page starts after the last row of the previous one, compared on
(sort value, id), so no page needs OFFSET and every row appears exactly once even when many rows
share a sort value. The total is counted only up to COUNT_CAP ("10,000+"), never with a full
COUNT(*). Sorting works on built-in columns (served by the (column, id) indexes on Contact) and on
custom fields' JSON keys (numbers compared as numbers).
"""

import base64
import binascii
import datetime
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import BigIntegerField, F, FloatField, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kizuna.crm import fields
from kizuna.crm.filtering import FilterError, filter_contacts
from kizuna.crm.models import FieldType, SavedView
from kizuna.crm.search import search_contacts

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
COUNT_CAP = 10_000
DEFAULT_COLUMNS = ["email", "phone", "company", "owner", "updated_at"]
# The list's first column is always the name; sorting it sorts by reading (kana), like 五十音順.
NAME_SORT = "family_name_kana"
DEFAULT_SORT = "-created_at"

# Built-in columns sorted through a relation or that may be NULL.
RELATED_SORT = {"company": "company__name", "owner": "owner__email"}
NULLABLE_BUILTINS = {"company", "owner", "first_seen_at", "last_seen_at"}


class ListError(ValueError):
    """The list's parameters could not be used; the message is translated."""


@dataclass
class ListState:
    """What the list shows, as read from the query string (and a saved view)."""

    columns: list  # of fields.Column
    sort: str  # a column key, NAME_SORT or "created_at", "-" in front for descending
    query: str = ""
    filter_text: str = ""
    filter: dict | None = None
    per_page: int = DEFAULT_PAGE_SIZE
    after: str = ""
    before: str = ""
    saved_view: SavedView | None = None
    errors: list = field(default_factory=list)

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def params(self, **overrides) -> dict:
        params = {
            "q": self.query,
            "filter": self.filter_text,
            "columns": ",".join(column.key for column in self.columns),
            "sort": self.sort,
            "per": self.per_page if self.per_page != DEFAULT_PAGE_SIZE else "",
            "view": self.saved_view.pk if self.saved_view else "",
        }
        params.update(overrides)
        return {key: value for key, value in params.items() if value not in ("", None)}

    def url(self, **overrides) -> str:
        return "?" + urlencode(self.params(**overrides))

    def headers(self) -> list[dict]:
        """The table's column headers: label, sort link (None when not sortable), aria-sort."""
        return [
            {
                "label": column.label,
                "url": self.sort_url(column.key) if column.sortable else None,
                "aria_sort": self.aria_sort(column.key),
            }
            for column in self.columns
        ]

    def aria_sort(self, key: str) -> str:
        if self.sort_key != key:
            return ""
        return "descending" if self.descending else "ascending"

    def sort_url(self, key: str) -> str:
        """The link of a column header: sort by it, or reverse the sort if it already is."""
        if self.sort_key == key:
            return self.url(sort=key if self.descending else f"-{key}")
        return self.url(sort=key)


def read_state(params, columns: list, saved_view: SavedView | None = None) -> ListState:
    """The list's state from GET parameters; a saved view supplies what the URL leaves out."""
    by_key = {column.key: column for column in columns}
    raw_columns = params.get("columns")
    if raw_columns is None:
        keys = saved_view.columns if saved_view else DEFAULT_COLUMNS
    else:
        keys = [key for key in raw_columns.split(",") if key]
    if "column" in params:  # the column picker's checkboxes
        keys = params.getlist("column")
    chosen = [by_key[key] for key in dict.fromkeys(keys) if key in by_key]

    sort = params.get("sort") or (saved_view.sort if saved_view else "") or DEFAULT_SORT
    sortable = {column.key for column in columns if column.sortable} | {NAME_SORT, "created_at"}
    if sort.lstrip("-") not in sortable:
        sort = DEFAULT_SORT
    query = params.get("q", saved_view.query if saved_view else "").strip()[:200]
    filter_text = params.get("filter")
    if filter_text is None and saved_view and saved_view.filter:
        filter_text = json.dumps(saved_view.filter, ensure_ascii=False)
    try:
        per_page = int(params.get("per") or DEFAULT_PAGE_SIZE)
    except ValueError:
        per_page = DEFAULT_PAGE_SIZE
    state = ListState(
        columns=chosen,
        sort=sort,
        query=query,
        filter_text=(filter_text or "").strip(),
        per_page=per_page if per_page in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        after=params.get("after", ""),
        before=params.get("before", ""),
        saved_view=saved_view,
    )
    if state.filter_text:
        try:
            state.filter = json.loads(state.filter_text)
        except json.JSONDecodeError:
            state.errors.append(_("The filter is not valid JSON."))
    return state


def filtered_contacts(queryset, state: ListState):
    """The contacts the search and filter select (a bad filter is reported and left out)."""
    if state.query:
        queryset = search_contacts(queryset, state.query)
    if state.filter is not None:
        try:
            queryset = filter_contacts(queryset, state.filter)
        except FilterError as error:
            state.errors.append(str(error))
    return queryset


def sort_expression(state: ListState, columns: list):
    """(expression, nullable) the list is ordered by, before the id that breaks ties."""
    key = state.sort_key
    if key in RELATED_SORT:
        return F(RELATED_SORT[key]), True
    column = next((c for c in columns if c.key == key), None)
    if column is not None and column.is_custom:
        text = KT(f"custom__{key}")
        if column.type == FieldType.NUMBER:
            return Cast(text, BigIntegerField()), True
        if column.type == FieldType.DECIMAL:
            return Cast(text, FloatField()), True
        return text, True
    return F(key), key in NULLABLE_BUILTINS


@dataclass
class Page:
    rows: list
    next_cursor: str
    previous_cursor: str
    count: int
    count_capped: bool

    @property
    def count_label(self) -> str:
        number = formats.number_format(self.count, force_grouping=True)
        return f"{number}+" if self.count_capped else number


def keyset_page(queryset, state: ListState, columns: list) -> Page:
    """One page of `queryset` in the state's order, starting after (or ending before) a cursor."""
    expression, nullable = sort_expression(state, columns)
    count, capped = capped_count(queryset)
    queryset = queryset.annotate(_sort=expression)
    descending = state.descending
    backwards = bool(state.before) and not state.after
    cursor = decode_cursor(state.before if backwards else state.after)
    # Walking backwards is walking forwards in the reversed order.
    walk_descending = descending != backwards
    nulls_last = not backwards  # NULLs sort after every value in the list's own order
    if cursor is not None:
        queryset = queryset.filter(_after(cursor, walk_descending, nulls_last, nullable))
    queryset = queryset.order_by(*_ordering(walk_descending, nulls_last, nullable))
    rows = list(queryset[: state.per_page + 1])
    more = len(rows) > state.per_page
    rows = rows[: state.per_page]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_previous = (more if backwards else cursor is not None) and bool(rows)
    if backwards and not rows:
        has_next = False
    return Page(
        rows=rows,
        next_cursor=encode_cursor(rows[-1]._sort, rows[-1].pk) if rows and has_next else "",
        previous_cursor=encode_cursor(rows[0]._sort, rows[0].pk) if has_previous else "",
        count=count,
        count_capped=capped,
    )


def capped_count(queryset) -> tuple[int, bool]:
    """How many rows, counting no further than COUNT_CAP + 1 (never a full COUNT(*))."""
    count = queryset.order_by().values("pk")[: COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP


def _ordering(descending: bool, nulls_last: bool, nullable: bool):
    sort = F("_sort")
    if nullable:
        kwargs = {"nulls_last": True} if nulls_last else {"nulls_first": True}
        sort = sort.desc(**kwargs) if descending else sort.asc(**kwargs)
    else:
        sort = sort.desc() if descending else sort.asc()
    return [sort, F("id").desc() if descending else F("id").asc()]


def _after(cursor: tuple, descending: bool, nulls_last: bool, nullable: bool) -> Q:
    """Rows after (value, id) in the order (_sort, id), both descending or both ascending."""
    value, row_id = cursor
    strict, loose = ("lt", "lte") if descending else ("gt", "gte")
    after_id = Q(**{f"id__{strict}": row_id})
    if value is None:
        if not nullable:
            return after_id
        if nulls_last:  # after a NULL only NULLs with a later id
            return Q(_sort__isnull=True) & after_id
        return (Q(_sort__isnull=True) & after_id) | Q(_sort__isnull=False)
    # The `loose` bound lets the database start from the cursor in its (column, id) index.
    condition = Q(**{f"_sort__{loose}": value}) & (Q(**{f"_sort__{strict}": value}) | after_id)
    if nullable and nulls_last:
        condition |= Q(_sort__isnull=True)
    return condition


def encode_cursor(value, row_id: int) -> str:
    if isinstance(value, datetime.datetime):
        payload = ["dt", value.isoformat(), row_id]
    elif isinstance(value, datetime.date):
        payload = ["d", value.isoformat(), row_id]
    else:
        payload = ["v", value, row_id]
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str):
    """(value, id), or None for a missing or damaged cursor (the first page is shown)."""
    if not token:
        return None
    try:
        kind, value, row_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        return None
    if kind == "dt":
        value = parse_datetime(str(value))
        if value is None:
            return None
    elif kind == "d":
        try:
            value = datetime.date.fromisoformat(str(value))
        except ValueError:
            return None
    elif kind != "v" or isinstance(value, dict | list):
        return None
    return value, row_id


# --- Cells --------------------------------------------------------------------------------------


def cell(contact, column) -> dict:
    """What one cell shows: {"text": ..., "url": ...}; reads only loaded data."""
    key = column.key
    if column.is_custom:
        value = (contact.custom or {}).get(key)
        if column.type == FieldType.FILE:
            return {"text": _("File") if value else "", "url": ""}
        return {"text": fields.display_value(column.definition, value), "url": ""}
    if key == "company":
        company = contact.company
        url = reverse("crm:company_detail", args=[company.pk]) if company else ""
        return {"text": company.name if company else "", "url": url}
    if key == "owner":
        return {"text": contact.owner.display_name if contact.owner_id else "", "url": ""}
    if key == "tags":
        return {"text": "、".join(tag.name for tag in contact.tags.all()), "url": ""}
    if key == "lifecycle":
        return {"text": contact.get_lifecycle_display(), "url": ""}
    if key == "email_opt_in":
        return {"text": _("Yes") if contact.email_opt_in else _("No"), "url": ""}
    value = getattr(contact, key)
    if isinstance(value, datetime.datetime):
        value = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    elif value is None:
        value = ""
    return {"text": str(value), "url": ""}
