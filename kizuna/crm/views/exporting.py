"""Export screen: the contacts list's selection, or its whole result, as a CSV download."""

from urllib.parse import quote, urlsplit

from django import forms
from django.db.models import Q
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kizuna.core.access import staff_required
from kizuna.crm import exporting, fields, listing
from kizuna.crm.filtering import FilterError
from kizuna.crm.models import FieldTarget, SavedView
from kizuna.crm.selection import contacts_for_selection, selection_from_request_data

ENCODING_CHOICES = [
    ("utf-8-sig", gettext_lazy("UTF-8 with BOM — opens correctly in Excel (recommended)")),
    ("utf-8", gettext_lazy("UTF-8 without BOM — for other programs and systems")),
    (
        "cp932",
        gettext_lazy(
            "Shift_JIS (CP932) — for older software. Characters it cannot hold (emoji, some "
            "name characters) are replaced by the nearest one, or by “?”."
        ),
    ),
]
CHARSETS = {"utf-8-sig": "utf-8", "utf-8": "utf-8", "cp932": "Windows-31J"}
SELECTION_KEYS = ("ids", "select_all", "q", "filter")


class ExportForm(forms.Form):
    columns = forms.MultipleChoiceField(
        label=gettext_lazy("Columns"), widget=forms.CheckboxSelectMultiple
    )
    encoding = forms.ChoiceField(
        label=gettext_lazy("Encoding"), choices=ENCODING_CHOICES, widget=forms.RadioSelect
    )
    labels = forms.BooleanField(
        label=gettext_lazy("Header row: field labels instead of keys"),
        help_text=gettext_lazy(
            "Keys (email, family_name…) are the same in every language; the import reads both."
        ),
        required=False,
    )

    def __init__(self, *args, columns, **kwargs):
        super().__init__(*args, **kwargs)
        # The chosen columns first, in their order (the CSV follows the order on the page).
        chosen = {key: index for index, key in enumerate(self.initial.get("columns", []))}
        ordered = sorted(columns, key=lambda c: chosen.get(c.key, len(chosen)))
        self.fields["columns"].choices = [(c.key, f"{c.label} ({c.key})") for c in ordered]


@staff_required
def contact_export(request):
    data = request.POST if request.method == "POST" else request.GET
    everything = not data.getlist("ids") and not data.get("select_all")
    try:
        # Nothing ticked: the list's whole result (its search and filter) is exported.
        selection = selection_from_request_data(_with_select_all(data) if everything else data)
        contacts = contacts_for_selection(selection)
    except FilterError as error:
        return render(request, "crm/console/export_form.html", {"error": str(error)}, status=400)
    all_columns = fields.contact_columns()
    downloading = request.method == "POST" and "encoding" in data
    form = ExportForm(
        data if downloading else None,
        columns=all_columns,
        initial={"columns": _view_columns(request, data, all_columns), "encoding": "utf-8-sig"},
    )
    if not downloading or not form.is_valid():
        context = {
            "form": form,
            "count": contacts[: listing.COUNT_CAP + 1].count(),
            "count_cap": listing.COUNT_CAP,
            "everything": everything,
            "hidden": [(key, value) for key in SELECTION_KEYS for value in data.getlist(key)],
        }
        status = 400 if form.is_bound else 200
        return render(request, "crm/console/export_form.html", context, status=status)
    columns = exporting.resolve_columns(form.cleaned_data["columns"])
    encoding = form.cleaned_data["encoding"]
    exporting.audit_export(
        request.user, contacts, columns, selection=selection, encoding=encoding, via="console"
    )
    export = exporting.CsvExport(
        contacts, columns, encoding=encoding, labels=form.cleaned_data["labels"]
    )
    response = StreamingHttpResponse(export, content_type=f"text/csv; charset={CHARSETS[encoding]}")
    response["Content-Disposition"] = attachment_header(_("contacts"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"  # personal data: no copy in any cache
    return response


def _with_select_all(data) -> QueryDict:
    data = data.copy()
    data["select_all"] = "1"
    return data


def _view_columns(request, data, all_columns) -> list[str]:
    """The columns of the list the user came from: `columns` / `column` / `view` in the request,
    else in the list's address (the Referer). Unknown keys are left out."""
    params = data
    if not any(key in data for key in ("columns", "column", "view")):
        referer = urlsplit(request.headers.get("Referer", ""))
        if referer.path.endswith("/contacts/") and referer.netloc == request.get_host():
            params = QueryDict(referer.query)
    saved_view = None
    if view_id := params.get("view", "").strip():
        saved_view = (
            SavedView.objects.filter(target=FieldTarget.CONTACT, pk=view_id)
            .filter(Q(owner=request.user) | Q(shared=True))
            .first()
            if view_id.isdigit()
            else None
        )
    if not any(key in params for key in ("columns", "column")) and saved_view is None:
        return list(exporting.DEFAULT_COLUMNS)
    state = listing.read_state(params, all_columns, saved_view)
    # The list always shows the name first; the export has it as its two columns.
    return ["family_name", "given_name", *(column.key for column in state.columns)]


def attachment_header(name: str, ascii_name: str = "contacts") -> str:
    """Content-Disposition for `name-YYYYmmdd-HHMM.csv`: the Japanese name for browsers that read
    RFC 5987 (all current ones), an ASCII one for the rest."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return (
        f'attachment; filename="{ascii_name}-{stamp}.csv"; '
        f"filename*=UTF-8''{quote(f'{name}-{stamp}.csv')}"
    )
