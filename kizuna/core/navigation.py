"""The console's sidebar: each app adds its items in its AppConfig.ready()."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MAIN = "main"
SYSTEM = "system"
GROUP_LABELS = {MAIN: _("Customers"), SYSTEM: _("System")}


@dataclass(frozen=True)
class ConsoleItem:
    key: str
    label: str | Promise
    url_name: str
    icon: str
    group: str
    order: int


_items: dict[str, ConsoleItem] = {}


def register_console_item(
    *, key: str, label, url_name: str, icon: str = "dot", group: str = MAIN, order: int = 50
) -> None:
    if group not in GROUP_LABELS:
        raise ValueError(f"Unknown console group {group!r}.")
    _items[key] = ConsoleItem(key, label, url_name, icon, group, order)


def console_menu(current_path: str) -> list[dict]:
    """Groups of items in display order, each item with its URL and whether it is current."""
    menu = []
    for group, group_label in GROUP_LABELS.items():
        entries = []
        for item in sorted((i for i in _items.values() if i.group == group), key=lambda i: i.order):
            url = reverse(item.url_name)
            entries.append({"item": item, "url": url, "current": current_path.startswith(url)})
        if entries:
            menu.append({"label": group_label, "entries": entries})
    return menu
