"""The tracking settings form: consent mode, IP shortening, retention and the allowed sites."""

import re
import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import transaction
from django.utils.translation import gettext as _

from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction, SiteSettings

MAX_RETENTION_DAYS = 36500  # 100 years; 0 keeps data for ever
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_host(line: str) -> str:
    """One line of the allowed sites as the collector compares it: full-width letters and dots
    folded, lower case, international names in their ASCII (punycode) form.

    Raises ValidationError with a message naming the line when it is not a host name."""
    text = unicodedata.normalize("NFKC", line).strip().replace("。", ".").lower().rstrip(".")
    if "://" in text or "/" in text or ":" in text or "?" in text or "@" in text:
        hint = re.sub(r"^[a-z]+://", "", text).split("/")[0].split("?")[0].split("@")[-1]
        hint = hint.split(":")[0]
        raise ValidationError(
            _("“%(line)s” is not a domain. Enter the domain only, such as “%(hint)s”.")
            % {"line": line.strip(), "hint": hint or "example.co.jp"},
            code="not_a_host",
        )
    try:
        ascii_host = text.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.split(".")
    if not ascii_host or len(ascii_host) > 253 or not all(HOST_LABEL.match(p) for p in labels):
        raise ValidationError(
            _(
                "“%(line)s” is not a valid domain. Use letters, digits, hyphens and dots, "
                "such as example.co.jp."
            )
            % {"line": line.strip()},
            code="invalid_host",
        )
    return ascii_host


class TrackingSettingsForm(forms.ModelForm):
    class Meta:
        model = SiteSettings
        fields = [
            "tracking_consent_mode",
            "tracking_truncate_ip",
            "anonymous_retention_days",
            "event_retention_days",
            "tracking_domains",
        ]
        widgets = {
            "tracking_domains": forms.Textarea(
                attrs={"rows": 5, "spellcheck": "false", "autocapitalize": "none"}
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("anonymous_retention_days", "event_retention_days"):
            self.fields[name].validators.append(MaxValueValidator(MAX_RETENTION_DAYS))
            self.fields[name].widget.attrs["max"] = MAX_RETENTION_DAYS

    def clean_tracking_domains(self) -> str:
        hosts, errors = [], []
        for line in self.cleaned_data["tracking_domains"].splitlines():
            if not line.strip():
                continue
            try:
                host = normalize_host(line)
            except ValidationError as error:
                errors.append(error)
                continue
            if host not in hosts:
                hosts.append(host)
        if errors:
            raise ValidationError(errors)
        return "\n".join(hosts)

    def save(self, *, by) -> SiteSettings:
        """Store the settings and an audit entry of what changed, in one transaction."""
        before = {name: self.initial.get(name) for name in self.Meta.fields}
        with transaction.atomic():
            settings_row = super().save()
            after = {name: getattr(settings_row, name) for name in self.Meta.fields}
            changes = changed_fields(before, after)
            if changes:
                record_audit(by, AuditAction.UPDATE, settings_row, changes=changes)
        return settings_row
