"""Which contacts an action is about: rows ticked in the list, or the whole result of the list's
search and filter. Bulk update and export take the same selection."""

import json

from django.utils.translation import gettext as _

from kizuna.crm.filtering import FilterError, filter_contacts
from kizuna.crm.models import Contact
from kizuna.crm.search import search_contacts


def contacts_for_selection(selection: dict, queryset=None):
    """{"ids": [...]} or {"query": "...", "filter": {...}} -> the contacts. Raises FilterError."""
    queryset = Contact.objects.all() if queryset is None else queryset
    if "ids" in selection:
        ids = [int(pk) for pk in selection["ids"]]
        return queryset.filter(pk__in=ids)
    if selection.get("query"):
        queryset = search_contacts(queryset, selection["query"])
    if selection.get("filter"):
        queryset = filter_contacts(queryset, selection["filter"])
    return queryset


def selection_from_request_data(data) -> dict:
    """The list's form fields (`ids` repeated, or `select_all=1` with `q` and `filter`) -> a
    selection. Raises FilterError for ids or a filter that cannot be read."""
    if data.get("select_all"):
        selection = {"query": data.get("q", "").strip()}
        if raw_filter := data.get("filter", "").strip():
            try:
                selection["filter"] = json.loads(raw_filter)
            except json.JSONDecodeError:
                raise FilterError(_("The filter is not valid JSON.")) from None
        return selection
    try:
        return {"ids": sorted({int(pk) for pk in data.getlist("ids")})}
    except ValueError:
        raise FilterError(_("The selection contains an invalid contact id.")) from None
