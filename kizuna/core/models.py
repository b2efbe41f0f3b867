import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """A message kept by the development outbox instead of being sent (no SMTP configured)."""

    mailer = models.CharField(_("mailer"), max_length=50, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    from_email = models.CharField(_("from"), max_length=500)
    to = models.JSONField(_("to"), default=list)
    cc = models.JSONField(_("cc"), default=list)
    bcc = models.JSONField(_("bcc"), default=list)
    reply_to = models.JSONField(_("reply to"), default=list)
    subject = models.CharField(_("subject"), max_length=1000)
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    raw = models.TextField(_("raw message"))
    created_at = models.DateTimeField(_("kept at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")

    def __str__(self):
        return self.subject

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]


class ScheduledJob(models.Model):
    """When a periodic job runs next. Schedulers claim a tick by moving next_run_at forward."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    next_run_at = models.DateTimeField(_("next run"))
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")

    def __str__(self):
        return self.name


class WorkerHeartbeat(models.Model):
    """A running task worker says it is alive; tasks of a worker that went silent run again."""

    worker_id = models.CharField(_("worker id"), max_length=64, primary_key=True)
    hostname = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    beat_at = models.DateTimeField(_("last heartbeat"), db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self):
        return f"{self.worker_id} ({self.hostname}:{self.pid})"


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Updated")
    DELETE = "delete", _("Deleted")
    IMPORT = "import", _("Imported")
    EXPORT = "export", _("Exported")
    BULK_UPDATE = "bulk_update", _("Bulk update")
    BULK_DELETE = "bulk_delete", _("Bulk delete")
    MERGE = "merge", _("Merged")
    UNMERGE = "unmerge", _("Merge undone")
    DOWNLOAD = "download", _("File downloaded")
    INVITE = "invite", _("Invited as member")
    APPROVE = "approve", _("Membership approved")
    REJECT = "reject", _("Membership rejected")
    SUSPEND = "suspend", _("Membership suspended")
    REACTIVATE = "reactivate", _("Membership reactivated")
    WITHDRAW = "withdraw", _("Withdrew")
    ERASE = "erase", _("Personal data erased")


class AuditLog(models.Model):
    """Who did what to personal data, when, and to how many rows. Written, never edited."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("who"), max_length=255, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(_("object type"), max_length=50)  # "crm.contact"
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=1)
    changes = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        indexes = [
            # One object's history on its detail page.
            models.Index(fields=["object_type", "object_id", "-created_at"], name="core_audit_obj")
        ]

    def __str__(self):
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"
        )


class ConsentMode(models.TextChoices):
    ALWAYS = "always", _("Track every visitor")
    AFTER_CONSENT = "after_consent", _("Track only after the visitor accepts the consent banner")


_settings_cache: dict = {"row": None, "at": 0.0}


class RegistrationPolicy(models.TextChoices):
    CLOSED = "closed", _("Staff only: staff invite members")
    OPEN = "open", _("Self sign-up: people sign up and confirm their email")
    APPROVAL = "approval", _("Approval: people sign up, staff approve")


class SiteSettings(models.Model):
    """The site's settings staff change in the console: one row, read through `current()`.

    Apps add their own fields here (DESIGN.md: core owns the one settings row)."""

    # Tracking (privacy).
    tracking_consent_mode = models.CharField(
        _("tracking consent"),
        max_length=20,
        choices=ConsentMode.choices,
        default=ConsentMode.ALWAYS,
    )
    tracking_truncate_ip = models.BooleanField(
        _("shorten IP addresses"),
        default=False,
        help_text=_("Store 203.0.113.0 instead of 203.0.113.57 (the last 80 bits of IPv6)."),
    )
    anonymous_retention_days = models.PositiveIntegerField(
        _("keep anonymous visitors for (days)"),
        default=180,
        help_text=_(
            "Visitors never identified are deleted with their events after this. 0 keeps them."
        ),
    )
    event_retention_days = models.PositiveIntegerField(
        _("keep events for (days)"),
        default=730,
        help_text=_("Older events are deleted, also those of known contacts. 0 keeps them."),
    )
    tracking_domains = models.TextField(
        _("sites allowed to send events"),
        blank=True,
        help_text=_(
            "One domain a line (example.co.jp, shop.example.com) for the tracking snippet."
        ),
    )
    # Members (kizuna.members): how people become members and what their passwords must hold.
    site_name = models.CharField(
        _("site name"), max_length=100, default="Kizuna", help_text=_("Shown in emails.")
    )
    registration_policy = models.CharField(
        _("registration policy"),
        max_length=20,
        choices=RegistrationPolicy.choices,
        default=RegistrationPolicy.CLOSED,
    )
    register_on_inquiry = models.BooleanField(
        _("on inquiry: create contacts from inquiry forms"),
        default=False,
        help_text=_(
            "An inquiry form creates the sender's contact as a lead; they can claim an account "
            "later and find their inquiries on My Page."
        ),
    )
    password_min_length = models.PositiveSmallIntegerField(
        _("minimum password length"),
        default=10,
        validators=[MinValueValidator(8), MaxValueValidator(128)],
    )
    password_require_lowercase = models.BooleanField(_("require a lowercase letter"), default=False)
    password_require_uppercase = models.BooleanField(
        _("require an uppercase letter"), default=False
    )
    password_require_digit = models.BooleanField(_("require a digit"), default=False)
    password_require_symbol = models.BooleanField(_("require a symbol"), default=False)
    require_staff_two_factor = models.BooleanField(
        _("staff must use two-factor authentication"),
        default=False,
        help_text=_("Staff without an authenticator app are sent to set one up first."),
    )
    terms_ja = models.TextField(_("terms of membership (Japanese)"), blank=True)
    terms_en = models.TextField(_("terms of membership (English)"), blank=True)
    # Staff's own paragraph in each member email: {"invitation": {"ja": "...", "en": "..."}, ...}
    member_mail_wording = models.JSONField(_("member email wording"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("site settings")
        verbose_name_plural = _("site settings")

    def __str__(self):
        return str(_("Site settings"))

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        SiteSettings.forget_cached()

    @classmethod
    def cached(cls, max_age: float = 5.0) -> "SiteSettings":
        """The settings row as this process read it at most `max_age` seconds ago: for checks on
        every request (staff two-factor). Saving the row through the ORM forgets it at once."""
        now = time.monotonic()
        if _settings_cache["row"] is None or now - _settings_cache["at"] > max_age:
            _settings_cache["row"], _settings_cache["at"] = cls.current(), now
        return _settings_cache["row"]

    @classmethod
    def forget_cached(cls) -> None:
        _settings_cache["row"] = None

    @classmethod
    def prime_cached(cls) -> None:
        """Tests: the defaults, with no query, until the row is saved."""
        _settings_cache["row"], _settings_cache["at"] = cls(), float("inf")

    @classmethod
    def current(cls) -> "SiteSettings":
        """The settings row (created with the defaults on first use)."""
        settings_row, _created = cls.objects.get_or_create(pk=1)
        return settings_row

    def terms(self, language: str) -> str:
        return (self.terms_en if language == "en" else self.terms_ja) or self.terms_ja

    def mail_wording(self, kind: str, language: str) -> str:
        """Staff's paragraph for one member email in a language (Japanese when none given)."""
        texts = self.member_mail_wording.get(kind) or {}
        return texts.get(language) or texts.get("ja", "")

    @property
    def tracking_domain_list(self) -> list[str]:
        return [line.strip().lower() for line in self.tracking_domains.splitlines() if line.strip()]
