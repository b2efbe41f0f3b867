"""CSV import screens: upload, map the columns (with a preview), run, follow the progress."""

import csv

from django import forms
from django.db import transaction
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kizuna.core.access import staff_required
from kizuna.crm import exporting, fields, importing, tasks
from kizuna.crm.models import ImportJob, ImportKey, ImportMode, JobState

MAX_UPLOAD_MB = 200


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8 (with or without BOM) or Shift_JIS as saved by Excel; the first line names the "
            "columns. At most %(limit)d MB."
        )
        % {"limit": MAX_UPLOAD_MB},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(
                _("The file is larger than %(limit)d MB.") % {"limit": MAX_UPLOAD_MB}
            )
        return upload


class MappingForm(forms.Form):
    """One select per file column, plus mode, key and dry run."""

    mode = forms.ChoiceField(label=gettext_lazy("Mode"), choices=ImportMode.choices)
    key = forms.ChoiceField(
        label=gettext_lazy("Match existing contacts by"), choices=ImportKey.choices
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: check every row, save nothing"), required=False
    )

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("— do not import —"))] + [
            (column.key, str(column.label))
            for column in fields.contact_columns()
            if column.importable
        ]
        for index, header in enumerate(job.headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header or _("(column %(number)d)") % {"number": index + 1},
                choices=choices,
                required=False,
                initial=job.mapping.get(str(index), ""),
            )
        self.initial.update({"mode": job.mode, "key": job.key, "dry_run": job.dry_run})
        self.column_count = len(job.headers)

    def clean(self):
        cleaned = super().clean()
        chosen = [cleaned.get(f"column_{i}") for i in range(self.column_count)]
        used = [key for key in chosen if key]
        for key in {key for key in used if used.count(key) > 1}:
            self.add_error(
                None, _("Two file columns are mapped to the same field: %(field)s") % {"field": key}
            )
        if cleaned.get("key") and cleaned["key"] not in used:
            self.add_error("key", _("Map a file column to this field, or choose another."))
        cleaned["mapping"] = {str(i): key or "" for i, key in enumerate(chosen)}
        return cleaned

    def mapping_fields(self):
        return [self[f"column_{i}"] for i in range(self.column_count)]


@staff_required
def import_list(request):
    jobs = ImportJob.objects.select_related("created_by")[:50]
    return render(request, "crm/console/import_list.html", {"jobs": jobs})


@staff_required
def import_start(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = importing.start_import_job(form.cleaned_data["file"], by=request.user)
        except importing.ImportFileError as error:
            form.add_error("file", str(error))
        else:
            return redirect("crm:import_mapping", job.pk)
    return render(request, "crm/console/import_start.html", {"form": form})


@staff_required
def import_mapping(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    if job.state != JobState.DRAFT:
        return redirect("crm:import_detail", job.pk)
    form = MappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        job.mapping = form.cleaned_data["mapping"]
        job.mode, job.key = form.cleaned_data["mode"], form.cleaned_data["key"]
        job.dry_run = form.cleaned_data["dry_run"]
        if "preview" not in request.POST:
            if importing.queue_import_job(job):
                importing.run_import_job(job.pk)
            else:
                transaction.on_commit(lambda: tasks.run_import.enqueue(job.pk))
            return redirect("crm:import_detail", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(mapping=job.mapping, mode=job.mode, key=job.key)
    preview = importing.preview_rows(job)
    return render(
        request, "crm/console/import_mapping.html", {"job": job, "form": form, "preview": preview}
    )


@staff_required
def import_detail(request, pk):
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    template = "crm/console/import_detail.html"
    if request.htmx:
        template += "#progress"
    context = {
        "job": job,
        "rejections": job.rejections.all()[:20],
        "running": job.state in (JobState.QUEUED, JobState.RUNNING),
    }
    return render(request, template, context)


@staff_required
def import_rejections(request, pk):
    """The rejected rows as CSV (UTF-8 with BOM for Excel): fix them and import the file again."""
    job = get_object_or_404(ImportJob, pk=pk)

    class Echo:
        def write(self, value):
            return value

    def lines():
        yield "\ufeff"
        writer = csv.writer(Echo())
        yield writer.writerow([*job.headers, _("line"), _("reason")])
        for rejection in job.rejections.iterator(chunk_size=2000):
            cells = list(rejection.cells)[: len(job.headers)]
            cells += [""] * (len(job.headers) - len(cells))
            yield writer.writerow(
                [*map(exporting.neutralise_cell, cells), rejection.line, rejection.reason]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-rows-{job.pk}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
