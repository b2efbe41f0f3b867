"""Background work of the customer database. Tasks take ids only and call the operation."""

from django.tasks import task

from kizuna.crm import bulk, importing


@task
def run_import(job_id: int) -> None:
    importing.run_import_job(job_id)


@task
def run_bulk(job_id: int) -> None:
    """A confirmed bulk update. Delivered twice, or run again after its worker died, it goes on
    from the job's saved cursor and changes nothing twice (bulk.run_bulk_job claims the job)."""
    bulk.run_bulk_job(job_id)
