"""The password rules staff set in the console (minimum length, kinds of character), applied by
Django's validate_password wherever a password is set: sign-up, reset, change, invitation."""

import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kizuna.core.models import SiteSettings

SYMBOLS = set(string.punctuation) | set(
    "　！＂＃＄％＆＇（）＊＋，－．／：；＜＝＞？＠［＼］＾＿｀｛｜｝～"
)


def password_rules(site: SiteSettings) -> list[str]:
    """The rules in words, in the current language, for the help text next to the field."""
    rules = [
        ngettext(
            "At least %(count)d character.",
            "At least %(count)d characters.",
            site.password_min_length,
        )
        % {"count": site.password_min_length}
    ]
    if site.password_require_lowercase:
        rules.append(_("At least one lowercase letter (a–z)."))
    if site.password_require_uppercase:
        rules.append(_("At least one uppercase letter (A–Z)."))
    if site.password_require_digit:
        rules.append(_("At least one digit (0–9)."))
    if site.password_require_symbol:
        rules.append(_("At least one symbol such as ! # $ % &."))
    rules.append(_("Not a common password, and not too similar to your name or email address."))
    return rules


def password_problems(password: str, site: SiteSettings) -> list[str]:
    problems = []
    if len(password) < site.password_min_length:
        problems.append(
            ngettext(
                "The password is too short: use at least %(count)d character.",
                "The password is too short: use at least %(count)d characters.",
                site.password_min_length,
            )
            % {"count": site.password_min_length}
        )
    if site.password_require_lowercase and not any(c in string.ascii_lowercase for c in password):
        problems.append(_("The password needs a lowercase letter (a–z)."))
    if site.password_require_uppercase and not any(c in string.ascii_uppercase for c in password):
        problems.append(_("The password needs an uppercase letter (A–Z)."))
    if site.password_require_digit and not any(c.isdigit() for c in password):
        problems.append(_("The password needs a digit (0–9)."))
    if site.password_require_symbol and not any(c in SYMBOLS for c in password):
        problems.append(_("The password needs a symbol such as ! # $ % &."))
    return problems


class SitePasswordPolicyValidator:
    """An AUTH_PASSWORD_VALIDATORS entry reading the rules from the site settings."""

    def validate(self, password, user=None):
        problems = password_problems(password, SiteSettings.current())
        if problems:
            raise ValidationError(problems, code="password_policy")

    def get_help_text(self):
        return " ".join(password_rules(SiteSettings.current()))
