"""The field designer: custom fields of contacts, companies and each record type, and the record
types themselves. A change shows at once in every list, form, import and export."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kizuna.core.access import staff_required
from kizuna.crm import designing
from kizuna.crm.forms import FieldDefinitionForm, RecordTypeForm
from kizuna.crm.models import FieldDefinition, FieldTarget, RecordType


def _scope(request):
    """(target, record type) from ?target= / ?record_type=; contacts by default."""
    if key := request.GET.get("record_type") or request.POST.get("record_type"):
        return FieldTarget.RECORD, get_object_or_404(RecordType, key=key)
    target = request.GET.get("target") or request.POST.get("target") or FieldTarget.CONTACT
    if target not in (FieldTarget.CONTACT, FieldTarget.COMPANY):
        raise Http404
    return target, None


def _list_url(definition: FieldDefinition) -> str:
    if definition.record_type_id:
        return f"{reverse('crm:field_list')}?record_type={definition.record_type.key}"
    return f"{reverse('crm:field_list')}?target={definition.target}"


@staff_required
def field_list(request):
    target, record_type = _scope(request)
    definitions = FieldDefinition.objects.filter(target=target, record_type=record_type)
    archived = list(definitions.filter(archived_at__isnull=False))
    for definition in archived:
        definition.holds_data = definition.has_data()  # an archived field without data can go
    context = {
        "target": target,
        "record_type": record_type,
        "record_types": RecordType.objects.all(),
        "active": definitions.active(),
        "archived": archived,
        "targets": [(FieldTarget.CONTACT, _("Contacts")), (FieldTarget.COMPANY, _("Companies"))],
    }
    return render(request, "crm/console/field_list.html", context)


@staff_required
def field_create(request):
    target, record_type = _scope(request)
    form = FieldDefinitionForm(request.POST or None, target=target, record_type=record_type)
    if request.method == "POST" and form.is_valid():
        definition = designing.create_field(form.save(commit=False), by=request.user)
        messages.success(request, _("The field “%(label)s” was added.") % {"label": definition})
        return redirect(_list_url(definition))
    context = {"form": form, "target": target, "record_type": record_type, "definition": None}
    return render(request, "crm/console/field_form.html", context)


@staff_required
def field_edit(request, pk):
    definition = get_object_or_404(FieldDefinition.objects.select_related("record_type"), pk=pk)
    before = designing.snapshot(definition)
    form = FieldDefinitionForm(
        request.POST or None,
        instance=definition,
        target=definition.target,
        record_type=definition.record_type,
    )
    if request.method == "POST" and form.is_valid():
        designing.update_field(form.save(commit=False), before, by=request.user)
        messages.success(request, _("The field “%(label)s” was saved.") % {"label": definition})
        return redirect(_list_url(definition))
    context = {
        "form": form,
        "target": definition.target,
        "record_type": definition.record_type,
        "definition": definition,
    }
    return render(request, "crm/console/field_form.html", context)


@staff_required
@require_POST
def field_move(request, pk):
    definition = get_object_or_404(FieldDefinition.objects.select_related("record_type"), pk=pk)
    designing.move_field(
        definition, -1 if request.POST.get("direction") == "up" else 1, by=request.user
    )
    return redirect(_list_url(definition))


@staff_required
def field_remove(request, pk):
    """GET: what removing does (archive with data, delete without). POST: do the safe one."""
    definition = get_object_or_404(FieldDefinition.objects.select_related("record_type"), pk=pk)
    if request.method == "POST":
        outcome = designing.remove_field(definition, by=request.user)
        if outcome == "archived":
            message = _("“%(label)s” was archived; its data is kept and it can be restored.")
        else:
            message = _("“%(label)s” had no data and was deleted.")
        messages.success(request, message % {"label": definition})
        return redirect(_list_url(definition))
    context = {"definition": definition, "has_data": definition.has_data()}
    return render(request, "crm/console/field_remove.html", context)


@staff_required
@require_POST
def field_archive(request, pk):
    definition = get_object_or_404(FieldDefinition.objects.select_related("record_type"), pk=pk)
    designing.archive_field(definition, by=request.user)
    messages.success(
        request,
        _("“%(label)s” was archived; its data is kept and it can be restored.")
        % {"label": definition},
    )
    return redirect(_list_url(definition))


@staff_required
@require_POST
def field_delete(request, pk):
    definition = get_object_or_404(FieldDefinition.objects.select_related("record_type"), pk=pk)
    try:
        designing.delete_field(definition, by=request.user)
    except designing.DesignError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("“%(label)s” was deleted.") % {"label": definition})
    return redirect(_list_url(definition))


@staff_required
@require_POST
def field_restore(request, pk):
    definition = get_object_or_404(FieldDefinition.objects.select_related("record_type"), pk=pk)
    try:
        designing.restore_field(definition, by=request.user)
    except designing.DesignError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("“%(label)s” was restored.") % {"label": definition})
    return redirect(_list_url(definition))


@staff_required
def recordtype_list(request):
    return render(
        request, "crm/console/recordtype_list.html", {"record_types": RecordType.objects.all()}
    )


@staff_required
def recordtype_form(request, pk=None):
    record_type = get_object_or_404(RecordType, pk=pk) if pk else RecordType()
    before = {
        "key": record_type.key,
        "name_ja": record_type.name_ja,
        "name_en": record_type.name_en,
        "description": record_type.description,
    }
    form = RecordTypeForm(request.POST or None, instance=record_type)
    if request.method == "POST" and form.is_valid():
        saved = designing.save_record_type(
            form.save(commit=False), before if pk else None, by=request.user
        )
        messages.success(request, _("The record type “%(name)s” was saved.") % {"name": saved})
        return redirect("crm:recordtype_list")
    context = {"form": form, "record_type": record_type if pk else None}
    return render(request, "crm/console/recordtype_form.html", context)


@staff_required
@require_POST
def recordtype_archive(request, pk):
    record_type = get_object_or_404(RecordType, pk=pk)
    archive = request.POST.get("archive") != "0"
    designing.set_record_type_archived(record_type, archive, by=request.user)
    if archive:
        messages.success(
            request, _("“%(name)s” was archived; its records are kept.") % {"name": record_type}
        )
    else:
        messages.success(request, _("“%(name)s” was restored.") % {"name": record_type})
    return redirect("crm:recordtype_list")
