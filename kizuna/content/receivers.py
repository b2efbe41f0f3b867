"""Saving or deleting an announcement makes every page look for a banner again."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from kizuna.content.feedback import forget_banner_windows
from kizuna.content.models import Announcement


@receiver([post_save, post_delete], sender=Announcement, dispatch_uid="content.banner_changed")
def banner_changed(sender, **kwargs):
    forget_banner_windows()
    transaction.on_commit(forget_banner_windows)  # a reader in between may have cached the old
