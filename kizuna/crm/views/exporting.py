"""Export screen: the contacts list's current view, selection or filter as CSV."""

from django import forms
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy

from kizuna.core.access import staff_required
from kizuna.crm import exporting, fields
from kizuna.crm.filtering import FilterError
from kizuna.crm.selection import contacts_for_selection, selection_from_request_data

ENCODING_CHOICES = [
    ("utf-8-sig", gettext_lazy("UTF-8 with BOM (opens correctly in Excel)")),
    ("utf-8", gettext_lazy("UTF-8")),
    ("cp932", gettext_lazy("Shift_JIS (CP932) - characters it cannot hold become “?”")),
]


class ExportForm(forms.Form):
    columns = forms.MultipleChoiceField(
        label=gettext_lazy("Columns"), widget=forms.CheckboxSelectMultiple
    )
    encoding = forms.ChoiceField(label=gettext_lazy("Encoding"), choices=ENCODING_CHOICES)
    labels = forms.BooleanField(
        label=gettext_lazy("Use field labels as the header row (instead of keys)"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["columns"].choices = [(c.key, str(c.label)) for c in fields.contact_columns()]


@staff_required
def contact_export(request):
    data = request.POST if request.method == "POST" else request.GET
    try:
        selection = selection_from_request_data(data)
        contacts = contacts_for_selection(selection)
    except FilterError as error:
        return render(request, "crm/console/export_form.html", {"error": str(error)}, status=400)
    if "encoding" not in data:  # arriving from the list: choose columns and encoding
        view_columns = [c for c in data.getlist("columns") if c] or list(exporting.DEFAULT_COLUMNS)
        form = ExportForm(initial={"columns": view_columns, "encoding": "utf-8-sig"})
        context = {"form": form, "count": contacts[:10001].count(), "selection_data": data}
        return render(request, "crm/console/export_form.html", context)
    form = ExportForm(data)
    if not form.is_valid():
        context = {"form": form, "count": contacts[:10001].count(), "selection_data": data}
        return render(request, "crm/console/export_form.html", context, status=400)
    columns = exporting.resolve_columns(form.cleaned_data["columns"])
    exporting.audit_export(request.user, contacts, columns, selection=selection)
    chunks = exporting.csv_chunks(
        contacts,
        columns,
        encoding=form.cleaned_data["encoding"],
        labels=form.cleaned_data["labels"],
    )
    charset = "shift_jis" if form.cleaned_data["encoding"] == "cp932" else "utf-8"
    response = StreamingHttpResponse(chunks, content_type=f"text/csv; charset={charset}")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="contacts-{stamp}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
