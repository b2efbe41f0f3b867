"""Saving or deleting an announcement makes every page look for a banner again."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from kizuna.content.feedback import forget_announcement_windows
from kizuna.content.models import Announcement


@receiver([post_save, post_delete], sender=Announcement, dispatch_uid="content.announcement_saved")
def announcement_changed(sender, **kwargs):
    forget_announcement_windows()
    # Again after the commit: a page read in between may have cached the old windows.
    transaction.on_commit(forget_announcement_windows)
