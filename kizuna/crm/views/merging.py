"""Duplicates and merge screens: likely duplicates, merge two contacts field by field, undo."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kizuna.core.access import staff_required
from kizuna.crm import merging
from kizuna.crm.models import Contact, ContactMerge

CONTACTS = Contact.objects.select_related("company", "owner")


@staff_required
def duplicate_list(request):
    groups = merging.find_duplicate_groups()
    contacts = CONTACTS.in_bulk({pk for group in groups for pk in group["ids"]})
    for group in groups:
        group["contacts"] = [contacts[pk] for pk in group["ids"] if pk in contacts]
    return render(request, "crm/console/duplicate_list.html", {"groups": groups})


@staff_required
def contact_merge(request, pk, other_pk=None):
    """With one id: choose the contact to merge into it. With two: the side-by-side screen."""
    survivor = get_object_or_404(CONTACTS, pk=pk)
    if other_pk is None:
        return _choose_other(request, survivor)
    other = get_object_or_404(CONTACTS, pk=other_pk)
    rows = merging.field_choices(survivor, other)
    problem = merging.merge_problem(survivor, other)
    if request.method == "POST" and not problem:
        chosen = {}
        for row in rows:
            value = request.POST.get(f"keep_{row['key']}")
            chosen[row["key"]] = value if value in ("survivor", "other") else row["default"]
        try:
            merging.merge_contacts(survivor, other, chosen, by=request.user)
        except merging.MergeError as error:
            problem = str(error)
        else:
            messages.success(request, _("The contacts were merged. You can undo it on this page."))
            return redirect("crm:contact_detail", survivor.pk)
    context = {"survivor": survivor, "other": other, "rows": rows, "problem": problem}
    return render(request, "crm/console/merge_confirm.html", context)


def _choose_other(request, survivor):
    text = request.GET.get("other", "").strip()
    error = ""
    if text:
        other = merging.find_contact(text)
        if other is None:
            error = _("No contact has this id or email address.")
        elif other.pk == survivor.pk:
            error = _("A contact cannot be merged with itself.")
        else:
            return redirect("crm:contact_merge", survivor.pk, other.pk)
    context = {"survivor": survivor, "text": text, "error": error}
    return render(request, "crm/console/merge_choose.html", context)


@staff_required
@require_http_methods(["GET", "POST"])
def merge_undo(request, pk):
    """GET: what the undo will do, and a button to confirm it. POST: undo."""
    merge = get_object_or_404(ContactMerge.objects.select_related("survivor", "merged_by"), pk=pk)
    if request.method == "GET":
        context = {"merge": merge, **merging.undo_preview(merge)}
        return render(request, "crm/console/merge_undo.html", context)
    try:
        restored, kept = merging.undo_merge(merge, by=request.user)
    except merging.MergeError as error:
        messages.error(request, str(error))
        return redirect("crm:contact_detail", merge.survivor_id)
    if kept:
        messages.warning(
            request,
            _("The merge was undone. Fields changed after the merge were kept as they are: "
              "%(fields)s") % {"fields": ", ".join(merging.field_labels(kept))},
        )  # fmt: skip
    else:
        messages.success(request, _("The merge was undone."))
    return redirect("crm:contact_detail", restored.pk)
