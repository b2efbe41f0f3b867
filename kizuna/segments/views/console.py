"""Console screens of segments: the list, the builder (create / edit with a live count), the
segment page (members, distribution, actions on the whole result) and "why is this person in it?".

A personal segment is visible to its owner only: every screen loads segments through
`segment_for`, which answers 404 for anyone else's.
"""

import json
import re
from functools import partial
from urllib.parse import urlencode

from django.contrib import messages
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kizuna.core.access import staff_required
from kizuna.crm import fields, listing
from kizuna.crm.models import Contact, FieldTarget, SavedView
from kizuna.crm.selection_actions import selection_actions
from kizuna.segments import distribution as distributing
from kizuna.segments import membership, tasks
from kizuna.segments.compiler import FilterError, SegmentCompiler
from kizuna.segments.explaining import explain, segments_of
from kizuna.segments.forms import CountForm, SegmentForm, builder_catalog, visible_segments
from kizuna.segments.models import Segment

# The live count gives up after this long on PostgreSQL rather than hold a connection (SQLite
# has no statement timeout); the page never waits for it - htmx fetches it in the background.
COUNT_TIMEOUT_MS = 10_000
# A place in a filter as FilterError names it: keys and [indexes] joined by dots.
PLACE = re.compile(r"[a-z_]+(\[\d+\])*(\.[\w-]+(\[\d+\])*)*", re.ASCII)


def segment_for(user, slug: str) -> Segment:
    """The segment if `user` may see it (shared, or their own personal one), else 404."""
    return get_object_or_404(visible_segments(user).select_related("owner"), slug=slug)


def compact(document) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


@staff_required
def segment_list(request):
    segments = visible_segments(request.user).select_related("owner")
    segments = segments.order_by("-predefined", "name")
    return render(request, "segments/console/segment_list.html", {"segments": segments})


# --- Builder ------------------------------------------------------------------------------------


@staff_required
def segment_create(request):
    return _builder(request, Segment(filter={"all": []}, shared=True))


@staff_required
def segment_edit(request, slug):
    return _builder(request, segment_for(request.user, slug))


def _builder(request, segment: Segment):
    form = SegmentForm(request.POST or None, instance=segment, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            # Members and the count on the list follow at once, not at the next periodic refresh.
            transaction.on_commit(partial(tasks.refresh_segment.enqueue, saved.pk))
        messages.success(request, _("The segment “%(name)s” was saved.") % {"name": saved.name})
        return redirect("segments:segment_detail", saved.slug)
    original_slug = form.original_slug
    filter_widget = form.fields["filter"].widget
    filter_widget.attrs.update(
        {
            "hx-post": reverse("segments:segment_count"),
            "hx-trigger": "load, input changed delay:600ms, filterchange delay:400ms",
            "hx-target": "#filter-status",
            "hx-sync": "this:replace",
            "hx-vals": json.dumps({"editing": original_slug}),
            "aria-describedby": "id_filter_helptext filter-status"
            + (" id_filter_error" if form.errors.get("filter") else ""),
        }
    )
    value = form["filter"].value()
    try:
        list_filter = compact(json.loads(value)) if isinstance(value, str) else ""
    except json.JSONDecodeError:
        list_filter = ""
    context = {
        "form": form,
        "segment": segment if original_slug else None,
        "original_slug": original_slug,
        "catalog": builder_catalog(request.user, exclude_slug=original_slug),
        "contact_list_url": reverse("crm:contact_list"),
        "contact_list_filter": list_filter,
        "filter_error_place": _place(form.errors["filter"][0]) if "filter" in form.errors else "",
    }
    return render(request, "segments/console/segment_form.html", context)


@staff_required
@require_POST
def segment_count(request):
    """The builder's live count (an htmx fragment): how many contacts the filter selects now, or
    why it cannot be run."""
    form = CountForm(request.POST)
    form.is_valid()
    context = {}
    try:
        q = form.document()
        context["count"] = _count(Contact.objects.filter(q))
    except FilterError as error:
        context["error"] = str(error)
        context["error_place"] = _place(str(error))
    except OperationalError:  # the statement timeout (PostgreSQL)
        context["timeout"] = True
    return render(request, "segments/console/segment_form.html#status", context)


def _count(queryset) -> int:
    if connection.vendor != "postgresql":
        return queryset.count()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [f"{COUNT_TIMEOUT_MS}ms"]
            )
        return queryset.count()


def _place(message: str) -> str:
    """The place a compiler error names ("all[2].any[0].op: …" -> "all[2].any[0].op")."""
    place, separator, _rest = message.partition(": ")
    return place if separator and PLACE.fullmatch(place) else ""


@staff_required
def builder_catalog_json(request):
    """The builder's catalog for pages that embed it without building it (the contact list)."""
    exclude = request.GET.get("editing", "")
    return JsonResponse(builder_catalog(request.user, exclude_slug=exclude))


# --- Segment page -------------------------------------------------------------------------------


@staff_required
def segment_detail(request, slug):
    segment = segment_for(request.user, slug)
    columns = fields.contact_columns()
    state, views = _member_list_state(request, columns)
    dimension = distributing.dimension_for(request.GET.get("by", "")) or (
        distributing.dimension_for(distributing.DEFAULT_DIMENSION)
    )
    context = {
        "segment": segment,
        "state": state,
        "filter_json": json.dumps(segment.filter, ensure_ascii=False, indent=2),
        "saved_views": views,
        "dimensions": distributing.dimensions(),
        "dimension": dimension,
        **_action_urls(segment),
    }
    try:
        q = SegmentCompiler(timezone.now(), (segment.slug,)).filter_q(segment.filter, "")
    except FilterError as error:
        context["error"] = str(error)
        return render(request, "segments/console/segment_detail.html", context)
    members = Contact.objects.filter(q)
    context["distribution"] = distributing.distribution(members, dimension)
    if request.htmx and request.htmx.target == "distribution":
        return render(request, "segments/console/segment_detail.html#distribution", context)
    context.update(_members_context(members, state, columns, dimension))
    return render(request, "segments/console/segment_detail.html", context)


def _member_list_state(request, columns):
    """The member list's columns and sort: the query string, or a saved view's (its search and
    filter are not taken - the segment decides who)."""
    views = SavedView.objects.filter(target=FieldTarget.CONTACT).filter(
        Q(owner=request.user) | Q(shared=True)
    )
    view_id = request.GET.get("view", "").strip()
    saved_view = views.filter(pk=view_id).first() if view_id.isdigit() else None
    params = request.GET.copy()
    for key in ("q", "filter"):
        params.pop(key, None)
    if saved_view is not None:
        params.setdefault("columns", ",".join(saved_view.columns))
        if saved_view.sort:
            params.setdefault("sort", saved_view.sort)
    state = listing.read_state(params, columns)
    state.saved_view = saved_view  # keeps ?view= in the list's links
    return state, views


def _action_urls(segment: Segment) -> dict:
    """CRM screens for the whole segment: the selection is {"segment": slug}, so they act on
    who is in it when they run."""
    selection = {"select_all": "1", "filter": compact({"segment": segment.slug})}
    return {
        "export_url": reverse("crm:contact_export") + "?" + urlencode(selection),
        "bulk_url": reverse("crm:bulk_start") + "?" + urlencode(selection),
        "more_actions": [
            (label, url + "?" + urlencode(selection)) for label, url in selection_actions()
        ],
        "contact_list_url": reverse("crm:contact_list")
        + "?"
        + urlencode({"filter": selection["filter"]}),
    }


def _members_context(members, state, columns, dimension) -> dict:
    queryset = members.select_related("owner", "company")
    if any(column.key == "tags" for column in state.columns):
        queryset = queryset.prefetch_related("tags")
    page = listing.keyset_page(queryset, state, columns)
    extra = {"by": dimension.key} if dimension.key != distributing.DEFAULT_DIMENSION else {}
    return {
        "count": members.count(),
        "page": page,
        "rows": [(c, [listing.cell(c, column) for column in state.columns]) for c in page.rows],
        "headers": state.headers(),
        "first_url": state.url(**extra),
        "previous_url": state.url(before=page.previous_cursor, **extra),
        "next_url": state.url(after=page.next_cursor, **extra),
    }


@staff_required
@require_POST
def segment_refresh(request, slug):
    segment = segment_for(request.user, slug)
    try:
        result = membership.refresh_segment(segment)
    except FilterError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("Refreshed: %(members)s members (%(entered)s entered, %(exited)s left).")
            % {"members": result.members, "entered": result.entered, "exited": result.exited},
        )
    return redirect("segments:segment_detail", segment.slug)


# --- Why is this person in it? ------------------------------------------------------------------


@staff_required
def segment_why_lookup(request, slug):
    """The segment page's small form: a contact id or email -> that contact's explanation."""
    segment = segment_for(request.user, slug)
    text = request.GET.get("contact", "").strip()
    contact = None
    if text.isdigit():
        contact = Contact.objects.filter(pk=int(text)).first()
    elif text:
        contact = Contact.objects.with_email(text).order_by("pk").first()
    if contact is None:
        messages.error(request, _("No contact has the id or email “%(text)s”.") % {"text": text})
        return redirect(reverse("segments:segment_detail", args=[segment.slug]) + "#why")
    return redirect("segments:segment_why", segment.slug, contact.pk)


@staff_required
def segment_why(request, slug, contact_pk):
    segment = segment_for(request.user, slug)
    contact = get_object_or_404(Contact.objects.select_related("owner", "company"), pk=contact_pk)
    now = timezone.now()
    context = {"segment": segment, "contact": contact, "now": now}
    try:
        context["root"] = explain(segment.filter, contact, now=now)
    except FilterError as error:
        context["error"] = str(error)
    return render(request, "segments/console/segment_why.html", context)


@staff_required
def contact_segments(request, pk):
    """The segments a contact is in now, each with its "why" link. With htmx, the panel alone (the
    contact page can load it into itself)."""
    contact = get_object_or_404(Contact, pk=pk)
    segments = visible_segments(request.user).order_by("name")
    context = {"contact": contact, "results": segments_of(contact, segments)}
    template = "segments/console/contact_segments.html"
    if request.htmx:
        template += "#panel"
    return render(request, template, context)
