"""Downloading files kept in file fields: staff only, every download in the audit log."""

import uuid

from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404

from kizuna.core.access import staff_required
from kizuna.core.auditing import record_audit
from kizuna.core.models import AuditAction
from kizuna.crm.files import download_response
from kizuna.crm.models import StoredFile


@staff_required
def file_download(request, file_id):
    try:
        file_uuid = uuid.UUID(file_id)
    except ValueError:
        raise Http404 from None
    stored_file = get_object_or_404(StoredFile, pk=file_uuid)
    if not stored_file.file.storage.exists(stored_file.file.name):
        raise Http404
    with transaction.atomic():
        record_audit(request.user, AuditAction.DOWNLOAD, stored_file)
    return download_response(stored_file)
