"""Visitors, their sessions and the one activity log (DESIGN.md principles 1 and 2).

An anonymous person is a Visitor (a first-party cookie id). When they identify — log in, post a
form, click one of our emails, `identify(email)` on another site — the visitor points to the
contact (an alias, set in constant time) and a background task folds the visitor's earlier events
onto the contact. Until the fold has run, `Event.objects.of_contact()` finds them through the
alias, so nothing is ever missing from the contact's history.
"""

import hashlib

from django.db import connection, models
from django.db.models import Q
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from kizuna.crm.models import Contact

SESSION_GAP_SECONDS = 30 * 60  # 30 minutes of inactivity starts a new session


class EventType(models.TextChoices):
    """The event types of SEGMENTS.md. Event.type is free text: apps may add types later."""

    PAGE_VIEW = "page_view", _("Page view")
    LOGIN = "login", pgettext_lazy("event", "Login")
    REGISTERED = "registered", _("Registered")
    FORM_SUBMIT = "form_submit", _("Form submitted")
    EMAIL_SENT = "email_sent", _("Email sent")
    EMAIL_OPEN = "email_open", _("Email opened")
    EMAIL_CLICK = "email_click", _("Email link clicked")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
    FILE_DOWNLOAD = "file_download", _("File downloaded")
    VIDEO_PROGRESS = "video_progress", _("Video watched")
    QUESTION_POSTED = "question_posted", _("Question posted")
    ANSWER_POSTED = "answer_posted", _("Answer posted")
    TICKET_OPENED = "ticket_opened", _("Request opened")
    IDENTIFY = "identify", _("Identified")
    # Membership (kizuna.members).
    EMAIL_VERIFIED = "email_verified", _("Email confirmed")
    APPROVED = "approved", _("Membership approved")
    REJECTED = "rejected", _("Membership rejected")
    SUSPENDED = "suspended", _("Membership suspended")
    REACTIVATED = "reactivated", _("Membership reactivated")
    WITHDRAWN = "withdrawn", _("Withdrew")


class DeviceType(models.TextChoices):
    DESKTOP = "desktop", _("Desktop")
    MOBILE = "mobile", _("Mobile")
    TABLET = "tablet", _("Tablet")
    OTHER = "other", pgettext_lazy("device", "Other")


class Visitor(models.Model):
    """A browser, known by its first-party cookie id; one contact may have many (devices)."""

    id = models.CharField(_("visitor id"), max_length=64, primary_key=True)
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visitors",
    )
    identified_at = models.DateTimeField(_("identified"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"))
    last_seen_at = models.DateTimeField(_("last seen"))
    sessions = models.PositiveIntegerField(_("visits"), default=0)
    current_session = models.CharField(_("current session"), max_length=80, blank=True)
    last_url = models.TextField(_("last page"), blank=True)
    user_agent = models.TextField(_("user agent"), blank=True)
    browser = models.CharField(_("browser"), max_length=60, blank=True)
    os = models.CharField(_("operating system"), max_length=60, blank=True)
    device_type = models.CharField(
        _("device"), max_length=10, choices=DeviceType.choices, blank=True
    )
    language = models.CharField(_("language"), max_length=35, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        indexes = [
            # "Who is on the site now" and the recent-visitors list; retention of the anonymous.
            models.Index(fields=["-last_seen_at"], name="tracking_visitor_last_seen"),
        ]

    def __str__(self):
        return str(self.friendly_name)

    @property
    def friendly_name(self) -> str:
        return friendly_name(self.id)


class Session(models.Model):
    """One visit: a visitor's events with less than 30 minutes between them.

    The id is the visitor id and the start time, so the writer can name a session without a
    round trip to the database."""

    id = models.CharField(_("session id"), max_length=80, primary_key=True)
    visitor = models.ForeignKey(
        Visitor,
        verbose_name=_("visitor"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # tracking_session_visitor leads with it
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # tracking_session_contact leads with it
    )
    started_at = models.DateTimeField(_("started"))
    last_seen_at = models.DateTimeField(_("last activity"))
    events = models.PositiveIntegerField(_("events"), default=0)
    landing_url = models.TextField(_("landing page"), blank=True)
    referrer = models.TextField(_("referrer"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [
            # A contact's visits on the timeline, and the count on the contact.
            models.Index(fields=["contact", "-started_at"], name="tracking_session_contact"),
            models.Index(fields=["visitor", "-started_at"], name="tracking_session_visitor"),
        ]

    def __str__(self):
        return self.id


class EventQuerySet(models.QuerySet):
    def of_contact(self, contact) -> "EventQuerySet":
        """The contact's events, including those of its visitors not yet folded onto it."""
        contact_id = getattr(contact, "pk", contact)
        return self.filter(
            Q(contact_id=contact_id)
            | Q(contact__isnull=True, visitor__in=Visitor.objects.filter(contact_id=contact_id))
        )

    def newest_of_contact(self, contact, limit: int) -> list["Event"]:
        """The contact's newest `limit` events (its visitors' unfolded ones too), newest first.

        Two index-ordered queries merged here: one query with the OR makes the databases scan
        or sort every event of the contact."""
        contact_id = getattr(contact, "pk", contact)
        order = ("-occurred_at", "-id")
        own = list(self.filter(contact_id=contact_id).order_by(*order)[:limit])
        if connection.vendor == "sqlite":
            # SQLite's planner reads "contact_id IS NULL" through tracking_event_contact (every
            # anonymous event) unless told to use the partial index of unfolded events.
            unfolded = list(
                Event.objects.raw(
                    "SELECT * FROM tracking_event INDEXED BY tracking_event_unfolded "
                    "WHERE contact_id IS NULL AND visitor_id IN "
                    "(SELECT id FROM tracking_visitor WHERE contact_id = %s) "
                    "ORDER BY occurred_at DESC, id DESC LIMIT %s",
                    [contact_id, limit],
                )
            )
        else:
            unfolded = list(
                self.filter(
                    contact__isnull=True,
                    visitor__in=Visitor.objects.filter(contact_id=contact_id).values("id"),
                ).order_by(*order)[:limit]
            )
        if not unfolded:
            return own
        merged = sorted(own + unfolded, key=lambda e: (e.occurred_at, e.id), reverse=True)
        return merged[:limit]

    def human(self) -> "EventQuerySet":
        return self.filter(is_machine=False)


class Event(models.Model):
    """One thing a person did. The only activity log: timeline, segments, reports read it."""

    id = models.BigAutoField(primary_key=True)
    # Idempotency: the collector, backfill and every app give each event a unique key, so a
    # replay (spool after a crash, a backfill run twice) never stores it twice.
    event_id = models.CharField(  # noqa: DJ001 - NULL: events stored without a key
        _("event key"), max_length=64, null=True
    )
    type = models.CharField(_("type"), max_length=40)
    occurred_at = models.DateTimeField(_("when"))
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,  # tracking_event_contact leads with it
    )
    visitor = models.ForeignKey(
        Visitor,
        verbose_name=_("visitor"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,  # tracking_event_visitor leads with it
        db_constraint=False,  # the writer stores events and their visitor in one batch
    )
    session = models.CharField(_("session"), max_length=80, blank=True)
    host = models.CharField(_("site"), max_length=255, blank=True)
    url = models.TextField(_("URL"), blank=True)  # path + query string
    referrer = models.TextField(_("referrer"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    browser = models.CharField(_("browser"), max_length=60, blank=True)
    os = models.CharField(_("operating system"), max_length=60, blank=True)
    device_type = models.CharField(
        _("device"), max_length=10, choices=DeviceType.choices, blank=True
    )
    is_machine = models.BooleanField(_("made by a machine"), default=False)
    props = models.JSONField(_("properties"), default=dict, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            # A contact's newest events (timeline) and event conditions per contact and time.
            models.Index(fields=["contact", "-occurred_at", "-id"], name="tracking_event_contact"),
            # Event conditions per type and time; top pages.
            models.Index(fields=["type", "-occurred_at"], name="tracking_event_type"),
            # Folding a visitor's events onto its contact; a visitor's history.
            models.Index(fields=["visitor", "-occurred_at"], name="tracking_event_visitor"),
            # Retention: the oldest events first.
            models.Index(fields=["occurred_at"], name="tracking_event_occurred"),
            # Events of visitors not yet folded onto their contact: the fold, of_contact().
            models.Index(
                fields=["visitor", "-occurred_at"],
                name="tracking_event_unfolded",
                condition=Q(contact__isnull=True),
            ),
            # Event conditions of segments (segments/compiler.py, ContactHasRows): the part of
            # the set from events not yet folded, by type and time - else that part reads every
            # event of the type again to find the few without a contact.
            models.Index(
                fields=["type", "-occurred_at"],
                name="tracking_event_unfolded_type",
                condition=Q(contact__isnull=True),
            ),
        ]
        constraints = [
            # A UniqueConstraint rather than unique=True: PostgreSQL then keeps no second
            # (LIKE) index on the key, one index less to maintain on every insert.
            models.UniqueConstraint(fields=["event_id"], name="tracking_event_key_once"),
        ]

    def __str__(self):
        return f"{self.type} {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def type_label(self) -> str:
        try:
            return str(EventType(self.type).label)
        except ValueError:
            return self.type


# --- Friendly names for the anonymous ------------------------------------------------------------

COLOURS = [
    ("青い", "Blue"),
    ("赤い", "Red"),
    ("白い", "White"),
    ("黒い", "Black"),
    ("黄色い", "Yellow"),
    ("緑の", "Green"),
    ("紫の", "Purple"),
    ("茶色の", "Brown"),
    ("銀色の", "Silver"),
    ("金色の", "Golden"),
    ("桃色の", "Pink"),
    ("灰色の", "Grey"),
    ("水色の", "Sky-blue"),
    ("橙色の", "Orange"),
    ("藍色の", "Indigo"),
    ("若草色の", "Lime"),
]
ANIMALS = [
    ("キツネ", "Fox"),
    ("タヌキ", "Raccoon Dog"),
    ("ウサギ", "Rabbit"),
    ("クマ", "Bear"),
    ("シカ", "Deer"),
    ("フクロウ", "Owl"),
    ("ツル", "Crane"),
    ("カメ", "Turtle"),
    ("ネコ", "Cat"),
    ("イヌ", "Dog"),
    ("リス", "Squirrel"),
    ("サル", "Monkey"),
    ("イルカ", "Dolphin"),
    ("クジラ", "Whale"),
    ("ペンギン", "Penguin"),
    ("パンダ", "Panda"),
    ("コアラ", "Koala"),
    ("ライオン", "Lion"),
    ("トラ", "Tiger"),
    ("オオカミ", "Wolf"),
    ("カワウソ", "Otter"),
    ("ハリネズミ", "Hedgehog"),
    ("スズメ", "Sparrow"),
    ("ツバメ", "Swallow"),
]


def friendly_name(visitor_id: str, language: str | None = None) -> str:
    """A stable, made-up name for a visitor ("青いキツネ" / "Blue Fox") from its id."""
    digest = hashlib.blake2b(visitor_id.encode(), digest_size=4).digest()
    colour = COLOURS[digest[0] % len(COLOURS)]
    animal = ANIMALS[int.from_bytes(digest[1:3]) % len(ANIMALS)]
    if (language or get_language() or "ja").startswith("ja"):
        return colour[0] + animal[0]
    return f"{colour[1]} {animal[1]}"
