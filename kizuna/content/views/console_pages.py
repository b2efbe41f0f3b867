"""Console screens for pages: the list with its figures, the editor (with a Markdown preview),
a page's own screen (figures, attached files, video progress), "view as" a contact, and staff
picks.

Figures come from content/figures.py, the writes from content/publishing.py.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_POST

from kizuna.content.audience import viewer_as
from kizuna.content.audience_forms import tier_choices
from kizuna.content.console_page_forms import (
    PageFilesForm,
    PageFileTitleForm,
    PageForm,
    StaffPickForm,
    compact_json,
)
from kizuna.content.figures import (
    audience_in_words,
    page_figures,
    page_stats,
    publication_state,
    slug_is_fixed,
    state_q,
)
from kizuna.content.models import Category, Page, PageFile, StaffPick
from kizuna.content.publishing import (
    attach_files,
    delete_page,
    delete_pick,
    move_file,
    move_pick,
    remove_file,
    rename_file,
    save_page,
    save_pick,
)
from kizuna.content.recommending import recommend
from kizuna.content.rendering import render_markdown
from kizuna.core.access import staff_required
from kizuna.crm.models import Contact
from kizuna.crm.search import search_contacts

PAGE_SIZE = 50
CONTACT_RESULTS = 20
# "View as" shows the site's own page in a frame of the console: framed by the console only, and
# sandboxed (no script, no form, no download), so nothing in it acts for the staff member.
FRAME_POLICY = {
    **settings.SECURE_CSP,
    "frame-ancestors": [CSP.SELF],
    "sandbox": "allow-same-origin",
}

STATES = {
    "draft": pgettext_lazy("page state", "Draft"),
    "scheduled": pgettext_lazy("page state", "Scheduled"),
    "live": pgettext_lazy("page state", "Published"),
    "ended": pgettext_lazy("page state", "Ended"),
}
NO_CATEGORY = "none"


# --- Pages: list, editor, preview, delete ------------------------------------------------------


def _as_id(text: str) -> int | None:
    """An id from the query string; None for anything a database id cannot be."""
    return int(text) if text.isdigit() and len(text) <= 18 else None


def page_for_console(pk: int) -> Page:
    return get_object_or_404(Page.objects.select_related("category", "video_file"), pk=pk)


@staff_required
def page_list(request):
    """Pages with their audience, state and figures; a fixed number of queries whatever the
    number of rows: the page's count and rows, the figures (one grouped query), the tiers and
    the categories."""
    now = timezone.now()
    category = request.GET.get("category", "")
    state = request.GET.get("state", "")
    pages = Page.objects.select_related("category")
    if category == NO_CATEGORY:
        pages = pages.filter(category__isnull=True)
    elif _as_id(category) is not None:
        pages = pages.filter(category_id=_as_id(category))
    else:
        category = ""
    if state in STATES:
        pages = pages.filter(state_q(state, now))
    else:
        state = ""
    listing = Paginator(pages.order_by("-updated_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    shown = list(listing.object_list)
    figures = page_figures([page.slug for page in shown])
    tier_names = dict(tier_choices())
    rows = [
        (
            page,
            publication_state(page, now),
            audience_in_words(page, tier_names),
            figures[page.slug],
        )
        for page in shown
    ]
    context = {
        "listing": listing,
        "rows": rows,
        "categories": list(Category.objects.filter(kind=Category.Kind.PAGES)),
        "category": category,
        "no_category": NO_CATEGORY,
        "states": list(STATES.items()),
        "state": state,
        "state_labels": STATES,
    }
    return render(request, "content/console/page_list.html", context)


@staff_required
def page_create(request):
    return _editor(request, Page())


@staff_required
def page_edit(request, pk):
    return _editor(request, page_for_console(pk))


def _editor(request, page: Page):
    form = PageForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        instance=page,
        slug_fixed=slug_is_fixed(page),
    )
    form.fields["body"].widget.attrs.update(
        {
            "hx-post": reverse("content_console:page_preview"),
            "hx-trigger": "input changed delay:600ms",
            "hx-target": "#body-preview",
            "hx-params": "csrfmiddlewaretoken,body",
        }
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved, _changes = save_page(form, by=request.user)
        except IntegrityError:  # the address taken between the check and the save
            form.add_error("slug", _("Another page already has this address."))
        else:
            messages.success(request, _("The page “%(title)s” was saved.") % {"title": saved})
            return redirect("content_console:page_detail", saved.pk)
    context = {
        "form": form,
        "page": page if page.pk else None,
        "preview_html": render_markdown(form["body"].value() or ""),
    }
    return render(request, "content/console/page_form.html", context)


@staff_required
@require_POST
def page_preview(request):
    """The editor's preview (an htmx fragment): the Markdown as members will get it."""
    body = request.POST.get("body", "")
    context = {"preview_html": render_markdown(body)}
    return render(request, "content/console/page_form.html#preview", context)


@staff_required
def page_delete(request, pk):
    page = page_for_console(pk)
    if request.method == "POST":
        delete_page(page, by=request.user)
        messages.success(request, _("The page “%(title)s” was deleted.") % {"title": page.title})
        return redirect("content_console:page_list")
    context = {"page": page, "files": page.files.count(), "picks": page.picks.count()}
    return render(request, "content/console/page_delete.html", context)


# --- A page's screen: figures and files ---------------------------------------------------------


@staff_required
def page_detail(request, pk):
    return _detail(request, page_for_console(pk))


def _detail(request, page: Page, *, files_form=None):
    now = timezone.now()
    stats = page_stats(page)
    files = list(page.files.select_related("stored"))
    file_rows = [(page_file, *stats.by_file.get(str(page_file.pk), (0, 0))) for page_file in files]
    context = {
        "page": page,
        "state": publication_state(page, now),
        "state_labels": STATES,
        "audience_words": audience_in_words(page, dict(tier_choices())),
        "audience_filter": compact_json(page.audience_filter) if page.audience_filter else "",
        "stats": stats,
        "file_rows": file_rows,
        "files_form": files_form or PageFilesForm(),
        "picks": list(page.picks.all()),
        "is_visible_now": Page.objects.published(now).filter(pk=page.pk).exists(),
    }
    return render(request, "content/console/page_detail.html", context)


@staff_required
@require_POST
def page_file_add(request, pk):
    page = page_for_console(pk)
    form = PageFilesForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, page, files_form=form)
    attached = attach_files(page, form.cleaned_data["files"], by=request.user)
    count = len(attached)
    message = ngettext("%(count)s file attached.", "%(count)s files attached.", count)
    messages.success(request, message % {"count": count})
    return redirect("content_console:page_detail", page.pk)


def _page_file(pk: int, file_id: int) -> PageFile:
    return get_object_or_404(
        PageFile.objects.select_related("page", "stored"), page_id=pk, pk=file_id
    )


@staff_required
@require_POST
def page_file_rename(request, pk, file_id):
    page_file = _page_file(pk, file_id)
    form = PageFileTitleForm(request.POST)
    if form.is_valid():
        rename_file(page_file, form.cleaned_data["title"], by=request.user)
        messages.success(request, _("The file's title was saved."))
    else:
        messages.error(request, _("A file's title cannot be empty or longer than 200 characters."))
    return redirect("content_console:page_detail", pk)


@staff_required
@require_POST
def page_file_move(request, pk, file_id):
    move_file(_page_file(pk, file_id), request.POST.get("direction", ""), by=request.user)
    return redirect("content_console:page_detail", pk)


@staff_required
@require_POST
def page_file_remove(request, pk, file_id):
    page_file = _page_file(pk, file_id)
    remove_file(page_file, by=request.user)
    messages.success(request, _("The file “%(name)s” was removed.") % {"name": page_file})
    return redirect("content_console:page_detail", pk)


# --- View as ------------------------------------------------------------------------------------


@staff_required
def page_view_as(request, pk):
    """Pick a contact (search by name, kana, email, phone, company) and see the page as they
    would get it: the page itself, or the "not included in your membership" answer."""
    page = page_for_console(pk)
    query = request.GET.get("q", "").strip()[:200]
    results = []
    if query:
        found = search_contacts(Contact.objects.select_related("company"), query)
        results = list(found.order_by("family_name", "given_name", "pk")[:CONTACT_RESULTS])
    context = {"page": page, "query": query, "results": results}
    if request.htmx and request.htmx.target == "contact-results":
        return render(request, "content/console/page_view_as.html#results", context)
    contact_id = _as_id(request.GET.get("contact", ""))
    if contact_id is not None:
        contact = get_object_or_404(Contact.objects.select_related("user"), pk=contact_id)
        context.update(
            contact=contact,
            allowed=viewer_as(contact).may_see(page),
            published=Page.objects.published().filter(pk=page.pk).exists(),
            can_log_in=bool(contact.user_id and contact.user.is_active),
        )
    return render(request, "content/console/page_view_as.html", context)


@staff_required
@xframe_options_sameorigin
@csp_override(FRAME_POLICY)
def page_view_as_frame(request, pk, contact_pk):
    """The site's page as this contact gets it, for the frame on the view-as screen. Nothing is
    recorded: no page view (a console URL), no download, no video progress (the frame runs no
    script)."""
    page = page_for_console(pk)
    contact = get_object_or_404(Contact.objects.select_related("user"), pk=contact_pk)
    viewer = viewer_as(contact)
    user = contact.user if contact.user_id and contact.user.is_active else AnonymousUser()
    # The site's header for the contact, not for the staff member; no announcement banner (it
    # would be the staff member's, and showing one counts it as seen).
    shell = {"user": user, "announcement_banner": None}
    if not viewer.may_see(page):
        return render(request, "content/site/not_included.html", shell)
    context = {
        "page": page,
        "files": list(page.files.select_related("stored")),
        "recommendations": recommend(viewer, current=page),
        **shell,
    }
    return render(request, "content/site/page_detail.html", context)


# --- Staff picks --------------------------------------------------------------------------------


@staff_required
def pick_list(request):
    return _pick_list(request, StaffPickForm())


def _pick_list(request, form):
    picks = list(StaffPick.objects.select_related("page").order_by("position", "id"))
    rows = [
        (pick, compact_json(pick.segment_filter) if pick.segment_filter else "") for pick in picks
    ]
    return render(request, "content/console/pick_list.html", {"rows": rows, "form": form})


@staff_required
@require_POST
def pick_create(request):
    form = StaffPickForm(request.POST)
    if not form.is_valid():
        return _pick_list(request, form)
    pick = save_pick(form, by=request.user)
    messages.success(request, _("“%(title)s” was added to the staff picks.") % {"title": pick.page})
    return redirect("content_console:pick_list")


@staff_required
def pick_edit(request, pk):
    pick = get_object_or_404(StaffPick.objects.select_related("page"), pk=pk)
    form = StaffPickForm(request.POST or None, instance=pick)
    if request.method == "POST" and form.is_valid():
        save_pick(form, by=request.user)
        messages.success(request, _("The staff pick was saved."))
        return redirect("content_console:pick_list")
    return render(request, "content/console/pick_form.html", {"form": form, "pick": pick})


@staff_required
@require_POST
def pick_delete(request, pk):
    pick = get_object_or_404(StaffPick.objects.select_related("page"), pk=pk)
    delete_pick(pick, by=request.user)
    messages.success(
        request, _("“%(title)s” was removed from the staff picks.") % {"title": pick.page}
    )
    return redirect("content_console:pick_list")


@staff_required
@require_POST
def pick_move(request, pk):
    pick = get_object_or_404(StaffPick, pk=pk)
    move_pick(pick, request.POST.get("direction", ""), by=request.user)
    return redirect("content_console:pick_list")
