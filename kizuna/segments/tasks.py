"""Background work of segments: the periodic refresh of every saved segment."""

from datetime import timedelta

from django.tasks import task

from kizuna.core.scheduling import register_periodic_job
from kizuna.segments import membership
from kizuna.segments.models import Segment


@task
def refresh_segments() -> None:
    """Who entered and who left each saved segment (segment_entered / segment_exited events)."""
    membership.refresh_all()


@task
def refresh_segment(segment_id: int) -> None:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is not None:
        membership.refresh_segment(segment)


def register_jobs() -> None:
    """Called from SegmentsConfig.ready()."""
    register_periodic_job("segments.refresh", refresh_segments, every=timedelta(minutes=10))
