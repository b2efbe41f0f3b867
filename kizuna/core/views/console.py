from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin

from kizuna.core.access import staff_required
from kizuna.core.models import OutboxMessage


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
