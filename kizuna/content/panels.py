"""Content's My Page panels: announcements for the member, and pages recommended to them."""

from kizuna.content.audience import viewer_for
from kizuna.content.feedback import live_announcement_ids, newest_first
from kizuna.content.models import Announcement
from kizuna.content.recommending import recommend
from kizuna.core import mypage

ANNOUNCEMENTS_SHOWN = 3


def announcements_panel(request, member):
    viewer = viewer_for(request)
    if viewer.contact is None:
        return None
    live = live_announcement_ids()
    if not live:
        return {"announcements": []}
    announcements = viewer.visible(newest_first(Announcement.objects.filter(pk__in=live))[:20])
    return {"announcements": announcements[:ANNOUNCEMENTS_SHOWN]}


def recommendations_panel(request, member):
    viewer = viewer_for(request)
    if viewer.contact is None:
        return None
    return {"recommendations": recommend(viewer, limit=5)}


def register() -> None:
    mypage.register_panel(
        key="announcements",
        template="content/site/panel_announcements.html",
        context=announcements_panel,
        order=5,
    )
    mypage.register_panel(
        key="recommendations",
        template="content/site/panel_recommendations.html",
        context=recommendations_panel,
        order=30,
    )
