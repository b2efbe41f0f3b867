"""Figures of pages from tracking events that name the page by its slug (`page_view`,
`file_download`, `video_progress` with props {"page": slug}): counted for a whole screen in one
grouped query."""

from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from kizuna.content.models import AudienceKind, Page
from kizuna.content.views.site import VIDEO_MILESTONES
from kizuna.tracking.models import Event, EventType

PAGE_EVENTS = (EventType.PAGE_VIEW, EventType.FILE_DOWNLOAD, EventType.VIDEO_PROGRESS)


def publication_state(page: Page, now) -> str:
    if not page.is_published:
        return "draft"
    if page.published_from and page.published_from > now:
        return "scheduled"
    if page.published_until and page.published_until <= now:
        return "ended"
    return "live"


def state_q(state: str, now) -> Q:
    starts = Q(published_from__isnull=True) | Q(published_from__lte=now)
    running = Q(published_until__isnull=True) | Q(published_until__gt=now)
    return {
        "draft": Q(is_published=False),
        "scheduled": Q(is_published=True, published_from__gt=now),
        "live": Q(is_published=True) & starts & running,
        "ended": Q(is_published=True, published_until__lte=now),
    }[state]


@dataclass
class Figures:
    views: int = 0
    members: int = 0
    downloads: int = 0


def page_figures(slugs: list[str]) -> dict[str, Figures]:
    """Views, distinct contacts who viewed, and downloads of these pages: one grouped query."""
    figures = {slug: Figures() for slug in slugs}
    if not slugs:
        return figures
    rows = (
        Event.objects.filter(
            type__in=[EventType.PAGE_VIEW, EventType.FILE_DOWNLOAD], props__page__in=slugs
        )
        .values("type", slug=KT("props__page"))
        .annotate(total=Count("id"), people=Count("contact", distinct=True))
        .order_by()
    )
    for row in rows:
        found = figures.get(row["slug"])
        if found is None:
            continue
        if row["type"] == EventType.PAGE_VIEW:
            found.views, found.members = row["total"], row["people"]
        else:
            found.downloads = row["total"]
    return figures


@dataclass
class PageStats:
    views: int = 0
    members: int = 0
    downloads: int = 0
    by_file: dict | None = None  # file id (str) -> (downloads, people)
    video: list | None = None  # [(percent, events, people)] for 25 / 50 / 75 / 100


def page_stats(page: Page) -> PageStats:
    """One page's figures, in one grouped query: views and viewers, downloads per file, and how
    many people reached each video milestone."""
    rows = (
        Event.objects.filter(type__in=PAGE_EVENTS, props__page=page.slug)
        .values("type", file=KT("props__file_id"), percent=KT("props__percent"))
        .annotate(total=Count("id"), people=Count("contact", distinct=True))
        .order_by()
    )
    stats = PageStats(by_file={})
    milestones = {}
    for row in rows:
        if row["type"] == EventType.PAGE_VIEW:
            stats.views += row["total"]
            stats.members += row["people"]
        elif row["type"] == EventType.FILE_DOWNLOAD:
            stats.downloads += row["total"]
            key = str(row["file"])
            total, people = stats.by_file.get(key, (0, 0))
            stats.by_file[key] = (total + row["total"], people + row["people"])
        else:
            milestones[str(row["percent"])] = (row["total"], row["people"])
    stats.video = [(percent, *milestones.get(str(percent), (0, 0))) for percent in VIDEO_MILESTONES]
    return stats


def audience_in_words(item, tier_names: dict[str, str]) -> str:
    """The audience as staff read it: "Members of these tiers: Gold, Silver"."""
    separator = pgettext("list separator", ", ")
    if item.audience == AudienceKind.TIERS:
        names = separator.join(tier_names.get(slug, slug) for slug in item.audience_tiers)
        return _("Membership ranks: %(names)s") % {"names": names}
    if item.audience == AudienceKind.TAGS:
        return _("Tags: %(names)s") % {"names": separator.join(item.audience_tags)}
    return str(item.get_audience_display())


def slug_is_fixed(page: Page) -> bool:
    """Published, or seen before: links, the sitemap and the figures use the address."""
    if page.pk is None:
        return False
    if Page.objects.filter(pk=page.pk, is_published=True).exists():
        return True
    return Event.objects.filter(type__in=PAGE_EVENTS, props__page=page.slug).exists()
