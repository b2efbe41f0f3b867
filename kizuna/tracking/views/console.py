"""Console screens for behaviour tracking: visitors (now and lately), one visitor, top pages,
a contact's activity and the tracking settings with the snippet for other sites.

Everything shown here came from visitors' browsers (URLs, titles, referrers, user agents,
properties): templates print it through Django's autoescaping only, never |safe."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from kizuna.core.access import staff_required
from kizuna.core.models import ConsentMode, SiteSettings
from kizuna.crm.models import Contact
from kizuna.tracking import reports
from kizuna.tracking.forms import TrackingSettingsForm
from kizuna.tracking.models import Visitor

SNIPPET_PATH = "/t/kizuna.js"
# Lets a page call kizuna(...) before the async script has loaded (kizuna.js replays the queue).
QUEUE_STUB = (
    "window.kizuna = window.kizuna || function () { (kizuna.q = kizuna.q || []).push(arguments); };"
)


@staff_required
def visitor_list(request):
    kind = request.GET.get("kind", "")
    if kind not in reports.VISITOR_KINDS:
        kind = ""
    cursor = reports.VisitorCursor.from_params(request.GET)
    online_total, online = reports.visitors_online()
    page = reports.recent_visitors(kind, before=cursor)
    next_url = ""
    if page.next_cursor:
        query = QueryDict(mutable=True)
        query.update({"kind": kind} if kind else {})
        query.update(page.next_cursor.as_params())
        next_url = "?" + query.urlencode()
    context = {
        "kind": kind,
        "kinds": [
            ("", _("All visitors")),
            ("anonymous", _("Anonymous only")),
            ("identified", _("Identified only")),
        ],
        "online": online,
        "online_total": online_total,
        "visitors": page.rows,
        "is_first_page": cursor is None,
        "first_url": "?kind=" + kind if kind else "?",
        "next_url": next_url,
    }
    return render(request, "tracking/console/visitor_list.html", context)


@staff_required
def visitor_detail(request, visitor_id):
    visitor = get_object_or_404(Visitor.objects.select_related("contact"), pk=visitor_id)
    context = {"visitor": visitor, "visits": reports.visitor_visits(visitor)}
    return render(request, "tracking/console/visitor_detail.html", context)


@staff_required
def top_pages(request):
    days = reports.top_page_period(request.GET.get("days", ""))
    context = {"days": days, "periods": reports.TOP_PAGE_PERIODS, "pages": reports.top_pages(days)}
    return render(request, "tracking/console/top_pages.html", context)


@staff_required
def contact_activity(request, pk):
    """The contact's tracking summary and its events by visit. With htmx, the summary alone (the
    contact detail page can load it into itself)."""
    contact = get_object_or_404(Contact, pk=pk)
    context = {"contact": contact, "summary": reports.contact_summary(contact)}
    template = "tracking/console/contact_activity.html"
    if request.htmx:
        return render(request, template + "#summary", context)
    context["visits"] = reports.contact_visits(contact)
    return render(request, template, context)


@staff_required
def tracking_settings(request):
    settings_row = SiteSettings.current()
    tag = snippet(request, settings_row)  # before validation writes the posted values into the row
    form = TrackingSettingsForm(request.POST or None, instance=settings_row)
    if request.method == "POST" and form.is_valid():
        form.save(by=request.user)
        messages.success(request, _("The tracking settings were saved."))
        return redirect("tracking:settings")
    context = {"form": form, "snippet": tag, "queue_stub": QUEUE_STUB}
    return render(request, "tracking/console/settings_form.html", context)


def snippet(request, settings_row: SiteSettings) -> str:
    """The tag other sites paste into their pages: the script from this server, named by host;
    under the after-consent mode the script also waits for kizuna('consent', true)."""
    script_url = request.build_absolute_uri(SNIPPET_PATH)
    consent = ""
    if settings_row.tracking_consent_mode == ConsentMode.AFTER_CONSENT:
        consent = ' data-consent="required"'
    return f'<script async src="{script_url}" data-site="{request.get_host()}"{consent}></script>'
