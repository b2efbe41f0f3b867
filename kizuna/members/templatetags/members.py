from django import template

from kizuna.core.models import RegistrationPolicy, SiteSettings

register = template.Library()


@register.simple_tag
def registration_open() -> bool:
    """Whether people can sign up themselves (the log-in page links to sign-up then)."""
    return SiteSettings.current().registration_policy != RegistrationPolicy.CLOSED
