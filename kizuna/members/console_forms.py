"""Forms of the members console: registration settings, tiers, a member's tier, rejecting with a
reason, inviting one contact.

Settings and tier changes are single-row writes with an audit entry, done by the forms' save()
inside one transaction (there is no operation touching several models behind them)."""

from django import forms
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction, RegistrationPolicy, SiteSettings
from kizuna.crm.models import Contact
from kizuna.members.mail import WORDING_KINDS
from kizuna.members.models import Tier

# The registration policies in the words of the table: who creates the account, and when
# the person can log in. "On inquiry" is the separate checkbox register_on_inquiry.
POLICY_EXPLANATIONS = {
    RegistrationPolicy.CLOSED: gettext_lazy(
        "Only staff create accounts: “invite as member” on a contact, a selection or a segment. "
        "The invitee can log in after setting a password from the emailed link."
    ),
    RegistrationPolicy.OPEN: gettext_lazy(
        "People sign up themselves and can log in after confirming the emailed link "
        "(provisional registration → full registration)."
    ),
    RegistrationPolicy.APPROVAL: gettext_lazy(
        "People sign up and confirm their email; they can log in only after staff approve. "
        "Staff are notified, and the person is emailed on approval or rejection."
    ),
}
ON_INQUIRY_EXPLANATION = gettext_lazy(
    "Posting an inquiry form creates the contact as a lead. They cannot log in until they "
    "register or accept a “claim your account” invitation; their past inquiries are then already "
    "on My Page. This works together with any of the policies above."
)
# Labels of the member emails whose wording staff write (mail.WORDING_KINDS).
WORDING_LABELS = {
    "confirmation": gettext_lazy("Email confirmation"),
    "invitation": gettext_lazy("Invitation"),
    "approved": gettext_lazy("Approval"),
    "rejected": gettext_lazy("Rejection"),
    "reset": gettext_lazy("Password reset"),
}
WORDING_LANGUAGES = (
    ("ja", pgettext_lazy("language", "Japanese")),
    ("en", pgettext_lazy("language", "English")),
)


def wording_field_name(kind: str, language: str) -> str:
    return f"wording_{kind}_{language}"


class RegistrationSettingsForm(forms.ModelForm):
    """The site's registration settings; the email wording is ten textareas (five emails, two
    languages) kept in the one JSON column member_mail_wording."""

    class Meta:
        model = SiteSettings
        fields = [
            "registration_policy",
            "register_on_inquiry",
            "password_min_length",
            "password_require_lowercase",
            "password_require_uppercase",
            "password_require_digit",
            "password_require_symbol",
            "require_staff_two_factor",
            "site_name",
            "terms_ja",
            "terms_en",
        ]
        widgets = {
            "registration_policy": forms.RadioSelect,
            "terms_ja": forms.Textarea(attrs={"rows": 8}),
            "terms_en": forms.Textarea(attrs={"rows": 8}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["register_on_inquiry"].help_text = ON_INQUIRY_EXPLANATION
        self.fields["terms_ja"].help_text = _(
            "Shown on the sign-up form; people must agree to it to register. Leave both empty "
            "for no terms."
        )
        self.fields["terms_en"].help_text = _(
            "Shown to people using the site in English; the Japanese text when empty."
        )
        wording = self.instance.member_mail_wording or {}
        for kind in WORDING_KINDS:
            for language, language_label in WORDING_LANGUAGES:
                name = wording_field_name(kind, language)
                self.fields[name] = forms.CharField(
                    label=_("%(email)s (%(language)s)")
                    % {"email": WORDING_LABELS.get(kind, kind), "language": language_label},
                    required=False,
                    max_length=4000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    initial=(wording.get(kind) or {}).get(language, ""),
                )

    def policy_options(self) -> list[tuple]:
        """The policy radios, each with its explanation, for the template."""
        return [
            (radio, POLICY_EXPLANATIONS.get(radio.data["value"], ""))
            for radio in self["registration_policy"]
        ]

    def wording_groups(self) -> list[tuple]:
        """[(email label, [bound field per language])]."""
        return [
            (
                WORDING_LABELS.get(kind, kind),
                [self[wording_field_name(kind, language)] for language, _l in WORDING_LANGUAGES],
            )
            for kind in WORDING_KINDS
        ]

    def main_fields(self) -> list:
        return [self[name] for name in self.Meta.fields if name != "registration_policy"]

    def save_by(self, user) -> SiteSettings:
        """Save the settings and record what changed in the audit log."""
        with transaction.atomic():
            before = SiteSettings.objects.select_for_update().get(pk=self.instance.pk)
            site = self.save(commit=False)
            site.member_mail_wording = {
                kind: {
                    language: self.cleaned_data[wording_field_name(kind, language)].strip()
                    for language, _l in WORDING_LANGUAGES
                }
                for kind in WORDING_KINDS
            }
            site.save()
            changes = changed_fields(_settings_values(before), _settings_values(site))
            record_audit(user, AuditAction.UPDATE, site, changes=changes)
        return site


def _settings_values(site: SiteSettings) -> dict:
    values = {name: getattr(site, name) for name in RegistrationSettingsForm.Meta.fields}
    values["member_mail_wording"] = site.member_mail_wording
    return values


class TierForm(forms.ModelForm):
    """A tier. Its key (the `tier` value in segments and audiences) is fixed once members have
    the tier; ticking "given to new members" takes the default from the tier that had it."""

    class Meta:
        model = Tier
        fields = ["name_ja", "name_en", "slug", "description", "position", "is_default"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].help_text = _(
            "Lowercase letters, digits, hyphens and underscores (free, paid, gold). Segments and "
            "audiences refer to the tier by this key."
        )
        self.slug_locked = bool(self.instance.pk and self.instance.members.exists())
        if self.slug_locked:
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = _(
                "Members have this tier, so its key can no longer change: segments and audiences "
                "refer to it."
            )

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        return slug if self.slug_locked else slug.lower()

    def validate_constraints(self):
        """The one-default constraint is kept by save() moving the default, not refused here."""
        exclude = self._get_validation_exclusions() | {"is_default"}
        try:
            self.instance.validate_constraints(exclude=exclude)
        except forms.ValidationError as error:
            self._update_errors(error)

    @transaction.atomic
    def save(self, commit=True):
        tier = super().save(commit=False)
        if tier.is_default:
            Tier.objects.filter(is_default=True).exclude(pk=tier.pk).update(is_default=False)
        if commit:
            tier.save()
        return tier


class MemberTierForm(forms.Form):
    tier = forms.ModelChoiceField(
        label=gettext_lazy("Membership rank"),
        queryset=Tier.objects.all(),
        required=False,
        empty_label=gettext_lazy("— no membership rank —"),
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Included in the email to the person."),
    )


class InviteContactForm(forms.Form):
    """One contact to invite, by id or email address."""

    contact = forms.CharField(
        label=gettext_lazy("Contact id or email address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_contact(self) -> Contact:
        text = self.cleaned_data["contact"].strip()
        contact = None
        if text.isdigit():
            contact = Contact.objects.filter(pk=int(text)).first()
        elif text:
            contact = Contact.objects.with_email(text).order_by("pk").first()
        if contact is None:
            raise forms.ValidationError(
                _("No contact has the id or email “%(text)s”.") % {"text": text}
            )
        return contact
