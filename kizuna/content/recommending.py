"""おすすめ: pages to read next, for one viewer, each with the reason it is there.

Order: staff picks for the viewer's segment first, then "members who read this also read" from
co-visits in the page-view events, then what is popular with members; pages the viewer has
already read go last. Only pages the viewer may see are considered."""

import datetime
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.content.audience import Viewer
from kizuna.content.models import Page, StaffPick
from kizuna.segments.compiler import matches
from kizuna.tracking.models import Event, EventType

POPULAR_DAYS = 90


@dataclass(frozen=True)
class Recommendation:
    page: Page
    reason: str
    seen: bool = False


def recommend(viewer: Viewer, *, current: Page | None = None, limit: int = 5):
    candidates = {
        page.slug: page
        for page in viewer.visible(Page.objects.published().select_related("category"))
        if current is None or page.pk != current.pk
    }
    if not candidates:
        return []
    seen = _read_by(viewer.contact)
    chosen: dict[str, str] = {}
    for pick in StaffPick.objects.select_related("page").order_by("position", "id"):
        slug = pick.page.slug
        if slug in candidates and slug not in chosen and _pick_applies(pick, viewer):
            chosen[slug] = pick.note or _("Recommended by our staff")
    seeds = [current.slug] if current is not None else sorted(seen)[:20]
    for slug in _also_read(seeds, exclude=set(seeds)):
        if slug in candidates and slug not in chosen:
            title = current.title if current is not None else ""
            chosen[slug] = (
                _("Members who read “%(title)s” also read this") % {"title": title}
                if title
                else _("Members who read the same pages as you also read this")
            )
    for slug in _popular(list(candidates)):
        if slug not in chosen:
            chosen[slug] = _("Popular with members")
    for slug in candidates:  # the rest, newest first as listed
        chosen.setdefault(slug, _("New for you") if slug not in seen else "")
    ordered = sorted(chosen.items(), key=lambda item: item[0] in seen)  # stable: seen last
    return [
        Recommendation(
            candidates[slug],
            reason if slug not in seen else _("You have read this already"),
            seen=slug in seen,
        )
        for slug, reason in ordered[:limit]
    ]


def _pick_applies(pick: StaffPick, viewer: Viewer) -> bool:
    if not pick.segment_filter:
        return True
    if viewer.contact is None:
        return False
    return matches(pick.segment_filter, viewer.contact)


def _page_views():
    return Event.objects.filter(type=EventType.PAGE_VIEW, props__has_key="page")


def _read_by(contact) -> set[str]:
    if contact is None:
        return set()
    pages = Event.objects.of_contact(contact).filter(
        type=EventType.PAGE_VIEW, props__has_key="page"
    )
    return set(pages.values_list("props__page", flat=True).distinct())


def _also_read(seeds: list[str], *, exclude: set[str], limit: int = 20) -> list[str]:
    """Pages most read by the contacts who read any of `seeds` (distinct readers)."""
    if not seeds:
        return []
    readers = _page_views().filter(props__page__in=seeds, contact__isnull=False).values("contact")
    rows = (
        _page_views()
        .filter(contact__in=readers)
        .exclude(props__page__in=list(exclude))
        .values("props__page")
        .annotate(readers=Count("contact", distinct=True))
        .order_by("-readers", "props__page")[:limit]
    )
    return [row["props__page"] for row in rows]


def _popular(slugs: list[str], limit: int = 20) -> list[str]:
    since = timezone.now() - datetime.timedelta(days=POPULAR_DAYS)
    rows = (
        _page_views()
        .filter(occurred_at__gte=since, props__page__in=slugs, contact__isnull=False)
        .values("props__page")
        .annotate(readers=Count("contact", distinct=True))
        .order_by("-readers", "props__page")[:limit]
    )
    return [row["props__page"] for row in rows]
