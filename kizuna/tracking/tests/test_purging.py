"""Retention: exactly what the site settings say has expired is deleted, nothing more."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import translation

from kizuna.core import scheduling
from kizuna.core.models import SiteSettings
from kizuna.crm.tests.factories import ContactFactory
from kizuna.tracking import purging
from kizuna.tracking.models import Event, Session, Visitor
from kizuna.tracking.purging import purge_tracking
from kizuna.tracking.tasks import purge_tracking_task, register_jobs

NOW = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def retention(db):
    def set_days(anonymous: int, events: int):
        SiteSettings.objects.update_or_create(
            pk=1,
            defaults={"anonymous_retention_days": anonymous, "event_retention_days": events},
        )

    set_days(180, 730)
    return set_days


def visitor(name: str, last_seen: datetime, contact=None) -> Visitor:
    """A visitor with one session and one event at its last visit."""
    made = Visitor.objects.create(
        id=name, contact=contact, first_seen_at=last_seen, last_seen_at=last_seen, sessions=1
    )
    session(made, last_seen)
    event(made, last_seen)
    return made


def session(owner: Visitor, last_seen: datetime) -> Session:
    return Session.objects.create(
        id=f"{owner.id}.{int(last_seen.timestamp())}",
        visitor=owner,
        contact=owner.contact,
        started_at=last_seen,
        last_seen_at=last_seen,
        events=1,
    )


def event(owner: Visitor, occurred_at: datetime, **fields) -> Event:
    fields.setdefault("contact", owner.contact)
    return Event.objects.create(
        type="page_view", occurred_at=occurred_at, visitor=owner, url="/", **fields
    )


def test_anonymous_visitors_go_one_second_past_their_retention_with_events_and_sessions(
    retention,
):
    expired = visitor("expired-1", NOW - timedelta(days=180) - SECOND)
    kept = visitor("kept-0001", NOW - timedelta(days=180) + SECOND)
    result = purge_tracking(now=NOW)
    assert (result.visitors, result.events, result.sessions) == (1, 1, 1)
    assert list(Visitor.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Event.objects.filter(visitor_id=expired.pk).exists()
    assert not Session.objects.filter(visitor_id=expired.pk).exists()
    assert Event.objects.filter(visitor=kept).count() == 1
    assert Session.objects.filter(visitor=kept).count() == 1


def test_identified_contacts_visitors_are_kept_however_old(retention):
    contact = ContactFactory()
    known = visitor("known-001", NOW - timedelta(days=400), contact=contact)
    purge_tracking(now=NOW)
    assert Visitor.objects.filter(pk=known.pk).exists()
    assert Event.objects.filter(contact=contact).count() == 1


def test_an_anonymous_visitors_events_already_folded_onto_a_contact_stay(retention):
    contact = ContactFactory()
    old = NOW - timedelta(days=200)
    anonymous = visitor("anonymous", old)
    folded = event(anonymous, old, contact=contact)
    result = purge_tracking(now=NOW)
    assert result.visitors == 1 and result.events == 1
    folded.refresh_from_db()
    assert folded.contact == contact and folded.visitor_id is None


def test_events_of_anyone_go_one_second_past_the_event_retention(retention):
    retention(anonymous=0, events=730)
    contact = ContactFactory()
    known = visitor("known-001", NOW, contact=contact)
    cutoff = NOW - timedelta(days=730)
    too_old = event(known, cutoff - SECOND)
    just_kept = event(known, cutoff + SECOND)
    anonymous = visitor("anonymous", NOW)
    anonymous_old = event(anonymous, cutoff - SECOND)
    result = purge_tracking(now=NOW)
    assert result.events == 2
    remaining = set(Event.objects.values_list("pk", flat=True))
    assert too_old.pk not in remaining and anonymous_old.pk not in remaining
    assert just_kept.pk in remaining
    assert Visitor.objects.count() == 2  # visitors are not deleted by the event rule


def test_sessions_go_with_the_event_retention_by_their_last_activity(retention):
    retention(anonymous=0, events=30)
    contact = ContactFactory()
    known = visitor("known-001", NOW, contact=contact)
    cutoff = NOW - timedelta(days=30)
    old = session(known, cutoff - SECOND)
    recent = session(known, cutoff + SECOND)
    result = purge_tracking(now=NOW)
    assert result.sessions == 1
    assert not Session.objects.filter(pk=old.pk).exists()
    assert Session.objects.filter(pk=recent.pk).exists()


def test_zero_days_keeps_everything(retention):
    retention(anonymous=0, events=0)
    contact = ContactFactory()
    visitor("ancient-1", NOW - timedelta(days=5000))
    visitor("ancient-2", NOW - timedelta(days=5000), contact=contact)
    assert purge_tracking(now=NOW) == purging.PurgeResult()
    assert (Visitor.objects.count(), Event.objects.count(), Session.objects.count()) == (2, 2, 2)


def test_now_defaults_to_the_current_time(retention):
    visitor("expired-1", NOW - timedelta(days=181))
    with time_machine.travel(NOW, tick=False):
        assert purge_tracking().visitors == 1
    assert Visitor.objects.count() == 0


def test_deletes_run_in_chunks_and_count_every_row(retention):
    old = NOW - timedelta(days=800)
    for number in range(7):
        owner = visitor(f"expired-{number}", old)
        for minute in range(1, 4):
            event(owner, old - timedelta(minutes=minute))
    result = purge_tracking(now=NOW, chunk_size=2)
    assert (result.visitors, result.events, result.sessions) == (7, 28, 7)
    assert (Visitor.objects.count(), Event.objects.count(), Session.objects.count()) == (0, 0, 0)


def test_a_dry_run_counts_the_same_rows_and_deletes_nothing(retention):
    retention(anonymous=180, events=365)
    contact = ContactFactory()
    visitor("expired-1", NOW - timedelta(days=400))  # both rules: counted once
    visitor("expired-2", NOW - timedelta(days=200))
    known = visitor("known-001", NOW - timedelta(days=400), contact=contact)
    event(known, NOW)
    dry = purge_tracking(now=NOW, dry_run=True)
    assert (Visitor.objects.count(), Event.objects.count(), Session.objects.count()) == (3, 4, 3)
    real = purge_tracking(now=NOW)
    assert dry.dry_run and not real.dry_run
    assert (dry.visitors, dry.events, dry.sessions) == (real.visitors, real.events, real.sessions)
    assert (real.visitors, real.events, real.sessions) == (2, 3, 3)


def test_a_second_purge_finds_nothing(retention):
    visitor("expired-1", NOW - timedelta(days=800))
    purge_tracking(now=NOW)
    assert purge_tracking(now=NOW) == purging.PurgeResult()


def test_the_command_prints_the_rules_and_the_counts(retention):
    visitor("expired-1", NOW - timedelta(days=200))
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False), translation.override("en"):
        call_command("purge_tracking", "--dry-run", stdout=out)
        assert out.getvalue().splitlines() == [
            "Retention: anonymous visitors 180 days, events 730 days.",
            "Would delete (dry run, nothing deleted): anonymous visitors 1, events 1, visits 1.",
        ]
        assert Visitor.objects.count() == 1
        out = io.StringIO()
        retention(anonymous=1, events=0)
        call_command("purge_tracking", stdout=out)
    assert out.getvalue().splitlines() == [
        "Retention: anonymous visitors 1 day, events forever.",
        "Deleted: anonymous visitors 1, events 1, visits 1.",
    ]
    assert Visitor.objects.count() == 0


def test_the_task_purges_and_returns_the_counts(retention):
    visitor("expired-1", NOW - timedelta(days=200))
    with time_machine.travel(NOW, tick=False):
        assert purge_tracking_task.call() == {
            "visitors": 1,
            "events": 1,
            "sessions": 1,
            "dry_run": False,
        }


def test_the_purge_is_a_daily_periodic_job(monkeypatch):
    monkeypatch.setattr(scheduling, "periodic_jobs", {})
    register_jobs()
    job = scheduling.periodic_jobs["tracking.purge"]
    assert job.task is purge_tracking_task and job.every == timedelta(days=1)
