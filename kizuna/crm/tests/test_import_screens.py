"""Importing from the console: upload, map with a preview, run, follow, download rejected rows."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kizuna.crm.models import Contact, ImportJob, JobState


def upload(client, text: str, encoding="utf-8"):
    file = SimpleUploadedFile("顧客.csv", text.encode(encoding), content_type="text/csv")
    return client.post("/console/imports/new/", {"file": file})


def test_upload_map_preview_and_import(staff_client):
    response = upload(
        staff_client, "メールアドレス,姓,メモ\na@example.jp,山田,x\nbad,鈴木,y\n", "cp932"
    )
    job = ImportJob.objects.get()
    assert response["Location"] == f"/console/imports/{job.pk}/mapping/"
    assert (job.encoding, job.mapping) == ("cp932", {"0": "email", "1": "family_name", "2": ""})
    page = staff_client.get(f"/console/imports/{job.pk}/mapping/")
    assert page.status_code == 200
    assert [row["line"] for row in page.context["preview"]] == [2, 3]
    assert page.context["preview"][1]["error"]
    data = {
        "column_0": "email",
        "column_1": "family_name",
        "column_2": "",
        "mode": "upsert",
        "key": "email",
    }
    done = staff_client.post(f"/console/imports/{job.pk}/mapping/", data)
    assert done["Location"] == f"/console/imports/{job.pk}/"
    job.refresh_from_db()
    assert (job.state, job.created_count, job.rejected_count) == (JobState.DONE, 1, 1)
    assert Contact.objects.get().family_name == "山田"
    detail = staff_client.get(f"/console/imports/{job.pk}/")
    assert [r.line for r in detail.context["rejections"]] == [3]
    rejected = staff_client.get(f"/console/imports/{job.pk}/rejected.csv")
    body = b"".join(rejected.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("メールアドレス,姓,メモ,")
    assert body.splitlines()[1].startswith("bad,鈴木,y,3,")
    assert rejected["Content-Disposition"].startswith("attachment")


def test_the_progress_fragment_is_served_to_htmx(staff_client):
    upload(staff_client, "email\na@example.jp\n")
    job = ImportJob.objects.get()
    fragment = staff_client.get(f"/console/imports/{job.pk}/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert b"import-progress" in fragment.content and b"<html" not in fragment.content


def test_mapping_two_columns_to_one_field_is_refused(staff_client):
    upload(staff_client, "email,mail\na@example.jp,b@example.jp\n")
    job = ImportJob.objects.get()
    data = {"column_0": "email", "column_1": "email", "mode": "upsert", "key": "email"}
    response = staff_client.post(f"/console/imports/{job.pk}/mapping/", data)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Contact.objects.exists()


def test_an_unreadable_file_is_refused_on_the_upload_form(staff_client):
    response = upload(staff_client, "")
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert not ImportJob.objects.exists()


def test_a_larger_file_runs_as_a_background_task(
    staff_client, settings, django_capture_on_commit_callbacks
):
    from kizuna.crm import importing

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    importing.INLINE_MAX_BYTES, before = 10, importing.INLINE_MAX_BYTES
    try:
        upload(staff_client, "email\na@example.jp\nb@example.jp\n")
        job = ImportJob.objects.get()
        data = {"column_0": "email", "mode": "upsert", "key": "email"}
        with django_capture_on_commit_callbacks(execute=True):
            staff_client.post(f"/console/imports/{job.pk}/mapping/", data)
    finally:
        importing.INLINE_MAX_BYTES = before
    job.refresh_from_db()
    assert (job.state, job.created_count) == (JobState.DONE, 2)


def test_members_cannot_import(member_client):
    assert member_client.get("/console/imports/new/").status_code == 403


def test_a_workbook_or_other_binary_file_is_refused(staff_client):
    workbook = SimpleUploadedFile("顧客.csv", b"PK\x03\x04\x14\x00\x06\x00" + bytes(200))
    response = staff_client.post("/console/imports/new/", {"file": workbook})
    assert response.status_code == 200
    assert "CSV" in response.context["form"].errors["file"][0]
    assert not ImportJob.objects.exists()


def test_a_running_import_shows_how_far_it_got(staff_client):
    upload(staff_client, "email\na@example.jp\n")
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, total_rows=120_000, processed_rows=45_000, created_count=44_000
    )
    page = staff_client.get(f"/console/imports/{job.pk}/", headers={"HX-Request": "true"})
    html = page.content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert 'max="120000" value="45000"' in html
    assert "45,000" in html and "120,000" in html


def test_past_imports_are_listed(staff_client):
    upload(staff_client, "email\na@example.jp\n")
    page = staff_client.get("/console/imports/")
    assert [job.file_name for job in page.context["jobs"]] == ["顧客.csv"]


@pytest.mark.parametrize(
    "path", ["/", "/new/", "/{pk}/mapping/", "/{pk}/", "/{pk}/rejected.csv"], ids=str
)
def test_only_staff_reach_any_import_page(client, member, staff, path):
    job = ImportJob.objects.create(file_name="x.csv", created_by=staff)
    url = "/console/imports" + path.format(pk=job.pk)
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(member)
    assert client.get(url).status_code == 403


def test_an_import_that_breaks_is_marked_failed_and_keeps_what_it_did(staff_client, monkeypatch):
    from kizuna.crm import import_writing, importing

    write, calls = import_writing.write_chunk, []

    def breaks_the_second_time(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return write(*args, **kwargs)

    for name in ("FIRST_CHUNK_ROWS", "MIN_CHUNK_ROWS", "MAX_CHUNK_ROWS"):
        monkeypatch.setattr(importing, name, 2)
    monkeypatch.setattr(import_writing, "write_chunk", breaks_the_second_time)
    upload(staff_client, "email\nbad\na@example.jp\nb@example.jp\n")
    job = ImportJob.objects.get()
    data = {"column_0": "email", "mode": "upsert", "key": "email"}
    response = staff_client.post(f"/console/imports/{job.pk}/mapping/", data)
    assert response["Location"] == f"/console/imports/{job.pk}/"
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.error_message
    assert [r.line for r in job.rejections.all()] == [2]
    assert list(Contact.objects.values_list("email", flat=True)) == ["a@example.jp"]
