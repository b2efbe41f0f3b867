"""Content on the site: pages, their files and video, the sitemap."""

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from kizuna.content import access
from kizuna.content.audience import Viewer, viewer_for
from kizuna.content.downloading import file_response, read_link_token
from kizuna.content.models import Category, Page, PageFile
from kizuna.content.recommending import recommend
from kizuna.content.searching import search
from kizuna.crm.models import Contact
from kizuna.tracking.models import EventType
from kizuna.tracking.recording import record_event

VIDEO_MILESTONES = (25, 50, 75, 100)


def refused_as_response(view):
    """access.Refused carries the answer (log-in page or "not included") to send instead."""

    def checked(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except access.Refused as refusal:
            return refusal.response

    checked.__name__ = view.__name__
    checked.__doc__ = view.__doc__
    return checked


def page_list(request):
    """The pages this viewer may open, by category; the others are not even listed."""
    viewer = viewer_for(request)
    query = request.GET.get("q", "").strip()[:200]
    pages = viewer.visible(search(Page.objects.published().select_related("category"), query))
    categories = {}
    for page in pages:
        categories.setdefault(page.category, []).append(page)
    ordered = sorted(categories.items(), key=lambda item: _category_order(item[0]))
    return render(request, "content/site/page_list.html", {"categories": ordered, "query": query})


def _category_order(category: Category | None):
    return (category is None, category.position if category else 0, category.pk if category else 0)


@refused_as_response
def page_detail(request, slug):
    page = access.page_for(request, slug)
    request.tracking_props = {"page": page.slug}  # the page view event says which page
    files = list(page.files.select_related("stored"))
    context = {
        "page": page,
        "files": files,
        "recommendations": recommend(viewer_for(request), current=page),
    }
    response = render(request, "content/site/page_detail.html", context)
    if page.noindex:
        response["X-Robots-Tag"] = "noindex"
    return response


@refused_as_response
def page_file(request, slug, file_id):
    page_file = access.page_file_for(request, slug, file_id)
    return file_response(page_file, contact=viewer_for(request).contact, request=request)


@refused_as_response
def page_video(request, slug):
    page = access.page_for(request, slug)
    if page.video_file_id is None:
        raise Http404
    return file_response(
        PageFile(page=page, stored=page.video_file), contact=None, request=request, inline=True
    )


@require_POST
@refused_as_response
def video_progress(request, slug):
    """25 / 50 / 75 / 100 % of a page's video watched: a `video_progress` event (segments can
    ask "watched 75 % of the onboarding video")."""
    page = access.page_for(request, slug)
    try:
        percent = int(request.POST.get("percent", ""))
    except ValueError:
        percent = 0
    contact = viewer_for(request).contact
    if percent not in VIDEO_MILESTONES or not page.has_video:
        return JsonResponse({"error": "percent must be 25, 50, 75 or 100"}, status=400)
    if contact is not None:
        record_event(
            contact,
            EventType.VIDEO_PROGRESS,
            props={"page": page.slug, "percent": percent},
            request=request,
        )
    return HttpResponse(status=204)


def signed_file(request, token):
    """A download link from an email: the file, for the contact it was made for, while the link
    is valid and the contact is still in the page's audience (an active member)."""
    data = read_link_token(token)
    if data is None:
        return render(request, "content/site/link_expired.html", status=410)
    page_file = PageFile.objects.select_related("page", "stored").filter(pk=data["f"]).first()
    if page_file is None or not Page.objects.published().filter(pk=page_file.page_id).exists():
        raise Http404
    from_link = Viewer(Contact.objects.filter(pk=data["c"]).first())
    if from_link.contact is None or not from_link.may_see(page_file.page):
        return render(request, "content/site/not_included.html", status=403)
    return file_response(page_file, contact=from_link.contact, request=request)
