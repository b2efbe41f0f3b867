"""Saved segments and who is in them now.

A Segment keeps a filter (SEGMENTS.md). Its members are recomputed by a periodic refresh
(membership.py) that records who entered and who left as `segment_entered` / `segment_exited`
events, touching only the rows that changed.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kizuna.crm.models import Contact


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    filter = models.JSONField(_("filter"), default=dict)
    shared = models.BooleanField(
        _("shared"), default=True, help_text=_("Every staff member sees a shared segment.")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    predefined = models.BooleanField(_("predefined"), default=False)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    refreshed_at = models.DateTimeField(_("refreshed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self):
        return self.name


class Membership(models.Model):
    """The contact was in the segment at its last refresh (since `entered_at`)."""

    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,  # segments_membership_once leads with it
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="segment_memberships",
    )
    entered_at = models.DateTimeField(_("entered"))

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segments_membership_once")
        ]

    def __str__(self):
        return f"{self.segment_id}:{self.contact_id}"
