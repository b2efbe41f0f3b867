import hashlib
import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile

from kizuna.core.models import AuditAction, AuditLog
from kizuna.crm import files
from kizuna.crm.models import FieldType, StoredFile
from kizuna.crm.tests.factories import ContactFactory, FieldDefinitionFactory

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00" + (
    b"\x00" * 64
)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


@pytest.fixture(autouse=True)
def private_storage(tmp_path, monkeypatch):
    """Files go to a temporary folder instead of var/private."""
    storage = FileSystemStorage(location=tmp_path)
    monkeypatch.setattr(StoredFile._meta.get_field("file"), "storage", storage)
    return storage


def office_zip(folder: str) -> bytes:
    """A Word / Excel / PowerPoint file as Office writes it: the folder comes after several
    other entries, where a look at the first bytes alone does not find it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("docProps/app.xml", "<Properties/>")
        archive.writestr("docProps/core.xml", "<coreProperties/>")
        archive.writestr("customXml/item1.xml", "<x/>")
        archive.writestr(f"{folder}document.xml", "<document/>")
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("名簿.csv", "a,b\n")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def file_field(**kwargs):
    return FieldDefinitionFactory(type=FieldType.FILE, **kwargs)


# --- What is accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("photo.png", PNG, "image/png"),
        ("見積書.pdf", PDF, "application/pdf"),
        (
            "報告書.docx",
            office_zip("word/"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "売上.xlsx",
            office_zip("xl/"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            "提案.pptx",
            office_zip("ppt/"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        ("名簿.csv", "氏名,メール\n山田,taro@example.jp\n".encode("cp932"), "text/csv"),
        ("memo.txt", "メモです。\n".encode(), "text/plain"),
        ("archive.zip", plain_zip(), "application/zip"),
    ],
)
def test_the_type_is_read_from_the_content(db, staff, name, content, expected):
    stored = files.store_upload(upload(name, content), file_field(), staff)
    assert stored.content_type == expected
    assert stored.name == name
    assert stored.size == len(content)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.uploaded_by == staff
    with stored.file.open("rb") as handle:
        assert handle.read() == content


def test_the_name_on_disk_is_random_not_the_uploaders(db, staff):
    stored = files.store_upload(upload("見積書.pdf", PDF), file_field(), staff)
    assert "見積書" not in stored.file.name
    assert not stored.file.name.endswith(".pdf")


def test_an_old_office_file_is_named_by_its_extension(db, staff):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    stored = files.store_upload(upload("古い資料.xls", ole), file_field(), staff)
    assert stored.content_type == "application/vnd.ms-excel"
    with pytest.raises(ValidationError):
        files.check_upload(upload("古い資料.exe", ole), file_field())


def test_a_name_without_extension_gets_the_one_its_content_shows(db):
    assert files.check_upload(upload("scan", PDF), file_field()).name == "scan.pdf"


# --- What is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("innocent.png", HTML),  # a .png that is really HTML
        ("page.html", HTML),
        ("logo.svg", SVG),
        ("logo.png", SVG),
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100),
        ("data.bin", b"\x00\x01\x02\x03" * 50),
        ("empty.txt", b""),
        ("report.png", PDF),  # content and name disagree
        ("broken.docx", b"PK\x03\x04garbage"),
    ],
)
def test_dangerous_or_unknown_files_are_refused(db, staff, name, content):
    with pytest.raises(ValidationError):
        files.store_upload(upload(name, content, "image/png"), file_field(), staff)
    assert not StoredFile.objects.exists()


def test_only_the_kinds_the_field_allows_are_accepted(db):
    images_only = file_field(file_kinds=["image"])
    assert files.check_upload(upload("a.png", PNG), images_only).content_type == "image/png"
    with pytest.raises(ValidationError) as error:
        files.check_upload(upload("a.pdf", PDF), images_only)
    assert error.value.code == "file_type"


def test_a_file_over_the_size_limit_is_refused(db):
    one_mb = file_field(max_file_mb=1)
    big = PDF + b"0" * (1024 * 1024)
    with pytest.raises(ValidationError) as error:
        files.check_upload(upload("big.pdf", big), one_mb)
    assert error.value.code == "file_size"
    assert files.size_limit_mb(file_field()) == 10


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\見積書.pdf", "見積書.pdf"),
        ("/var/www/report.pdf", "report.pdf"),
        ("...hidden.pdf", "hidden.pdf"),
    ],
)
def test_folders_in_names_are_reduced_to_the_base_name(typed, kept):
    assert files.safe_file_name(typed) == kept


@pytest.mark.parametrize("typed", ["a\x00.pdf", "bad\nname.pdf", "..", "../", "", "dir/"])
def test_names_with_control_characters_or_nothing_left_are_refused(typed):
    with pytest.raises(ValidationError):
        files.safe_file_name(typed)


def test_very_long_names_keep_their_extension():
    name = files.safe_file_name("あ" * 300 + ".pdf")
    assert len(name) <= files.MAX_NAME_LENGTH
    assert name.endswith(".pdf")


# --- Download -----------------------------------------------------------------------------------


def stored_pdf(staff, name="見積書 2026.pdf"):
    return files.store_upload(upload(name, PDF), file_field(), staff)


def test_staff_download_a_file_as_an_attachment_that_cannot_be_sniffed_or_run(staff_client, staff):
    stored = stored_pdf(staff)
    response = staff_client.get(f"/console/files/{stored.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8%202026.pdf" in disposition
    assert 'filename="2026.pdf"' in disposition or 'filename="_2026.pdf"' in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_every_download_is_audited(staff_client, staff):
    stored = stored_pdf(staff)
    staff_client.get(f"/console/files/{stored.pk}/")
    entry = AuditLog.objects.get(action=AuditAction.DOWNLOAD)
    assert (entry.actor, entry.object_type, entry.object_id) == (
        staff,
        "crm.storedfile",
        str(stored.pk),
    )


def test_html_that_somehow_got_stored_is_never_served_inline(staff_client, staff):
    stored = stored_pdf(staff)
    StoredFile.objects.filter(pk=stored.pk).update(name="page.html", content_type="text/html")
    response = staff_client.get(f"/console/files/{stored.pk}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_members_and_strangers_cannot_download(client, member, stranger, staff):
    stored = stored_pdf(staff)
    for user in (member, stranger):
        client.force_login(user)
        assert client.get(f"/console/files/{stored.pk}/").status_code == 403
    assert not AuditLog.objects.filter(action=AuditAction.DOWNLOAD).exists()


def test_anonymous_visitors_are_sent_to_log_in(client, staff):
    stored = stored_pdf(staff)
    response = client.get(f"/console/files/{stored.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("file_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_file_is_404(staff_client, file_id):
    assert staff_client.get(f"/console/files/{file_id}/").status_code == 404


def test_a_row_whose_file_is_gone_is_404_not_500(staff_client, staff, private_storage):
    stored = stored_pdf(staff)
    private_storage.delete(stored.file.name)
    assert staff_client.get(f"/console/files/{stored.pk}/").status_code == 404


# --- Through the contact form -------------------------------------------------------------------


def test_a_file_uploaded_on_the_contact_form_is_stored_and_linked(staff_client):
    definition = file_field(key="contract", label_ja="契約書", file_kinds=["pdf"])
    contact = ContactFactory(email="file@example.jp")
    response = staff_client.post(
        f"/console/contacts/{contact.pk}/edit/",
        {
            "email": contact.email,
            "family_name": "山田",
            "lifecycle": "lead",
            "custom_contract": upload("契約書.pdf", PDF),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    contact.refresh_from_db()
    stored = StoredFile.objects.get()
    assert contact.custom[definition.key] == str(stored.pk)
    body = staff_client.get(f"/console/contacts/{contact.pk}/").content.decode()
    assert f"/console/files/{stored.pk}/" in body
    assert "契約書.pdf" in body


def test_a_refused_upload_on_the_form_says_why_and_saves_nothing(staff_client):
    file_field(key="contract", file_kinds=["pdf"])
    contact = ContactFactory(email="file@example.jp", family_name="山田")
    response = staff_client.post(
        f"/console/contacts/{contact.pk}/edit/",
        {
            "email": contact.email,
            "family_name": "変更",
            "lifecycle": "lead",
            "custom_contract": upload("innocent.png", HTML),
        },
    )
    assert response.status_code == 200
    assert "custom_contract" in response.context["form"].errors
    contact.refresh_from_db()
    assert contact.family_name == "山田"
    assert not StoredFile.objects.exists()


def test_keeping_and_clearing_a_file_on_edit(staff_client, staff):
    file_field(key="contract")
    stored = stored_pdf(staff)
    contact = ContactFactory(email="file@example.jp", custom={"contract": str(stored.pk)})
    data = {"email": contact.email, "family_name": "山田", "lifecycle": "lead"}
    staff_client.post(f"/console/contacts/{contact.pk}/edit/", data)
    contact.refresh_from_db()
    assert contact.custom["contract"] == str(stored.pk)
    staff_client.post(
        f"/console/contacts/{contact.pk}/edit/", {**data, "custom_contract-clear": "on"}
    )
    contact.refresh_from_db()
    assert "contract" not in contact.custom
