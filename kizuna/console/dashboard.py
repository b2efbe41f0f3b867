"""The figures on the console dashboard, counted from the database."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kizuna.core.models import OutboxMessage
from kizuna.crm.models import Company, Contact


def dashboard_figures() -> dict[str, int]:
    users = get_user_model().objects
    week_ago = timezone.now() - timedelta(days=7)
    tasks = DBTaskResult.objects
    return {
        "contacts": Contact.objects.count(),
        "contacts_new_this_week": Contact.objects.filter(created_at__gte=week_ago).count(),
        "companies": Company.objects.count(),
        "staff": users.staff().count(),
        "members": users.members().filter(is_active=True).count(),
        "tasks_waiting": tasks.filter(status=TaskResultStatus.READY).count(),
        "tasks_failed_this_week": tasks.failed().filter(finished_at__gte=week_ago).count(),
        "mail_kept_this_week": OutboxMessage.objects.filter(created_at__gte=week_ago).count(),
    }
