"""Files uploaded into file fields: checked by their content, kept privately, sent only as
attachments.

The browser's idea of a file's type and the name it carries are the uploader's to choose, so
neither is trusted: the type is read from the bytes (the `filetype` package, plus a look inside ZIP
containers for Office documents and a careful check for plain text / CSV), the name is reduced to
a safe base name, and every download goes out as an attachment that the browser may not sniff,
render or run (nosniff + a sandboxing CSP). HTML and SVG are never accepted: both can carry script.
"""

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from urllib.parse import quote

import filetype
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kizuna.crm.models import FieldDefinition, StoredFile

DEFAULT_MAX_FILE_MB = 10
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class FileKind:
    """A family of file types staff allow in a file field: {MIME type: file name extensions}."""

    key: str
    label: object
    types: dict[str, tuple[str, ...]]


OLE_OFFICE = {  # Office 97-2003 files share one container format; the name tells them apart.
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
}
OOXML = {  # Office 2007+ files are ZIP archives; the folder inside tells them apart.
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

FILE_KINDS = {
    kind.key: kind
    for kind in [
        FileKind(
            "image",
            gettext_lazy("Images (JPEG, PNG, GIF, WebP, HEIC)"),
            {
                "image/jpeg": ("jpg", "jpeg"),
                "image/png": ("png",),
                "image/gif": ("gif",),
                "image/webp": ("webp",),
                "image/heic": ("heic",),
            },
        ),
        FileKind("pdf", gettext_lazy("PDF"), {"application/pdf": ("pdf",)}),
        FileKind(
            "office",
            gettext_lazy("Office documents (Word, Excel, PowerPoint)"),
            {
                OLE_OFFICE["doc"]: ("doc",),
                OOXML["word/"]: ("docx",),
                OLE_OFFICE["xls"]: ("xls",),
                OOXML["xl/"]: ("xlsx",),
                OLE_OFFICE["ppt"]: ("ppt",),
                OOXML["ppt/"]: ("pptx",),
                "application/vnd.oasis.opendocument.text": ("odt",),
                "application/vnd.oasis.opendocument.spreadsheet": ("ods",),
                "application/vnd.oasis.opendocument.presentation": ("odp",),
            },
        ),
        FileKind(
            "text",
            gettext_lazy("Text and CSV"),
            {"text/plain": ("txt",), "text/csv": ("csv", "tsv")},
        ),
        FileKind("zip", gettext_lazy("ZIP archives"), {"application/zip": ("zip",)}),
    ]
}
FILE_KIND_CHOICES = [(kind.key, kind.label) for kind in FILE_KINDS.values()]
EXTENSIONS = {mime: ext for kind in FILE_KINDS.values() for mime, ext in kind.types.items()}
# Never shown inline, whatever a stored row says (nothing of these kinds is accepted anyway).
ACTIVE_CONTENT = {"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml"}
_MARKUP = re.compile(
    rb"^\s*<(?:!doctype|html|head|body|script|svg|\?xml|iframe|!--)", re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CheckedUpload:
    name: str
    content_type: str
    size: int


def allowed_types(definition: FieldDefinition | None) -> dict[str, tuple[str, ...]]:
    """MIME type -> extensions a file field accepts; no kinds chosen means every kind."""
    keys = [key for key in (definition.file_kinds if definition else []) if key in FILE_KINDS]
    kinds = [FILE_KINDS[key] for key in keys] or list(FILE_KINDS.values())
    return {mime: ext for kind in kinds for mime, ext in kind.types.items()}


def size_limit_mb(definition: FieldDefinition | None) -> int:
    return (definition.max_file_mb if definition else None) or DEFAULT_MAX_FILE_MB


def safe_file_name(name: str) -> str:
    """The base name of what the uploader called the file, safe to show and to send back.

    Folders (`../../etc/passwd`, `C:\\Users\\x.pdf`) are dropped; NUL and other control
    characters, and names that are only dots, are refused."""
    name = unicodedata.normalize("NFC", str(name or ""))
    if _CONTROL.search(name):
        raise ValidationError(_("The file name contains control characters."), code="file_name")
    base = re.split(r"[/\\]", name)[-1].strip().lstrip(".").strip()
    if not base:
        raise ValidationError(_("The file needs a name."), code="file_name")
    if len(base) > MAX_NAME_LENGTH:
        stem, dot, extension = base.rpartition(".")
        keep = MAX_NAME_LENGTH - len(extension) - 1 if dot and len(extension) <= 10 else 0
        base = f"{stem[:keep]}.{extension}" if keep > 0 else base[:MAX_NAME_LENGTH]
    return base


def detect_content_type(uploaded_file) -> str | None:
    """The MIME type the file's bytes show, or None for anything we do not accept."""
    uploaded_file.seek(0)
    head = uploaded_file.read(8192)
    uploaded_file.seek(0)
    if not head:
        return None
    if _MARKUP.match(head.lstrip(b"\xef\xbb\xbf")):
        return None  # HTML, SVG, XML: can carry script
    guessed = filetype.guess(head)
    if guessed is not None:
        mime = guessed.mime
        if mime == "application/zip" or mime in OOXML.values():
            return _zip_content_type(uploaded_file)
        return mime
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"  # an Office 97-2003 file; the name decides which
    if _looks_like_text(head):
        return "text/plain"
    return None


def _zip_content_type(uploaded_file) -> str | None:
    """A Word / Excel / PowerPoint file is a ZIP with [Content_Types].xml and word/, xl/ or ppt/
    inside; any other readable ZIP is a ZIP archive."""
    try:
        with zipfile.ZipFile(uploaded_file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        uploaded_file.seek(0)
    if "[Content_Types].xml" in names:
        for folder, mime in OOXML.items():
            if any(name.startswith(folder) for name in names):
                return mime
    if "mimetype" in names:
        return None  # an OpenDocument file filetype could not name: refuse rather than guess
    return "application/zip"


def _looks_like_text(head: bytes) -> bool:
    """Plain text or CSV: no NUL bytes, and readable as UTF-8 or Shift_JIS (CP932) - Excel's
    Japanese CSV. The sample may end in the middle of a character, so the last bytes may fail."""
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "cp932"):
        for cut in range(4):
            try:
                (head[: len(head) - cut] if cut else head).decode(encoding)
                return True
            except UnicodeDecodeError:
                continue
    return False


def check_upload(uploaded_file: UploadedFile, definition: FieldDefinition | None) -> CheckedUpload:
    """Size, name and type of an upload for a file field; raises ValidationError saying what is
    wrong in the user's language. Nothing is stored."""
    limit = size_limit_mb(definition)
    if uploaded_file.size > limit * 1024 * 1024:
        raise ValidationError(
            _("The file is too large: at most %(limit)s MB.") % {"limit": limit}, code="file_size"
        )
    if uploaded_file.size == 0:
        raise ValidationError(_("The file is empty."), code="file_empty")
    name = safe_file_name(uploaded_file.name)
    stem, dot, extension = name.rpartition(".")
    extension = extension.lower() if dot else ""
    detected = detect_content_type(uploaded_file)
    if detected == "application/x-ole-storage":
        detected = OLE_OFFICE.get(extension)
    if detected == "text/plain" and extension in ("csv", "tsv"):
        detected = "text/csv"
    allowed = allowed_types(definition)
    if detected not in allowed:
        raise ValidationError(
            _("This type of file is not accepted here. Allowed: %(kinds)s.")
            % {"kinds": ", ".join(str(kind.label) for kind in _kinds_of(definition))},
            code="file_type",
        )
    extensions = allowed[detected]
    if not dot:
        name = f"{name}.{extensions[0]}"
    elif extension not in extensions:
        raise ValidationError(
            _(
                "The file's content does not match its name: it ends in .%(extension)s but "
                "contains a .%(actual)s file."
            )
            % {"extension": extension, "actual": extensions[0]},
            code="file_type_mismatch",
        )
    return CheckedUpload(name=name, content_type=detected, size=uploaded_file.size)


def _kinds_of(definition: FieldDefinition | None) -> list[FileKind]:
    keys = [key for key in (definition.file_kinds if definition else []) if key in FILE_KINDS]
    return [FILE_KINDS[key] for key in keys] or list(FILE_KINDS.values())


def store_upload(
    uploaded_file: UploadedFile, definition: FieldDefinition | None, user
) -> StoredFile:
    """Check an upload and keep it in private storage under a random name."""
    checked = check_upload(uploaded_file, definition)
    digest = hashlib.sha256()
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    stored = StoredFile(
        name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=digest.hexdigest(),
        uploaded_by=user if getattr(user, "pk", None) else None,
    )
    # Written before the row: a rolled-back transaction leaves at worst an unreferenced file
    # under a random name, never a row without its file.
    stored.file.save(checked.name, uploaded_file, save=False)
    stored.save()
    return stored


def apply_uploads(custom: dict, uploads: dict | None, user) -> None:
    """Store each checked upload and put its StoredFile id into `custom` under the field's key.

    `uploads` is {key: (definition, uploaded file)} as the forms collect them; operations call
    this inside their transaction."""
    for key, (definition, uploaded_file) in (uploads or {}).items():
        custom[key] = str(store_upload(uploaded_file, definition, user).pk)


def download_response(stored_file: StoredFile) -> FileResponse:
    """The file as an attachment the browser will not sniff, render inline or run."""
    content_type = stored_file.content_type or "application/octet-stream"
    if content_type in ACTIVE_CONTENT or not content_type.isascii():
        content_type = "application/octet-stream"
    response = FileResponse(stored_file.file.open("rb"), content_type=content_type)
    response["Content-Disposition"] = attachment_header(stored_file.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


def attachment_header(name: str) -> str:
    """`attachment` with an ASCII fallback name and the real one in RFC 5987 form
    (filename*=UTF-8''…), which every current browser reads for Japanese names."""
    name = _CONTROL.sub("", name) or "download"
    stem, dot, extension = name.rpartition(".")
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", stem if dot else name).strip("_") or "download"
    if dot and extension.isascii() and extension.isalnum():
        fallback = f"{fallback}.{extension}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
