"""Importing from the console: upload, map with a preview, run, follow, download rejected rows."""

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
