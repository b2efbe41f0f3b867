"""Bulk update screens: choose the action for the selected contacts, confirm, follow the job."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kizuna.accounts.models import User
from kizuna.core.access import staff_required
from kizuna.crm import bulk, tasks
from kizuna.crm.filtering import FilterError
from kizuna.crm.models import BulkAction, BulkJob, JobState
from kizuna.crm.selection import contacts_for_selection, selection_from_request_data


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        label=gettext_lazy("Action"), choices=BulkAction.choices, widget=forms.RadioSelect
    )
    field = forms.ChoiceField(label=gettext_lazy("Field"), required=False)
    value = forms.CharField(
        label=gettext_lazy("New value"),
        required=False,
        help_text=gettext_lazy(
            "As in a CSV cell: 2026-11-22, はい / いいえ, a choice, a;b for several."
        ),
    )
    tags = forms.CharField(
        label=gettext_lazy("Tags"),
        required=False,
        help_text=gettext_lazy("Separate several tags with commas."),
    )
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Owner"),
        required=False,
        queryset=User.objects.filter(is_staff=True, is_active=True),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("Yes, delete these contacts and everything recorded on them."),
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", "---------")] + [
            (c.key, str(c.label)) for c in bulk.settable_columns()
        ]

    def params(self) -> dict:
        data = self.cleaned_data
        return {
            "field": data.get("field"),
            "value": data.get("value"),
            "tags": [
                t for t in (data.get("tags") or "").replace("、", ",").split(",") if t.strip()
            ],
            "owner": data["owner"].pk if data.get("owner") else None,
        }


SELECTION_KEYS = ("ids", "select_all", "q", "filter")


@staff_required
def bulk_start(request):
    data = request.POST if request.method == "POST" else request.GET
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
        action = form.cleaned_data["action"]
        if action == BulkAction.DELETE and not form.cleaned_data["confirm"]:
            form.add_error(
                "confirm",
                _("Tick the box to confirm deleting %(count)d contacts.") % {"count": count},
            )
        else:
            try:
                job = bulk.create_bulk_job(action, form.params(), selection, by=request.user)
            except (bulk.BulkError, ValidationError) as error:
                form.add_error(None, " ".join(getattr(error, "messages", [str(error)])))
            else:
                if bulk.runs_inline(job):
                    bulk.run_bulk_job(job.pk)
                else:
                    transaction.on_commit(lambda: tasks.run_bulk.enqueue(job.pk))
                return redirect("crm:bulk_detail", job.pk)
    hidden = [(key, value) for key in SELECTION_KEYS for value in data.getlist(key)]
    return render(
        request, "crm/console/bulk_form.html", {"form": form, "count": count, "hidden": hidden}
    )


@staff_required
def bulk_detail(request, pk):
    job = get_object_or_404(BulkJob.objects.select_related("created_by"), pk=pk)
    template = "crm/console/bulk_detail.html" + ("#progress" if request.htmx else "")
    context = {
        "job": job,
        "description": bulk.describe(job),
        "running": job.state in (JobState.QUEUED, JobState.RUNNING),
    }
    return render(request, template, context)
