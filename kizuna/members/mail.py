"""Member emails (invitation, approval, rejection, withdrawal, staff notices) in the recipient's
language, with the site's name and the paragraph staff wrote for that email in the console.

allauth's own emails (confirmation, reset) get the same site name through the account adapter."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from kizuna.core.models import SiteSettings

# The emails staff may add a paragraph to (SiteSettings.member_mail_wording), with their labels
# in the console form (kizuna/members/forms.py).
WORDING_KINDS = ("confirmation", "invitation", "approved", "rejected", "reset")


def mail_language(language: str) -> str:
    codes = [code for code, _name in settings.LANGUAGES]
    return language if language in codes else settings.LANGUAGE_CODE


def send_member_mail(kind: str, to: str, *, language: str = "", context: dict | None = None):
    """Render members/mail/<kind>_subject.txt and _body.txt in `language`, send transactionally."""
    site = SiteSettings.current()
    language = mail_language(language)
    with translation.override(language):
        values = {
            "site_name": site.site_name,
            "wording": site.mail_wording(kind, language),
            **(context or {}),
        }
        subject = render_to_string(f"members/mail/{kind}_subject.txt", values)
        body = render_to_string(f"members/mail/{kind}_body.txt", values)
    message = EmailMultiAlternatives(
        subject=f"【{site.site_name}】" + " ".join(subject.split()),
        body=body.strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.send(using="transactional")
