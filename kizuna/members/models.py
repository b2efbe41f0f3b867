"""A member is a contact with a login: the Member row holds where they stand and their tier."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from kizuna.crm.models import Contact


class MemberState(models.TextChoices):
    """SEGMENTS.md's `member_state` values."""

    # The glossary's words: 仮登録, 承認待ち, 本登録, 利用停止, 退会.
    PENDING_VERIFICATION = (
        "pending_verification",
        pgettext_lazy("member state", "Awaiting confirmation"),
    )
    PENDING_APPROVAL = "pending_approval", pgettext_lazy("member state", "Awaiting approval")
    ACTIVE = "active", pgettext_lazy("member state", "Registered")
    SUSPENDED = "suspended", pgettext_lazy("member state", "Suspended")
    WITHDRAWN = "withdrawn", pgettext_lazy("member state", "Withdrawn")


class JoinedVia(models.TextChoices):
    SIGNUP = "signup", _("Signed up")
    INVITATION = "invitation", _("Invited by staff")


class Tier(models.Model):
    """A membership rank (会員ランク): free, paid, gold… `tier` in segments is the slug."""

    slug = models.SlugField(_("key"), max_length=50, unique=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_default = models.BooleanField(
        _("given to new members"),
        default=False,
        help_text=_("New members start in this rank. Only one rank can be the default."),
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("membership rank")
        verbose_name_plural = _("membership ranks")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="members_tier_one_default",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return (self.name_en if get_language() == "en" else self.name_ja) or self.name_ja


class MemberQuerySet(models.QuerySet):
    def in_state(self, state: str):
        return self.filter(state=state)

    def awaiting_approval(self):
        return self.filter(state=MemberState.PENDING_APPROVAL)


class Member(models.Model):
    """One person's membership. `contact` is empty while a sign-up with the email of an existing
    contact waits for confirmation: nothing of that contact is theirs before they prove the
    address (kizuna/members/registration.py)."""

    contact = models.OneToOneField(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="member",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="member",
    )
    state = models.CharField(_("state"), max_length=30, choices=MemberState.choices, db_index=True)
    tier = models.ForeignKey(
        Tier,
        verbose_name=_("membership rank"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )
    joined_via = models.CharField(
        _("joined via"), max_length=20, choices=JoinedVia.choices, default=JoinedVia.SIGNUP
    )
    # The registration form's answers, applied to the contact once the email is confirmed.
    signup_data = models.JSONField(default=dict, blank=True, editable=False)
    registered_at = models.DateTimeField(_("registered"), default=timezone.now)
    verified_at = models.DateTimeField(_("email confirmed"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    invited_at = models.DateTimeField(_("invited"), null=True, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    withdrawal_reason = models.TextField(_("reason for withdrawal"), blank=True)
    erasure_requested_at = models.DateTimeField(_("erasure requested"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["-registered_at", "-id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            # The approval queue and the members list filtered by state, newest first.
            models.Index(fields=["state", "-registered_at"], name="members_state_registered"),
        ]

    def __str__(self):
        if self.contact_id:
            return str(self.contact)
        if self.user_id:
            return self.user.email
        return str(_("member #%(id)s") % {"id": self.pk})

    @property
    def email(self) -> str:
        if self.user_id:
            return self.user.email
        return self.contact.email if self.contact_id else ""

    @property
    def can_log_in(self) -> bool:
        return self.state == MemberState.ACTIVE
