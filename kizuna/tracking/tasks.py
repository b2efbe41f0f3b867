"""Background work of tracking. Tasks take ids only (or nothing) and call the operation."""

from datetime import timedelta

from django.tasks import task

from kizuna.core.scheduling import register_periodic_job
from kizuna.tracking import folding, purging, spool


@task
def purge_tracking_task() -> dict:
    """The daily retention purge. Safe to run twice: a second run finds nothing left to delete."""
    return purging.purge_tracking().as_dict()


@task
def fold_visitor(visitor_id: str) -> None:
    """An identified visitor's earlier events move onto its contact (stitching.py)."""
    folding.fold_visitor_events(visitor_id)


@task
def fold_recently_identified() -> None:
    folding.fold_recently_identified()


@task
def store_spooled_events() -> None:
    """Store the spool files of web processes that stopped (the worker's safety net)."""
    spool.get_spool().recover_orphans()


def register_jobs() -> None:
    """Called from TrackingConfig.ready()."""
    register_periodic_job("tracking.purge", purge_tracking_task, every=timedelta(days=1))
    # The worker stores the spool files of web processes that stopped, and folds again the
    # visitors identified lately (events stored while the alias was being set).
    register_periodic_job(
        "tracking.store_spooled_events", store_spooled_events, every=timedelta(minutes=1)
    )
    register_periodic_job(
        "tracking.fold_recently_identified", fold_recently_identified, every=timedelta(minutes=5)
    )
