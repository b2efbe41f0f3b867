"""Every content object a visitor reaches by URL comes through here: published, and visible to
this viewer — or the right refusal (log-in page for anonymous visitors, "not included in your
membership" for members outside the audience, 404 for what does not exist or is not published)."""

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render

from kizuna.content.audience import viewer_for
from kizuna.content.models import Announcement, FaqEntry, Page, PageFile


class Refused(Exception):
    """Raised with the response to send instead of the content."""

    def __init__(self, response):
        super().__init__("refused")
        self.response = response


def refuse(request):
    viewer = viewer_for(request)
    if viewer.is_anonymous:
        return redirect_to_login(request.get_full_path())
    return render(request, "content/site/not_included.html", status=403)


def _checked(request, item):
    if not viewer_for(request).may_see(item):
        raise Refused(refuse(request))
    return item


def page_for(request, slug: str) -> Page:
    page = Page.objects.published().select_related("category").filter(slug=slug).first()
    if page is None:
        raise Http404
    return _checked(request, page)


def page_file_for(request, slug: str, file_id: int) -> PageFile:
    page = page_for(request, slug)
    page_file = PageFile.objects.select_related("stored").filter(page=page, pk=file_id).first()
    if page_file is None:
        raise Http404
    return page_file


def faq_entry_for(request, pk: int) -> FaqEntry:
    entry = FaqEntry.objects.published().select_related("category").filter(pk=pk).first()
    if entry is None:
        raise Http404
    return _checked(request, entry)


def announcement_for(request, pk: int) -> Announcement:
    announcement = Announcement.objects.published().filter(pk=pk).first()
    if announcement is None:
        raise Http404
    if not viewer_for(request).may_see(announcement):
        raise Refused(refuse(request))
    return announcement
