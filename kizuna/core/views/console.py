from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin

from kizuna.core.access import staff_required
from kizuna.core.models import AuditAction, AuditLog, OutboxMessage


@staff_required
def outbox_list(request):
    messages = OutboxMessage.objects.only("id", "subject", "to", "from_email", "created_at")
    page = Paginator(messages, 50).get_page(request.GET.get("page"))
    return render(request, "core/console/outbox_list.html", {"page": page})


@staff_required
def outbox_detail(request, message_id):
    message = get_object_or_404(OutboxMessage, pk=message_id)
    return render(request, "core/console/outbox_detail.html", {"message": message})


@staff_required
@xframe_options_sameorigin
def outbox_html(request, message_id):
    """The HTML part, shown in a sandboxed frame: no script in a mail can run in the console."""
    message = get_object_or_404(OutboxMessage, pk=message_id)
    response = HttpResponse(message.body_html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'"
    )
    return response


AUDIT_PAGE_SIZE = 50


@staff_required
def audit_list(request):
    """The audit log, newest first, filtered by action, object type or who; pages by id so the
    log can grow without OFFSET scans."""
    entries = AuditLog.objects.all()
    action = request.GET.get("action", "")
    if action in AuditAction.values:
        entries = entries.filter(action=action)
    if object_type := request.GET.get("object_type", "").strip():
        entries = entries.filter(object_type=object_type)
    if object_id := request.GET.get("object_id", "").strip():
        entries = entries.filter(object_id=object_id)
    if actor := request.GET.get("actor", "").strip():
        entries = entries.filter(actor_label__icontains=actor)
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(pk__lt=int(before))
    rows = list(entries.order_by("-pk")[: AUDIT_PAGE_SIZE + 1])
    next_before = rows[AUDIT_PAGE_SIZE - 1].pk if len(rows) > AUDIT_PAGE_SIZE else None
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "core/console/audit_list.html",
        {
            "entries": rows[:AUDIT_PAGE_SIZE],
            "actions": AuditAction.choices,
            "filters": {
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "actor": actor,
            },
            "next_before": next_before,
            "query": query.urlencode(),
        },
    )
