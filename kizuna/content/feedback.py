"""Members' reactions to content: FAQ "was this helpful?" votes, announcements seen and
dismissed, and the banner to show. Each operation owns its transaction; views and the banner's
context processor call them."""

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from kizuna.content.audience import Viewer, viewer_for
from kizuna.content.models import Announcement, AnnouncementSeen, FaqEntry, FaqVote
from kizuna.crm.models import Contact
from kizuna.tracking.middleware import visitor_id_from


def faq_voter(request) -> str | None:
    """Who is voting: the member's contact, else the browser's visitor cookie, else nobody."""
    contact = viewer_for(request).contact
    if contact is not None:
        return f"c:{contact.pk}"
    visitor_id = visitor_id_from(request)
    return f"v:{visitor_id}" if visitor_id else None


def record_faq_vote(entry: FaqEntry, voter: str, *, helpful: bool) -> bool:
    """One vote per voter and entry; the entry's count goes up in the same transaction, in the
    database (F()), so simultaneous votes are all counted. False if this voter had voted."""
    with transaction.atomic():
        _vote, created = FaqVote.objects.get_or_create(
            entry=entry, voter=voter, defaults={"helpful": helpful}
        )
        if created:
            counter = "helpful_yes" if helpful else "helpful_no"
            FaqEntry.objects.filter(pk=entry.pk).update(**{counter: F(counter) + 1})
    return created


def mark_announcement_seen(announcement: Announcement, contact: Contact) -> None:
    AnnouncementSeen.objects.get_or_create(announcement=announcement, contact=contact)


def dismiss_announcement(announcement: Announcement, contact: Contact) -> None:
    """The banner stays away for this contact; the first dismissal's time is kept."""
    now = timezone.now()
    with transaction.atomic():
        seen, created = AnnouncementSeen.objects.get_or_create(
            announcement=announcement, contact=contact, defaults={"dismissed_at": now}
        )
        if not created and seen.dismissed_at is None:
            AnnouncementSeen.objects.filter(pk=seen.pk, dismissed_at__isnull=True).update(
                dismissed_at=now
            )


def counts_as_member_view(viewer: Viewer) -> bool:
    """Staff checking their work are not counted among the members who saw an announcement."""
    return viewer.contact is not None and not viewer.is_staff


def newest_first(announcements):
    return announcements.order_by(Coalesce("published_from", "created_at").desc(), "-id")


ANNOUNCEMENT_WINDOWS_KEY = "content:announcement-windows"


def announcement_windows() -> list[tuple]:
    """(id, banner, from, until) of every announcement marked published, from the cache (cleared
    when an announcement is saved or deleted): most pages have no banner and most days no news,
    and then they ask nothing."""
    windows = cache.get(ANNOUNCEMENT_WINDOWS_KEY)
    if windows is None:
        windows = list(
            Announcement.objects.filter(is_published=True).values_list(
                "pk", "banner", "published_from", "published_until"
            )
        )
        cache.set(ANNOUNCEMENT_WINDOWS_KEY, windows, 300)
    return windows


def forget_announcement_windows(**kwargs) -> None:
    cache.delete(ANNOUNCEMENT_WINDOWS_KEY)


def live_announcement_ids(*, banners_only: bool = False) -> list[int]:
    now = timezone.now()
    return [
        pk
        for pk, banner, start, end in announcement_windows()
        if (banner or not banners_only)
        and (start is None or start <= now)
        and (end is None or now < end)
    ]


def current_banner(request) -> Announcement | None:
    """The newest published banner the logged-in viewer may see and has not dismissed; shown
    means seen."""
    if not request.user.is_authenticated or not live_announcement_ids(banners_only=True):
        return None
    viewer = viewer_for(request)
    contact = viewer.contact
    if contact is None:
        return None
    own = AnnouncementSeen.objects.filter(announcement=OuterRef("pk"), contact=contact)
    candidates = newest_first(
        Announcement.objects.published()
        .filter(banner=True)
        .exclude(Exists(own.filter(dismissed_at__isnull=False)))
        .annotate(already_seen=Exists(own))
    )
    for announcement in candidates:
        if viewer.may_see(announcement):
            if not announcement.already_seen and counts_as_member_view(viewer):
                mark_announcement_seen(announcement, contact)
            return announcement
    return None
