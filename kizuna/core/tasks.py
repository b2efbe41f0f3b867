from django.tasks import task

from kizuna.core import task_recovery


@task
def requeue_abandoned_tasks() -> int:
    return task_recovery.requeue_abandoned_tasks()
