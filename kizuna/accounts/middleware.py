"""Staff must set up two-factor authentication before they use the console, when the site
settings require it (allauth's MFA does the rest: the code at log-in, recovery codes)."""

from allauth.mfa.models import Authenticator
from django.shortcuts import redirect
from django.urls import reverse

from kizuna.core.models import SiteSettings


class StaffTwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path.startswith("/console/")
            and SiteSettings.cached().require_staff_two_factor
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            return redirect(reverse("mfa_activate_totp") + "?next=" + request.path)
        return self.get_response(request)
