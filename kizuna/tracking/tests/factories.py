import datetime

import factory
from django.utils import timezone

from kizuna.tracking.models import DeviceType, Event, EventType, Session, Visitor


class VisitorFactory(factory.django.DjangoModelFactory):
    """An anonymous desktop visitor seen just now; pass contact=... for an identified one."""

    class Meta:
        model = Visitor

    id = factory.Sequence(lambda n: f"v{n:06d}-4f1c2a9e")
    first_seen_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=3))
    last_seen_at = factory.LazyFunction(timezone.now)
    identified_at = factory.LazyAttribute(lambda o: o.last_seen_at if o.contact else None)
    contact = None
    sessions = 1
    last_url = "/"
    user_agent = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Safari/537.36"
    )
    browser = "Chrome"
    os = "Windows"
    device_type = DeviceType.DESKTOP
    language = "ja-JP"
    ip = "203.0.113.7"
    country = "JP"


class SessionFactory(factory.django.DjangoModelFactory):
    """A visit of `visitor` (its contact's, if it has one), started `started_at`."""

    class Meta:
        model = Session

    visitor = factory.SubFactory(VisitorFactory)
    id = factory.Sequence(lambda n: f"s{n:06d}")
    contact = factory.LazyAttribute(lambda o: o.visitor.contact)
    started_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(minutes=10))
    last_seen_at = factory.LazyAttribute(lambda o: o.started_at + datetime.timedelta(minutes=5))
    events = 1
    landing_url = "/"
    referrer = ""


class EventFactory(factory.django.DjangoModelFactory):
    """A page view. Pass visit=<Session> to place it in a visit (visitor and contact follow), or
    visitor / contact / session directly."""

    class Meta:
        model = Event
        exclude = ("visit",)

    visit = None
    event_id = factory.Sequence(lambda n: f"e{n:08d}")
    type = EventType.PAGE_VIEW
    occurred_at = factory.LazyFunction(timezone.now)
    visitor = factory.LazyAttribute(lambda o: o.visit.visitor if o.visit else None)
    contact = factory.LazyAttribute(lambda o: o.visit.contact if o.visit else None)
    session = factory.LazyAttribute(lambda o: o.visit.id if o.visit else "")
    host = "www.example.jp"
    url = "/"
    browser = "Chrome"
    os = "Windows"
    device_type = DeviceType.DESKTOP
    props = factory.LazyFunction(dict)
