"""Console screens for records: a contact's records of a type (add / edit / delete) and the list
of every record of one type."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from kizuna.core.access import staff_required
from kizuna.crm import fields, records
from kizuna.crm.forms import RecordForm, detail_groups
from kizuna.crm.models import Contact, FieldDefinition, Record, RecordType

PAGE_SIZE = 50


def active_record_type(key: str) -> RecordType:
    return get_object_or_404(RecordType, key=key, archived_at__isnull=True)


@staff_required
def record_list(request, record_type):
    """Every record of one type, newest first, keyset-paged on (occurred_at, id)."""
    record_type = get_object_or_404(RecordType, key=record_type)
    definitions = list(FieldDefinition.objects.for_record_type(record_type).active())
    queryset = Record.objects.filter(record_type=record_type).select_related("contact", "company")
    after_id = request.GET.get("after", "")
    if after_id.isdigit():
        last = Record.objects.filter(record_type=record_type, pk=int(after_id)).first()
        if last is not None:
            queryset = queryset.filter(occurred_at__lte=last.occurred_at).exclude(
                occurred_at=last.occurred_at, id__gte=last.pk
            )
    page = list(queryset.order_by("-occurred_at", "-id")[: PAGE_SIZE + 1])
    next_after = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    shown = definitions[:6]
    rows = [
        (record, [fields.display_value(d, (record.custom or {}).get(d.key)) for d in shown])
        for record in page[:PAGE_SIZE]
    ]
    context = {
        "record_type": record_type,
        "headers": [d.label for d in shown],
        "rows": rows,
        "next_after": next_after,
    }
    return render(request, "crm/console/record_list.html", context)


@staff_required
def record_detail(request, pk):
    record = get_object_or_404(
        Record.objects.select_related("record_type", "contact", "company", "created_by"), pk=pk
    )
    definitions = list(FieldDefinition.objects.for_record_type(record.record_type).active())
    context = {"record": record, "groups": detail_groups(RecordForm, record, definitions)}
    return render(request, "crm/console/record_detail.html", context)


@staff_required
def record_create(request, pk, record_type):
    contact = get_object_or_404(Contact.objects.select_related("company"), pk=pk)
    record_type = active_record_type(record_type)
    record = Record(record_type=record_type, contact=contact, company=contact.company)
    form = RecordForm(
        request.POST or None, request.FILES or None, instance=record, record_type=record_type
    )
    if request.method == "POST" and form.is_valid():
        records.create_record(form.instance, by=request.user, uploads=form.uploads)
        messages.success(request, _("The record was added."))
        return redirect(reverse("crm:contact_detail", args=[contact.pk]) + "#records")
    context = {"form": form, "record": None, "contact": contact, "record_type": record_type}
    return render(request, "crm/console/record_form.html", context)


@staff_required
def record_edit(request, pk):
    record = get_object_or_404(Record.objects.select_related("record_type", "contact"), pk=pk)
    form = RecordForm(
        request.POST or None,
        request.FILES or None,
        instance=record,
        record_type=record.record_type,
    )
    if request.method == "POST" and form.is_valid():
        records.update_record(form.instance, by=request.user, uploads=form.uploads)
        messages.success(request, _("The record was saved."))
        return redirect("crm:record_detail", record.pk)
    context = {
        "form": form,
        "record": record,
        "contact": record.contact,
        "record_type": record.record_type,
    }
    return render(request, "crm/console/record_form.html", context)


@staff_required
def record_delete(request, pk):
    record = get_object_or_404(Record.objects.select_related("record_type", "contact"), pk=pk)
    if request.method == "POST":
        contact_id = record.contact_id
        records.delete_record(record, by=request.user)
        messages.success(request, _("The record was deleted."))
        return redirect(reverse("crm:contact_detail", args=[contact_id]) + "#records")
    return render(request, "crm/console/record_delete.html", {"record": record})
