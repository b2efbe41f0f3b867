"""Console screens for contacts: the spreadsheet-like list, detail, create / edit / delete, tags,
notes and saved views."""

from collections import defaultdict

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kizuna.core.access import staff_required
from kizuna.crm import contacts, fields, listing
from kizuna.crm.contact_panels import contact_panel_urls
from kizuna.crm.forms import ContactForm, NoteForm, SavedViewForm, TagsForm, detail_groups
from kizuna.crm.models import (
    Contact,
    FieldDefinition,
    FieldTarget,
    Note,
    Record,
    RecordType,
    SavedView,
    Tag,
)
from kizuna.crm.selection_actions import selection_actions
from kizuna.crm.timeline import contact_timeline


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def visible_saved_views(user):
    return SavedView.objects.filter(target=FieldTarget.CONTACT).filter(
        Q(owner=user) | Q(shared=True)
    )


@staff_required
def contact_list(request):
    columns = fields.contact_columns()
    saved_view = None
    view_id = request.GET.get("view", "").strip()
    if view_id.isdigit():
        saved_view = visible_saved_views(request.user).filter(pk=view_id).first()
    state = listing.read_state(request.GET, columns, saved_view)
    queryset = Contact.objects.select_related("owner", "company")
    if any(column.key == "tags" for column in state.columns):
        queryset = queryset.prefetch_related("tags")
    queryset = listing.filtered_contacts(queryset, state)
    page = listing.keyset_page(queryset, state, columns)
    rows = [(contact, [listing.cell(contact, c) for c in state.columns]) for contact in page.rows]
    context = {
        "state": state,
        "page": page,
        "rows": rows,
        "all_columns": columns,
        "chosen_keys": [column.key for column in state.columns],
        "saved_views": visible_saved_views(request.user).select_related("owner"),
        "saved_view_form": SavedViewForm(),
        "bulk_url": reverse("crm:bulk_start"),
        "export_url": reverse("crm:contact_export"),
        "selection_actions": selection_actions(),
        "import_url": reverse("crm:import_start"),
        "name_sort": listing.NAME_SORT,
        "name_sort_url": state.sort_url(listing.NAME_SORT),
        "headers": state.headers(),
        "first_url": state.url(),
        "previous_url": state.url(before=page.previous_cursor),
        "next_url": state.url(after=page.next_cursor),
    }
    template = "crm/console/contact_list.html"
    if request.htmx and request.htmx.target == "contact-results":
        template += "#results"
    return render(request, template, context)


@staff_required
def contact_detail(request, pk):
    contact = get_object_or_404(Contact.objects.select_related("owner", "company", "user"), pk=pk)
    definitions = list(FieldDefinition.objects.for_contacts().active())
    records = list(
        Record.objects.filter(contact=contact).select_related("record_type", "company")[:500]
    )
    context = {
        "contact": contact,
        "groups": detail_groups(ContactForm, contact, definitions),
        "tags": list(contact.tags.all()),
        "tag_form": TagsForm(),
        "record_groups": record_groups(records),
        "record_types": list(RecordType.objects.filter(archived_at__isnull=True)),
        "notes": list(contact.notes.select_related("author")),
        "note_form": NoteForm(),
        "consents": list(contact.consents.select_related("recorded_by")),
        "timeline": contact_timeline(contact),
        "side_panels": contact_panel_urls(contact.pk),
    }
    return render(request, "crm/console/contact_detail.html", context)


def record_groups(records) -> list[tuple]:
    """[(record type, [(record, [(label, text)])])] with each record's first fields shown."""
    by_type = defaultdict(list)
    for record in records:
        by_type[record.record_type].append(record)
    definitions = defaultdict(list)
    active = FieldDefinition.objects.filter(
        target=FieldTarget.RECORD, record_type__in=list(by_type), archived_at__isnull=True
    )
    for definition in active:
        definitions[definition.record_type_id].append(definition)
    groups = []
    for record_type, type_records in by_type.items():
        shown = definitions[record_type.pk][:4]
        rows = [
            (
                record,
                [
                    (d.label, fields.display_value(d, (record.custom or {}).get(d.key)))
                    for d in shown
                ],
            )
            for record in type_records
        ]
        groups.append((record_type, [d.label for d in shown], rows))
    return groups


@staff_required
def contact_create(request):
    form = ContactForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = contacts.create_contact(
                form.instance,
                by=request.user,
                uploads=form.uploads,
                opt_in=form.cleaned_data["email_opt_in"],
                ip=client_ip(request),
            )
        except contacts.ContactError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("The contact was added."))
            return redirect("crm:contact_detail", contact.pk)
    return render(request, "crm/console/contact_form.html", {"form": form, "contact": None})


@staff_required
def contact_edit(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    form = ContactForm(request.POST or None, request.FILES or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            contacts.update_contact(
                form.instance,
                by=request.user,
                uploads=form.uploads,
                opt_in=form.cleaned_data["email_opt_in"],
                ip=client_ip(request),
            )
        except contacts.ContactError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("The contact was saved."))
            return redirect("crm:contact_detail", contact.pk)
    return render(request, "crm/console/contact_form.html", {"form": form, "contact": contact})


@staff_required
def contact_delete(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        contacts.delete_contact(contact, by=request.user)
        messages.success(request, _("The contact was deleted."))
        return redirect("crm:contact_list")
    return render(request, "crm/console/contact_delete.html", {"contact": contact})


# --- Tags ---------------------------------------------------------------------------------------


@staff_required
@require_POST
def contact_tag_add(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    form = TagsForm(request.POST)
    if form.is_valid():
        contacts.add_tags(contact, form.cleaned_data["names"], by=request.user)
        messages.success(request, _("Tags were added."))
    else:
        for error in form.errors.get("names", []):
            messages.error(request, error)
    return redirect(reverse("crm:contact_detail", args=[contact.pk]) + "#tags")


@staff_required
@require_POST
def contact_tag_remove(request, pk, tag_id):
    contact = get_object_or_404(Contact, pk=pk)
    tag = get_object_or_404(Tag, pk=tag_id)
    contacts.remove_tag(contact, tag, by=request.user)
    messages.success(request, _("The tag “%(tag)s” was removed.") % {"tag": tag.name})
    return redirect(reverse("crm:contact_detail", args=[contact.pk]) + "#tags")


# --- Notes --------------------------------------------------------------------------------------


@staff_required
@require_POST
def note_create(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    try:
        contacts.add_note(contact, request.POST.get("body", ""), by=request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, _("The note was added."))
    return redirect(reverse("crm:contact_detail", args=[contact.pk]) + "#notes")


def own_note(request, pk) -> Note:
    note = get_object_or_404(Note.objects.select_related("contact"), pk=pk)
    if not contacts.can_change_note(request.user, note):
        raise PermissionDenied
    return note


@staff_required
def note_edit(request, pk):
    note = own_note(request, pk)
    form = NoteForm(request.POST or None, instance=Note(body=note.body))
    if request.method == "POST" and form.is_valid():
        try:
            contacts.update_note(note, form.cleaned_data["body"], by=request.user)
        except ValidationError as error:
            form.add_error("body", error)
        else:
            messages.success(request, _("The note was saved."))
            return redirect(reverse("crm:contact_detail", args=[note.contact_id]) + "#notes")
    return render(request, "crm/console/note_form.html", {"form": form, "note": note})


@staff_required
def note_delete(request, pk):
    note = own_note(request, pk)
    if request.method == "POST":
        contacts.delete_note(note, by=request.user)
        messages.success(request, _("The note was deleted."))
        return redirect(reverse("crm:contact_detail", args=[note.contact_id]) + "#notes")
    return render(request, "crm/console/note_delete.html", {"note": note})


# --- Saved views --------------------------------------------------------------------------------


@staff_required
@require_POST
def savedview_create(request):
    """Save the list as it is now (columns, sort, search, filter) under a name."""
    form = SavedViewForm(request.POST)
    state = listing.read_state(request.POST, fields.contact_columns())
    if state.errors:
        messages.error(request, state.errors[0])
        return redirect(reverse("crm:contact_list") + state.url())
    if not form.is_valid():
        messages.error(request, _("Give the view a name."))
        return redirect(reverse("crm:contact_list") + state.url())
    view = form.save(commit=False)
    view.owner = request.user
    view.target = FieldTarget.CONTACT
    view.columns = [column.key for column in state.columns]
    view.sort = state.sort
    view.query = state.query
    view.filter = state.filter or {}
    view.save()
    messages.success(request, _("The view “%(name)s” was saved.") % {"name": view.name})
    return redirect(reverse("crm:contact_list") + f"?view={view.pk}")


@staff_required
@require_POST
def savedview_delete(request, pk):
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    view.delete()
    messages.success(request, _("The view “%(name)s” was deleted.") % {"name": view.name})
    return redirect("crm:contact_list")
