"""Receivers of other apps' signals: a log-in stitches the browser's visitor to the member."""

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from kizuna.core.models import SiteSettings
from kizuna.crm.models import Contact
from kizuna.tracking import ingest, stitching
from kizuna.tracking.collector import site_settings
from kizuna.tracking.middleware import request_ip, tracking_allowed, visitor_id_from
from kizuna.tracking.spool import get_spool


@receiver(user_logged_in, dispatch_uid="tracking.stitch_on_login")
def stitch_on_login(sender, request, user, **kwargs):
    """The visitor of this browser is the user's contact from now on, its past included."""
    if request is None or not tracking_allowed(request):
        return
    contact = Contact.objects.filter(user=user).first()
    if contact is None:
        return  # staff without a contact record
    visitor_id = visitor_id_from(request)
    if visitor_id:
        stitching.identify_visitor(visitor_id, contact)
    get_spool().accept(
        [
            ingest.server_record(
                "login",
                visitor=visitor_id or "",
                contact_id=contact.pk,
                host=request.META.get("HTTP_HOST", "").split(":")[0],
                url=request.get_full_path(),
                ip=request_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
                language=getattr(request, "LANGUAGE_CODE", ""),
            )
        ]
    )


@receiver(post_save, sender=SiteSettings, dispatch_uid="tracking.settings_saved")
def forget_cached_settings(sender, **kwargs):
    """This process reads the new settings at once (others within a few seconds)."""
    site_settings.forget()
