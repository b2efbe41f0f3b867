"""Duplicates and merge screens: likely duplicates, merge two contacts field by field, undo."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kizuna.core.access import staff_required
from kizuna.crm import merging
from kizuna.crm.models import Contact, ContactMerge


@staff_required
def duplicate_list(request):
    groups = merging.find_duplicate_groups()
    ids = {pk for group in groups for pk in group["ids"]}
    contacts = Contact.objects.select_related("company").in_bulk(ids)
    for group in groups:
        group["contacts"] = [contacts[pk] for pk in group["ids"] if pk in contacts]
    return render(request, "crm/console/duplicate_list.html", {"groups": groups})


@staff_required
def contact_merge(request, pk, other_pk):
    survivor = get_object_or_404(Contact, pk=pk)
    other = get_object_or_404(Contact, pk=other_pk)
    rows = merging.field_choices(survivor, other)
    if request.method == "POST":
        chosen = {
            row["key"]: request.POST.get(f"keep_{row['key']}", row["default"]) for row in rows
        }
        try:
            merging.merge_contacts(survivor, other, chosen, by=request.user)
        except merging.MergeError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("The contacts were merged. You can undo it on this page."))
            return redirect("crm:contact_detail", survivor.pk)
    context = {"survivor": survivor, "other": other, "rows": rows}
    return render(request, "crm/console/merge_confirm.html", context)


@staff_required
@require_POST
def merge_undo(request, pk):
    merge = get_object_or_404(ContactMerge, pk=pk)
    try:
        restored, kept = merging.undo_merge(merge, by=request.user)
    except merging.MergeError as error:
        messages.error(request, str(error))
        return redirect("crm:contact_detail", merge.survivor_id)
    if kept:
        messages.warning(request, _("Undone. Fields changed after the merge were kept: %(fields)s")
                         % {"fields": ", ".join(kept)})  # fmt: skip
    else:
        messages.success(request, _("The merge was undone."))
    return redirect("crm:contact_detail", restored.pk)
