"""Actions other apps offer on a selection of contacts (the contacts list's ticked rows or all
results, a whole segment): "invite as members", later "send an email". crm draws the buttons; the
action's URL receives the selection by GET (ids, or select_all with q and filter, as
crm.selection reads them) and shows its own confirmation page before it does anything."""

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class SelectionAction:
    label: object  # str or lazy str
    url_name: str
    order: int


_actions: dict[str, SelectionAction] = {}


def register_selection_action(key: str, *, label, url_name: str, order: int = 50) -> None:
    _actions[key] = SelectionAction(label, url_name, order)


def selection_actions() -> list[tuple[str, str]]:
    """[(label, URL)] in display order."""
    ordered = sorted(_actions.values(), key=lambda action: action.order)
    return [(str(action.label), reverse(action.url_name)) for action in ordered]
