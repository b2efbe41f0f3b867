"""The member's forms on the site: sign-up (allauth's, with the profile, terms and consent),
profile, accepting an invitation, withdrawal."""

import time

from allauth.account.adapter import get_adapter
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context, ratelimit
from django import forms
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.core import signing
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kizuna.core.models import SiteSettings
from kizuna.crm.forms import CustomFieldsForm
from kizuna.crm.models import Contact, FieldDefinition, FieldType
from kizuna.members.passwords import password_rules
from kizuna.members.registration import MEMBER_CONTACT_FIELDS, register_member

OPT_IN_WORDING = gettext_lazy(
    "I would like to receive news and offers by email (you can unsubscribe at any time)."
)
STARTED_SALT = "kizuna.members.signup-started"


def signup_started_token(at: float | None = None) -> str:
    """When the form was shown, signed: a form posted sooner than KIZUNA_SIGNUP_MIN_SECONDS is a
    bot's. Tests pass an earlier time."""
    return signing.dumps(at if at is not None else time.time(), salt=STARTED_SALT)


class MemberProfileForm(CustomFieldsForm):
    """The contact fields a member may set: names, phone, address and the custom fields staff
    marked "members may edit it". Anything else posted (tier, owner, flags) is not a field here,
    so it is ignored."""

    builtin_groups = [
        (
            pgettext_lazy("field group", "Name"),
            ["family_name", "given_name", "family_name_kana", "given_name_kana"],
        ),
        (pgettext_lazy("field group", "Contact details"), ["phone"]),
        (pgettext_lazy("field group", "Address"), ["postal_code", "prefecture", "city", "address"]),
    ]
    normalised_fields = [
        "family_name", "given_name", "family_name_kana", "given_name_kana", "phone", "postal_code",
    ]  # fmt: skip

    class Meta:
        model = Contact
        fields = list(MEMBER_CONTACT_FIELDS)
        widgets = {"phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"})}

    def __init__(self, *args, registration: bool = False, **kwargs):
        self.registration = registration
        super().__init__(*args, **kwargs)
        self.fields["family_name"].required = True
        self.fields["given_name"].required = True
        self.fields["family_name"].widget.attrs["autocomplete"] = "family-name"
        self.fields["given_name"].widget.attrs["autocomplete"] = "given-name"

    def get_definitions(self):
        definitions = FieldDefinition.objects.for_contacts().active().filter(member_editable=True)
        if self.registration:  # files are added on My Page, after the email is confirmed
            definitions = definitions.exclude(type=FieldType.FILE)
        return definitions

    def profile_values(self) -> dict:
        values = {name: self.cleaned_data.get(name) or "" for name in MEMBER_CONTACT_FIELDS}
        values["custom"] = {
            d.key: self.instance.custom[d.key]
            for d in self.definitions
            if d.key in self.instance.custom
        }
        return values


class SignupForm(AllauthSignupForm):
    """allauth's sign-up (email, password twice, its honeypot) plus the profile, the terms and
    marketing consent. Bots posting faster than a person can type are answered as if all went
    well and nothing is stored or sent; sign-ups per email domain are limited."""

    started = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        site = SiteSettings.current()
        # allauth styles its honeypot inline, which our CSP refuses; the template hides it.
        self.fields["website"].widget.attrs.pop("style", None)
        self.fields["started"].initial = signup_started_token()
        self.fields["password1"].help_text = " ".join(password_rules(site))
        self.profile_form = MemberProfileForm(
            self.data if self.is_bound else None, instance=Contact(), registration=True
        )
        language = getattr(context.request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)
        self.terms_text = site.terms(language)
        if self.terms_text:
            self.fields["agree_terms"] = forms.BooleanField(
                label=_("I agree to the terms of membership."),
                error_messages={"required": _("Please agree to the terms to register.")},
            )
        self.fields["email_opt_in"] = forms.BooleanField(label=OPT_IN_WORDING, required=False)

    def clean(self):
        cleaned = super().clean()
        if not self.profile_form.is_valid():
            raise forms.ValidationError(_("Please correct the errors in your profile below."))
        email = cleaned.get("email") or ""
        domain = email.rpartition("@")[2].lower()
        if domain and not ratelimit.consume(
            context.request, action="signup_domain", key=domain, dry_run=True
        ):
            raise forms.ValidationError(
                _("Too many sign-ups from this email domain right now. Please try again later.")
            )
        return cleaned

    def posted_too_fast(self) -> bool:
        try:
            started = signing.loads(self.cleaned_data.get("started") or "", salt=STARTED_SALT)
        except signing.BadSignature:
            return True
        return time.time() - float(started) < settings.KIZUNA_SIGNUP_MIN_SECONDS

    def try_save(self, request):
        if self.posted_too_fast():
            return None, get_adapter().respond_email_verification_sent(request, None)
        email = self.cleaned_data.get("email") or ""
        ratelimit.consume(request, action="signup_domain", key=email.rpartition("@")[2].lower())
        return super().try_save(request)

    def signup(self, request, user):
        """Called by allauth once the user is saved (never for a known email)."""
        from_form = self.profile_form.profile_values()
        user.name = f"{from_form['family_name']} {from_form['given_name']}".strip()
        user.language = getattr(request, "LANGUAGE_CODE", "") or settings.LANGUAGE_CODE
        user.save(update_fields=["name", "language"])
        wording = OPT_IN_WORDING if self.cleaned_data.get("email_opt_in") else ""
        register_member(user, from_form, opt_in_wording=wording, request=request)


class AcceptInvitationForm(SetPasswordForm):
    """Choose a password (the site's password rules apply through validate_password)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = " ".join(password_rules(SiteSettings.current()))


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for leaving (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    request_erasure = forms.BooleanField(
        label=gettext_lazy("Also delete my personal data"),
        required=False,
        help_text=gettext_lazy(
            "Staff confirm the request, then remove your profile, files and history for good."
        ),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that my membership ends now and I can no longer log in."),
        error_messages={"required": gettext_lazy("Please tick the box to confirm.")},
    )
