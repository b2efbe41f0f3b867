"""The FAQ, its categories and announcements in the console: lists with their counts (helpful
votes, views; seen, dismissed), editors with the audience picker, deletion after a confirmation.
Every change is in the audit log."""

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from kizuna.content.console_faq_forms import AnnouncementForm, CategoryForm, FaqEntryForm
from kizuna.content.models import Announcement, Category, FaqEntry
from kizuna.core.access import staff_required
from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction
from kizuna.tracking.models import Event, EventType


def faq_views(entry_ids) -> dict[int, int]:
    """Page views of these entries (the site's FAQ view sets props {"faq": pk}), in one query."""
    if not entry_ids:
        return {}
    rows = (
        Event.objects.filter(type=EventType.PAGE_VIEW, props__faq__in=list(entry_ids))
        .values("props__faq")
        .annotate(views=Count("id"))
        .order_by()
    )
    return {int(row["props__faq"]): row["views"] for row in rows}


def _snapshot(form) -> dict:
    return {name: str(form.initial.get(name, "")) for name in form.changed_data}


def _save_with_audit(request, form) -> object:
    """Save the form and its audit entry in one transaction."""
    creating = form.instance.pk is None
    before = _snapshot(form)
    with transaction.atomic():
        saved = form.save()
        if creating:
            record_audit(request.user, AuditAction.CREATE, saved)
        else:
            after = {name: str(form.cleaned_data.get(name, "")) for name in form.changed_data}
            record_audit(
                request.user, AuditAction.UPDATE, saved, changes=changed_fields(before, after)
            )
    return saved


def _delete_with_audit(request, item) -> None:
    with transaction.atomic():
        record_audit(request.user, AuditAction.DELETE, item)
        item.delete()


# --- FAQ entries --------------------------------------------------------------------------------


@staff_required
def faq_list(request):
    entries = list(FaqEntry.objects.select_related("category"))
    views = faq_views([entry.pk for entry in entries])
    for entry in entries:
        entry.views = views.get(entry.pk, 0)
    return render(request, "content/console/faq_list.html", {"entries": entries})


@staff_required
def faq_create(request):
    return _faq_form(request, FaqEntry())


@staff_required
def faq_edit(request, pk):
    return _faq_form(request, get_object_or_404(FaqEntry, pk=pk))


def _faq_form(request, entry: FaqEntry):
    form = FaqEntryForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        saved = _save_with_audit(request, form)
        messages.success(request, _("The question “%(name)s” was saved.") % {"name": saved})
        return redirect("content_console:faq_list")
    context = {"form": form, "entry": entry if entry.pk else None}
    return render(request, "content/console/faq_form.html", context)


@staff_required
def faq_delete(request, pk):
    entry = get_object_or_404(FaqEntry, pk=pk)
    if request.method == "POST":
        _delete_with_audit(request, entry)
        messages.success(request, _("The question “%(name)s” was deleted.") % {"name": entry})
        return redirect("content_console:faq_list")
    return render(request, "content/console/faq_delete.html", {"entry": entry})


# --- Categories ---------------------------------------------------------------------------------


@staff_required
def category_list(request):
    categories = Category.objects.annotate(
        entry_count=Count("faq_entries", distinct=True), page_count=Count("pages", distinct=True)
    )
    return render(request, "content/console/category_list.html", {"categories": categories})


@staff_required
def category_create(request):
    kind = request.GET.get("kind", Category.Kind.FAQ)
    if kind not in Category.Kind.values:
        kind = Category.Kind.FAQ
    return _category_form(request, Category(kind=kind))


@staff_required
def category_edit(request, pk):
    return _category_form(request, get_object_or_404(Category, pk=pk))


def _category_form(request, category: Category):
    form = CategoryForm(request.POST or None, instance=category)
    if request.method == "POST" and form.is_valid():
        saved = _save_with_audit(request, form)
        messages.success(request, _("The category “%(name)s” was saved.") % {"name": saved})
        return redirect("content_console:category_list")
    context = {"form": form, "category": category if category.pk else None}
    return render(request, "content/console/category_form.html", context)


@staff_required
def category_delete(request, pk):
    category = get_object_or_404(
        Category.objects.annotate(
            entry_count=Count("faq_entries", distinct=True),
            page_count=Count("pages", distinct=True),
        ),
        pk=pk,
    )
    if request.method == "POST":
        _delete_with_audit(request, category)
        messages.success(request, _("The category “%(name)s” was deleted.") % {"name": category})
        return redirect("content_console:category_list")
    return render(request, "content/console/category_delete.html", {"category": category})


# --- Announcements ------------------------------------------------------------------------------


@staff_required
def announcement_list(request):
    announcements = Announcement.objects.annotate(
        seen_count=Count("seen"),
        dismissed_count=Count("seen", filter=Q(seen__dismissed_at__isnull=False)),
    ).order_by("-created_at", "-id")
    return render(
        request, "content/console/announcement_list.html", {"announcements": announcements}
    )


@staff_required
def announcement_create(request):
    return _announcement_form(request, Announcement())


@staff_required
def announcement_edit(request, pk):
    return _announcement_form(request, get_object_or_404(Announcement, pk=pk))


def _announcement_form(request, announcement: Announcement):
    form = AnnouncementForm(request.POST or None, instance=announcement)
    if request.method == "POST" and form.is_valid():
        saved = _save_with_audit(request, form)
        messages.success(request, _("The announcement “%(name)s” was saved.") % {"name": saved})
        return redirect("content_console:announcement_list")
    context = {"form": form, "announcement": announcement if announcement.pk else None}
    return render(request, "content/console/announcement_form.html", context)


@staff_required
def announcement_delete(request, pk):
    announcement = get_object_or_404(Announcement, pk=pk)
    if request.method == "POST":
        _delete_with_audit(request, announcement)
        messages.success(
            request, _("The announcement “%(name)s” was deleted.") % {"name": announcement}
        )
        return redirect("content_console:announcement_list")
    return render(
        request, "content/console/announcement_delete.html", {"announcement": announcement}
    )
