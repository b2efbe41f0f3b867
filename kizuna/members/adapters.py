"""allauth's account adapter: the registration policy decides whether sign-up is open, the
membership state whether a log-in may proceed, and mail carries the site's name."""

from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.core import context
from django.shortcuts import render

from kizuna.core.models import RegistrationPolicy, SiteSettings
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
        request = context.request
        site = SiteSettings.current()
        values = {
            "current_site": SimpleNamespace(name=site.site_name, domain=request.get_host()),
            "site_wording": _wording_for(template_prefix, site, request),
            **context_values,
        }
        super().send_mail(template_prefix, email, values)

    def format_email_subject(self, subject):
        return f"【{SiteSettings.current().site_name}】{subject}"


def _wording_for(template_prefix: str, site: SiteSettings, request) -> str:
    language = getattr(request, "LANGUAGE_CODE", "ja")
    if "email_confirmation" in template_prefix:
        return site.mail_wording("confirmation", language)
    if "password_reset" in template_prefix:
        return site.mail_wording("reset", language)
    return ""
