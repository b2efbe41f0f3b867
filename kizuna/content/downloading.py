"""Protected files leave only through here: after the audience check, with a `file_download`
event, as an attachment — or handed to the web server (X-Accel-Redirect for nginx, X-Sendfile
for Apache) when KIZUNA_FILE_SERVER says one sits in front and serves the private folder."""

from django.conf import settings
from django.core import signing
from django.http import HttpResponse

from kizuna.content.models import PageFile
from kizuna.crm.files import attachment_header, download_response
from kizuna.tracking.models import EventType
from kizuna.tracking.recording import record_event

LINK_SALT = "kizuna.content.file-link"


def file_response(page_file: PageFile, *, contact=None, request=None, inline: bool = False):
    stored = page_file.stored
    if contact is not None:
        props = {"file": stored.name, "page": page_file.page.slug, "file_id": page_file.pk}
        record_event(contact, EventType.FILE_DOWNLOAD, props=props, request=request)
    server = settings.KIZUNA_FILE_SERVER
    if server in ("nginx", "apache"):
        response = HttpResponse(content_type=stored.content_type)
        if server == "nginx":  # nginx: an `internal` location mapped onto the private folder
            response["X-Accel-Redirect"] = (
                f"{settings.KIZUNA_FILE_SERVER_PREFIX}/{stored.file.name}"
            )
        else:
            response["X-Sendfile"] = stored.file.path
        response["Content-Disposition"] = attachment_header(stored.name)
        response["X-Content-Type-Options"] = "nosniff"
        return response
    response = download_response(stored)
    if inline:  # video: played in the page, still never sniffed or run
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "attachment", "inline", 1
        )
    return response


def signed_link_token(page_file: PageFile, contact) -> str:
    """A link for an email: this file, for this contact, valid KIZUNA_FILE_LINK_DAYS days."""
    return signing.dumps({"f": page_file.pk, "c": contact.pk}, salt=LINK_SALT, compress=True)


def read_link_token(token: str) -> dict | None:
    try:
        return signing.loads(
            token, salt=LINK_SALT, max_age=settings.KIZUNA_FILE_LINK_DAYS * 24 * 3600
        )
    except signing.BadSignature:  # SignatureExpired is one
        return None
