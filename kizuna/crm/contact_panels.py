"""Panels other apps add beside a contact's details in the console (segments, web activity,
membership…), each loaded by htmx from the app's own URL so crm knows none of them:

    register_contact_panel("members:contact_membership", order=10)

The URL takes the contact's pk and answers an HTML fragment."""

from django.urls import reverse

_panels: dict[str, int] = {}


def register_contact_panel(url_name: str, *, order: int = 50) -> None:
    _panels[url_name] = order


def contact_panel_urls(contact_pk: int) -> list[str]:
    return [
        reverse(name, args=[contact_pk])
        for name, _order in sorted(_panels.items(), key=lambda item: item[1])
    ]
