"""The announcement banner on every site page, for the members in its audience."""

from django.utils.functional import SimpleLazyObject

from kizuna.content.feedback import current_banner


def announcement_banner(request) -> dict:
    """Lazy: looked up (and counted as seen) only when a template renders it — the site's base
    template does, console and fragment responses do not."""
    return {"announcement_banner": SimpleLazyObject(lambda: current_banner(request))}
