"""My Page (kizuna.members) is a column of panels; each app adds its own in its AppConfig.ready()
— members its profile and account panels, content the recommendations and announcements, support
the inquiries, tickets and points — and the sections of "download my data" the same way. The
registry lives in core so that apps of one tier (DESIGN.md) need not import each other.

A panel's `context(request, member)` returns the template's values, or None to hide the panel.
It must cost a fixed number of queries whatever the member has (bench/portal.py counts them)."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable
    order: int


_panels: dict[str, Panel] = {}
_export_sections: dict[str, Callable] = {}


def register_panel(*, key: str, template: str, context: Callable, order: int = 50) -> None:
    _panels[key] = Panel(key, template, context, order)


def panels() -> list[Panel]:
    return sorted(_panels.values(), key=lambda panel: panel.order)


def register_export_section(key: str, collect: Callable) -> None:
    """`collect(member)` returns JSON-ready data for the member's "download my data" file."""
    _export_sections[key] = collect


def export_sections() -> dict[str, Callable]:
    return dict(_export_sections)
