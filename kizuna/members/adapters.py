"""allauth's account adapter: the registration policy decides whether sign-up is open, the
membership state whether a log-in may proceed, and mail carries the site's name."""

from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.core import context
from django.shortcuts import render
from django.utils import translation

from kizuna.accounts.models import User
from kizuna.core.models import RegistrationPolicy, SiteSettings
from kizuna.members.mail import mail_language
from kizuna.members.registration import can_log_in


class MemberAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return SiteSettings.current().registration_policy in (
            RegistrationPolicy.OPEN,
            RegistrationPolicy.APPROVAL,
        )

    def pre_login(self, request, user, **kwargs):
        # Reached only with the right password (or a confirmed email), so saying why is safe.
        allowed, message = can_log_in(user)
        if not allowed:
            clear_login(request)
            return render(request, "members/site/login_refused.html", {"message": message})
        return super().pre_login(request, user, **kwargs)

    def send_mail(self, template_prefix, email, context_values):
        """In the recipient's language when they have a login (a resend from the console is not
        in the staff member's), else the page's."""
        request = context.request
        site = SiteSettings.current()
        known = User.objects.filter(email__iexact=email).values_list("language", flat=True).first()
        language = mail_language(known or getattr(request, "LANGUAGE_CODE", ""))
        values = {
            "current_site": SimpleNamespace(name=site.site_name, domain=request.get_host()),
            "site_wording": _wording_for(template_prefix, site, language),
            **context_values,
        }
        with translation.override(language):
            super().send_mail(template_prefix, email, values)

    def format_email_subject(self, subject):
        return f"【{SiteSettings.current().site_name}】{subject}"


def _wording_for(template_prefix: str, site: SiteSettings, language: str) -> str:
    if "email_confirmation" in template_prefix:
        return site.mail_wording("confirmation", language)
    if "password_reset" in template_prefix:
        return site.mail_wording("reset", language)
    return ""
