"""Bulk update screens: choose the action for the selected contacts, confirm the number, follow
the job (polled with htmx while it runs in the background)."""

import json

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kizuna.accounts.models import User
from kizuna.core.access import staff_required
from kizuna.crm import bulk, tasks
from kizuna.crm.filtering import FilterError
from kizuna.crm.models import BulkAction, BulkJob, FieldType, JobState, Lifecycle
from kizuna.crm.selection import contacts_for_selection, selection_from_request_data

SELECTION_KEYS = ("ids", "select_all", "q", "filter")
# Where a refused action's message goes on the form.
ERROR_FIELD = {
    BulkAction.SET_FIELD: "value",
    BulkAction.ADD_TAGS: "tags",
    BulkAction.REMOVE_TAGS: "tags",
    BulkAction.SET_OWNER: "owner",
}
CLEAR = pgettext_lazy("bulk value", "— clear the field —")


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        label=gettext_lazy("Action"), choices=BulkAction.choices, widget=forms.RadioSelect
    )
    field = forms.ChoiceField(label=gettext_lazy("Field"), required=False)
    value = forms.Field(label=gettext_lazy("New value"), required=False)
    tags = forms.CharField(
        label=gettext_lazy("Tags"),
        required=False,
        max_length=2000,
        help_text=gettext_lazy("Separate several tags with commas. Missing tags are created."),
    )
    owner = forms.ModelChoiceField(
        label=pgettext_lazy("contact", "Owner"),
        required=False,
        queryset=User.objects.filter(is_staff=True, is_active=True).order_by("name", "email"),
        empty_label=gettext_lazy("— nobody (clear the owner) —"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = {column.key: column for column in bulk.settable_columns()}
        field = self.fields["field"]
        field.choices = [("", "---------")] + [
            (key, str(column.label)) for key, column in self.columns.items()
        ]
        # Choosing a field swaps the value input for one of the field's type.
        field.widget.attrs.update(
            {
                "hx-get": reverse("crm:bulk_start"),
                "hx-vals": json.dumps({"fragment": "value"}),
                "hx-target": "#bulk-value",
                "hx-swap": "outerHTML",
            }
        )
        chosen = self.columns.get(self.data.get("field") or self.initial.get("field") or "")
        self.fields["value"].widget = value_widget(chosen)
        if chosen is None:
            self.fields["value"].help_text = gettext_lazy(
                "As in a CSV cell: 2026-11-22, yes / no, a choice, a;b for several. Leave it "
                "empty to clear the field."
            )

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == BulkAction.SET_FIELD and not data.get("field"):
            self.add_error("field", _("Choose the field to set."))
        if action in (BulkAction.ADD_TAGS, BulkAction.REMOVE_TAGS) and not self.tag_names():
            self.add_error("tags", _("Enter one or more tags."))
        return data

    def tag_names(self) -> list[str]:
        text = (self.cleaned_data.get("tags") or "").replace("、", ",").replace("，", ",")
        return [name.strip() for name in text.split(",") if name.strip()]

    def params(self) -> dict:
        data = self.cleaned_data
        return {
            "field": data.get("field"),
            "value": data.get("value"),
            "tags": self.tag_names(),
            "owner": data["owner"].pk if data.get("owner") else None,
        }


def value_widget(column) -> forms.Widget:
    """The input for a new value of `column`; each sends text the bulk update reads as a CSV cell
    (a list of choices for a multiple choice)."""
    if column is None:
        return forms.TextInput()
    definition = column.definition
    kind = column.type
    if column.key == "lifecycle":
        return forms.Select(choices=Lifecycle.choices)
    if kind == FieldType.CHOICE and definition is not None:
        choices = [(c["value"], definition.choice_label(c["value"])) for c in definition.choices]
        return forms.Select(choices=[("", CLEAR), *choices])
    if kind == FieldType.MULTI_CHOICE and definition is not None:
        return forms.CheckboxSelectMultiple(
            choices=[(c["value"], definition.choice_label(c["value"])) for c in definition.choices]
        )
    if kind == FieldType.BOOLEAN:
        return forms.Select(choices=[("", CLEAR), ("true", _("Yes")), ("false", _("No"))])
    if kind == FieldType.DATE:
        return forms.DateInput(attrs={"type": "date"})
    if kind == FieldType.DATETIME:
        return forms.DateTimeInput(attrs={"type": "datetime-local"})
    if kind in (FieldType.NUMBER, FieldType.DECIMAL):
        return forms.TextInput(attrs={"inputmode": "decimal"})
    if kind == FieldType.TEXTAREA:
        return forms.Textarea(attrs={"rows": 3})
    if kind == FieldType.EMAIL:
        return forms.EmailInput()
    if kind == FieldType.URL:
        return forms.URLInput()
    return forms.TextInput()


@staff_required
def bulk_start(request):
    data = request.POST if request.method == "POST" else request.GET
    if request.htmx and data.get("fragment") == "value":  # the value input for the chosen field
        return render(request, "crm/console/bulk_form.html#value", {"form": BulkForm(data)})
    try:
        selection = selection_from_request_data(data)
        count = contacts_for_selection(selection).count()
    except FilterError as error:
        messages.error(request, str(error))
        return redirect("crm:contact_list")
    if not count:
        messages.error(request, _("Select at least one contact first."))
        return redirect("crm:contact_list")
    form = BulkForm(data if "action" in data else None)
    if form.is_bound and form.is_valid():
        try:
            job = bulk.prepare_bulk_job(
                form.cleaned_data["action"], form.params(), selection, by=request.user
            )
        except bulk.BulkError as error:
            form.add_error(ERROR_FIELD.get(form.cleaned_data["action"]), str(error))
        else:
            return redirect("crm:bulk_confirm", job.pk)
    hidden = [(key, value) for key in SELECTION_KEYS for value in data.getlist(key)]
    context = {"form": form, "count": count, "hidden": hidden}
    return render(request, "crm/console/bulk_form.html", context)


@staff_required
def bulk_confirm(request, pk):
    job = get_object_or_404(BulkJob, pk=pk, created_by=request.user)
    if job.state != JobState.DRAFT:
        return redirect("crm:bulk_detail", job.pk)
    error = None
    if request.method == "POST" and "cancel" in request.POST:
        bulk.cancel_bulk_job(job, by=request.user)
        messages.info(request, _("The bulk update was cancelled; nothing was changed."))
        return redirect("crm:contact_list")
    if request.method == "POST":
        try:
            expected = int(request.POST.get("expected_rows", ""))
            runs_now = bulk.confirm_bulk_job(job, by=request.user, expected_rows=expected)
        except ValueError as problem:  # BulkError, or a missing number
            error = str(problem) if isinstance(problem, bulk.BulkError) else None
        else:
            if runs_now:
                bulk.run_bulk_job(job.pk)
            else:
                transaction.on_commit(lambda: tasks.run_bulk.enqueue(job.pk))
            return redirect("crm:bulk_detail", job.pk)
    else:
        job.total_rows = bulk.count_selected(job)
    params = job.params
    context = {
        "job": job,
        "description": bulk.describe(job),
        "error": error,
        "in_background": job.total_rows > bulk.inline_limit(),
        "inline_limit": bulk.inline_limit(),
        "new_company": params.get("field") == "company"
        and params.get("value")
        and not bulk.company_exists(params["value"]),
    }
    return render(request, "crm/console/bulk_confirm.html", context, status=409 if error else 200)


def _job(pk) -> BulkJob:
    job = get_object_or_404(BulkJob.objects.select_related("created_by"), pk=pk)
    if job.state == JobState.DRAFT:
        raise Http404  # not confirmed yet: only its confirmation page exists
    return job


def _progress_context(job: BulkJob) -> dict:
    return {
        "job": job,
        "description": bulk.describe(job),
        "running": job.state in (JobState.QUEUED, JobState.RUNNING),
        "deleting": job.action == BulkAction.DELETE,
    }


@staff_required
def bulk_detail(request, pk):
    job = _job(pk)
    return render(request, "crm/console/bulk_detail.html", _progress_context(job))


@staff_required
def bulk_progress(request, pk):
    """The progress fragment that bulk_detail polls every second while the job runs."""
    job = _job(pk)
    return render(request, "crm/console/bulk_detail.html#progress", _progress_context(job))
