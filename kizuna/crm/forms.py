"""Console forms for contacts, companies and records, generated from the field definitions.

Built-in fields come from the model; every active custom field is added through
fields.form_field and checked by fields.clean_value, so a value typed here is stored exactly as
the same text imported from CSV or sent through the API would be. Fields are laid out in groups:
the built-in groups first, then each custom group in designer order (a custom group named like a
built-in one joins it).

Values are normalised with the model's normalize() before they are checked (full-width digits and
letters, kana to full-width katakana), so a full-width ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ is a valid -
and the same - email address. File fields are checked here and stored by the operation
(files.apply_uploads).
"""

import datetime
import re
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import EmailValidator, MaxValueValidator
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kizuna.accounts.models import User
from kizuna.crm import consent, fields, files, normalising
from kizuna.crm.models import (
    Company,
    Contact,
    FieldDefinition,
    FieldType,
    Note,
    Record,
    RecordType,
    SavedView,
    StoredFile,
)

CUSTOM_PREFIX = "custom_"
POSTAL_CODE = re.compile(r"^\d{3}-\d{4}$")


def custom_field_name(definition: FieldDefinition) -> str:
    """The form field name of a custom field (kept apart from the built-in names)."""
    return CUSTOM_PREFIX + definition.key


def postal_code_url_template() -> str:
    """The lookup URL postal-code.js calls, with {code} where the seven digits go."""
    return reverse("crm_site:postal_code", args=["0000000"]).replace("0000000", "{code}")


class StoredFileLink:
    """What a file field shows as its current value: the name, linked to the checked download."""

    def __init__(self, stored_file: StoredFile | None, file_id: str):
        self.pk = file_id
        self.name = stored_file.name if stored_file else _("(missing file)")
        self.url = reverse("crm:file_download", args=[file_id]) if stored_file else ""

    def __str__(self):
        return self.name


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


class CompanyInput(forms.TextInput):
    """A text box for the company's name with suggestions as one types (htmx fills a datalist)."""

    template_name = "crm/console/_company_input.html"

    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", **(attrs or {})})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        list_id = f"{context['widget']['attrs'].get('id') or name}-options"
        context["widget"]["attrs"].update(
            {
                "list": list_id,
                "hx-get": reverse("crm:company_options"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": f"#{list_id}",
                "hx-swap": "innerHTML",
            }
        )
        context["widget"]["list_id"] = list_id
        return context


_COMPANY_WITH_ID = re.compile(r"^(.*?)\s*[（(]#(\d+)[)）]$")


def company_choice_label(company: Company, duplicated: bool = False) -> str:
    """The text that picks a company: its name, with its number when the name is not unique."""
    return f"{company.name} (#{company.pk})" if duplicated else company.name


class CompanyField(forms.CharField):
    """The company chosen by name (or "name (#id)" where several share a name)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", gettext_lazy("Company"))
        super().__init__(required=False, max_length=230, widget=CompanyInput(), **kwargs)

    def prepare_value(self, value):
        if isinstance(value, int):
            value = Company.objects.filter(pk=value).first()
        if isinstance(value, Company):
            duplicated = Company.objects.filter(name=value.name).exclude(pk=value.pk).exists()
            return company_choice_label(value, duplicated)
        return value

    def clean(self, value):
        text = normalising.normalize_text(super().clean(value))
        if not text:
            return None
        if match := _COMPANY_WITH_ID.match(text):
            company = Company.objects.filter(pk=int(match[2])).first()
            if company is not None:
                return company
        matches = list(Company.objects.filter(name=text)[:2])
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ValidationError(
                _(
                    "There is no company named “%(name)s”. "
                    "Pick one from the list or add the company first."
                )
                % {"name": text},
                code="company",
            )
        raise ValidationError(
            _("Several companies are named “%(name)s”: pick one from the list.") % {"name": text},
            code="company_ambiguous",
        )


def staff_queryset(current_owner_id=None):
    """Active staff, plus the current owner even if they have left (so an edit does not fail)."""
    queryset = User.objects.staff()
    if current_owner_id:
        queryset = queryset | User.objects.filter(pk=current_owner_id)
    return queryset.order_by("name", "email")


class CustomFieldsForm(forms.ModelForm):
    """A model form whose instance keeps custom values in `custom`; subclasses say which
    definitions apply and how the built-in fields are grouped."""

    builtin_groups: list[tuple[object, list[str]]] = []
    normalised_fields: list[str] = []

    def __init__(self, *args, definitions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.definitions = list(definitions if definitions is not None else self.get_definitions())
        self.uploads = {}
        custom = self.instance.custom or {}
        file_ids = [
            custom[d.key] for d in self.definitions if d.type == FieldType.FILE and d.key in custom
        ]
        stored_files = StoredFile.objects.in_bulk([fid for fid in file_ids if _is_uuid(fid)])
        for definition in self.definitions:
            name = custom_field_name(definition)
            self.fields[name] = custom_form_field(definition)
            value = custom.get(definition.key)
            if definition.type == FieldType.FILE and value:
                stored = stored_files.get(_as_uuid(value))
                self.initial[name] = StoredFileLink(stored, value)
            else:
                self.initial[name] = fields.form_initial(definition, value)
        if "owner" in self.fields:
            self.fields["owner"] = StaffChoiceField(
                queryset=staff_queryset(self.instance.owner_id),
                required=False,
                label=self.fields["owner"].label,
                help_text=self.fields["owner"].help_text,
            )
        if "postal_code" in self.fields:
            self.fields["postal_code"].widget.attrs.update(
                {
                    "data-postal-code": postal_code_url_template(),
                    "autocomplete": "postal-code",
                    "inputmode": "numeric",
                }
            )
            for name, autocomplete in [
                ("prefecture", "address-level1"),
                ("city", "address-level2"),
                ("address", "address-line1"),
            ]:
                if name in self.fields:
                    self.fields[name].widget.attrs.update(
                        {"data-postal-fill": name, "autocomplete": autocomplete}
                    )

    def get_definitions(self):
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        self._normalise(cleaned)
        if cleaned.get("postal_code") and not POSTAL_CODE.match(cleaned["postal_code"]):
            self.add_error("postal_code", _("Enter a postal code as seven digits, like 100-0001."))
        self._clean_custom_fields(cleaned)
        return cleaned

    def _normalise(self, cleaned):
        """Apply the model's own normalize() to the typed values, before they are checked."""
        present = [name for name in self.normalised_fields if name in cleaned]
        if not present:
            return
        probe = self._meta.model(**{name: cleaned[name] or "" for name in present})
        probe.normalize()
        for name in present:
            cleaned[name] = getattr(probe, name)

    def _clean_custom_fields(self, cleaned):
        custom = dict(self.instance.custom or {})
        uploads = {}
        for definition in self.definitions:
            name = custom_field_name(definition)
            if name in self.errors:
                continue
            value = cleaned.get(name)
            if definition.type == FieldType.FILE:
                if isinstance(value, UploadedFile):
                    try:
                        files.check_upload(value, definition)
                    except ValidationError as error:
                        self.add_error(name, error)
                        continue
                    uploads[definition.key] = (definition, value)
                elif value is False:  # "clear" ticked
                    custom.pop(definition.key, None)
                continue
            try:
                stored = fields.clean_value(definition, value)
            except ValidationError as error:
                self.add_error(name, error)
                continue
            fields.set_custom_value(custom, definition, stored)
        self.instance.custom = custom
        self.uploads = uploads

    def groups(self) -> list[tuple[str, list]]:
        """[(group label, [bound fields])]: built-in groups, then custom ones in designer order."""
        layout = [
            (str(label), [self[name] for name in names if name in self.fields])
            for label, names in self.builtin_groups
        ]
        for definition in self.definitions:
            label = definition.group or str(pgettext_lazy("field group", "Other"))
            for group_label, bound_fields in layout:
                if group_label == label:
                    bound_fields.append(self[custom_field_name(definition)])
                    break
            else:
                layout.append((label, [self[custom_field_name(definition)]]))
        return [(label, bound_fields) for label, bound_fields in layout if bound_fields]


def custom_form_field(definition: FieldDefinition) -> forms.Field:
    """fields.form_field, with widgets that accept what Japanese users type."""
    field = fields.form_field(definition)
    if definition.type == FieldType.EMAIL:
        # type=email would make the browser refuse full-width input before we normalise it.
        field.widget = forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off"})
    elif definition.type == FieldType.FILE:
        extensions = sorted(
            {f".{ext}" for exts in files.allowed_types(definition).values() for ext in exts}
        )
        field.widget = forms.ClearableFileInput(attrs={"accept": ",".join(extensions)})
        limit = files.size_limit_mb(definition)
        note = _("Up to %(limit)s MB.") % {"limit": limit}
        field.help_text = f"{field.help_text} {note}".strip()
    return field


def _is_uuid(value) -> bool:
    return _as_uuid(value) is not None


def _as_uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class ContactForm(CustomFieldsForm):
    company = CompanyField()
    email_opt_in = forms.BooleanField(
        label=consent.STAFF_CONSENT_WORDING,
        required=False,
        help_text=gettext_lazy(
            "Ticking or unticking this box adds an entry to the consent history."
        ),
    )

    builtin_groups = [
        (
            pgettext_lazy("field group", "Name"),
            ["family_name", "given_name", "family_name_kana", "given_name_kana"],
        ),
        (pgettext_lazy("field group", "Contact details"), ["email", "phone", "email_opt_in"]),
        (pgettext_lazy("field group", "Address"), ["postal_code", "prefecture", "city", "address"]),
        (
            pgettext_lazy("field group", "Management"),
            ["company", "owner", "lifecycle", "source", "external_id"],
        ),
    ]
    normalised_fields = [
        "email", "family_name", "given_name", "family_name_kana", "given_name_kana", "phone",
        "postal_code", "external_id",
    ]  # fmt: skip

    class Meta:
        model = Contact
        fields = [
            "family_name", "given_name", "family_name_kana", "given_name_kana", "email", "phone",
            "postal_code", "prefecture", "city", "address", "company", "owner", "lifecycle",
            "source", "external_id",
        ]  # fmt: skip
        widgets = {
            "email": forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email_opt_in"].initial = self.instance.email_opt_in
        self.initial.setdefault("email_opt_in", self.instance.email_opt_in)

    def get_definitions(self):
        return FieldDefinition.objects.for_contacts().active()

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email:
            try:
                EmailValidator(message=_("Enter a valid email address."))(email)
            except ValidationError as error:
                self.add_error("email", error)
            else:
                if Contact.objects.with_email(email).exclude(pk=self.instance.pk).exists():
                    self.add_error("email", _("Another contact already has this email address."))
        return cleaned


class CompanyForm(CustomFieldsForm):
    builtin_groups = [
        (pgettext_lazy("field group", "Company"), ["name", "name_kana", "domain", "phone"]),
        (pgettext_lazy("field group", "Address"), ["postal_code", "prefecture", "city", "address"]),
        (pgettext_lazy("field group", "Management"), ["owner"]),
    ]
    normalised_fields = ["name", "name_kana", "domain", "phone", "postal_code"]

    class Meta:
        model = Company
        fields = [
            "name", "name_kana", "domain", "phone", "postal_code", "prefecture", "city",
            "address", "owner",
        ]  # fmt: skip
        widgets = {"phone": forms.TextInput(attrs={"inputmode": "tel"})}

    def get_definitions(self):
        return FieldDefinition.objects.for_companies().active()


class RecordForm(CustomFieldsForm):
    company = CompanyField()
    occurred_at = forms.DateTimeField(
        label=pgettext_lazy("record", "When"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    builtin_groups = [(pgettext_lazy("record", "Record"), ["occurred_at", "company"])]

    class Meta:
        model = Record
        fields = ["occurred_at", "company"]

    def __init__(self, *args, record_type: RecordType, **kwargs):
        self.record_type = record_type
        super().__init__(*args, **kwargs)

    def get_definitions(self):
        return FieldDefinition.objects.for_record_type(self.record_type).active()


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}


class TagsForm(forms.Form):
    names = forms.CharField(
        label=gettext_lazy("Add tags"),
        max_length=1000,
        help_text=gettext_lazy("Separate several tags with commas."),
    )

    def clean_names(self):
        parts = re.split(r"[,、，]", self.cleaned_data["names"])
        names = [normalising.normalize_text(part) for part in parts if part.strip()]
        if not names:
            raise ValidationError(_("Enter at least one tag."))
        if any(len(name) > 100 for name in names):
            raise ValidationError(_("A tag can have at most 100 characters."))
        return names


class SavedViewForm(forms.ModelForm):
    class Meta:
        model = SavedView
        fields = ["name", "shared"]


# --- Read-only layout (detail pages) ------------------------------------------------------------


def detail_groups(form_class, instance, definitions) -> list[tuple[str, list[dict]]]:
    """The detail page's twin of CustomFieldsForm.groups(): [(group, [{label, text, url}])]."""
    model = form_class._meta.model
    layout = []
    for label, names in form_class.builtin_groups:
        items = []
        for name in names:
            if name == "email_opt_in":
                items.append(
                    _item(_("Marketing consent"), _("Yes") if instance.email_opt_in else _("No"))
                )
                continue
            model_field = model._meta.get_field(name)
            value = getattr(instance, name)
            if model_field.choices:
                value = getattr(instance, f"get_{name}_display")()
            elif hasattr(value, "display_name"):
                value = value.display_name
            elif isinstance(value, datetime.datetime):
                value = formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
            items.append(_item(model_field.verbose_name, value))
        layout.append((str(label), items))
    custom = instance.custom or {}
    file_ids = [
        _as_uuid(custom[d.key])
        for d in definitions
        if d.type == FieldType.FILE and custom.get(d.key)
    ]
    stored_files = StoredFile.objects.in_bulk([fid for fid in file_ids if fid])
    for definition in definitions:
        value = custom.get(definition.key)
        if definition.type == FieldType.FILE and value:
            link = StoredFileLink(stored_files.get(_as_uuid(value)), value)
            item = _item(definition.label, link.name, link.url)
        else:
            item = _item(definition.label, fields.display_value(definition, value))
        label = definition.group or str(pgettext_lazy("field group", "Other"))
        for group_label, items in layout:
            if group_label == label:
                items.append(item)
                break
        else:
            layout.append((label, [item]))
    return [(label, items) for label, items in layout if items]


def _item(label, text, url="") -> dict:
    return {"label": str(label), "text": "" if text is None else str(text), "url": url}


# --- Field designer -----------------------------------------------------------------------------

MAX_FILE_MB = 100  # the largest per-field upload limit the designer offers
RECORD_TYPE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


class ChoicesField(forms.CharField):
    """Choices typed one per line as `value | 日本語 | English` (labels optional)."""

    widget = forms.Textarea(attrs={"rows": 6})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(
                " | ".join(part for part in (c["value"], c.get("ja", ""), c.get("en", ""))).rstrip(
                    " |"
                )
                for c in value
            )
        return value

    def to_python(self, value):
        choices = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            parts = [normalising.normalize_text(part) for part in line.split("|")]
            if len(parts) > 3 or not parts[0]:
                raise ValidationError(
                    _("Line %(line)d: write “value | 日本語 | English”.") % {"line": number}
                )
            value_text, ja, en = (parts + ["", ""])[:3]
            if any(char in value_text for char in '";\\'):
                raise ValidationError(
                    _('Line %(line)d: a value may not contain “"”, “;” or “\\”.') % {"line": number}
                )
            choices.append({"value": value_text, "ja": ja or value_text, "en": en})
        values = [choice["value"] for choice in choices]
        duplicated = sorted({v for v in values if values.count(v) > 1})
        if duplicated:
            raise ValidationError(
                _("Each value may appear once: %(values)s") % {"values": ", ".join(duplicated)}
            )
        return choices


class FieldDefinitionForm(forms.ModelForm):
    """Add or change a custom field. The key and the type are fixed once the field has data."""

    key = forms.CharField(
        label=gettext_lazy("Key"),
        max_length=50,
        help_text=gettext_lazy(
            "Lower-case letters, digits and “_”; used in CSV headers, merge tags and segments. "
            "Fixed once data exists."
        ),
    )

    choices = ChoicesField(
        label=gettext_lazy("Choices"),
        required=False,
        help_text=gettext_lazy(
            "One per line: value | 日本語 | English, e.g. gold | ゴールド | Gold"
        ),
    )
    file_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Allowed file types"),
        choices=files.FILE_KIND_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every type listed here is allowed."),
    )

    class Meta:
        model = FieldDefinition
        fields = [
            "label_ja", "label_en", "key", "type", "required", "choices", "min_length",
            "max_length", "min_value", "max_value", "file_kinds", "max_file_mb", "help_ja",
            "help_en", "group_ja", "group_en", "member_visible", "member_editable",
            "at_registration",
        ]  # fmt: skip

    def __init__(self, *args, target: str, record_type=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.target = target
        self.instance.record_type = record_type
        self.has_data = bool(self.instance.pk) and self.instance.has_data()
        if self.has_data:
            for name in ("key", "type"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed: this field already has data.")
        self.fields["key"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        self.fields["max_file_mb"].max_value = MAX_FILE_MB
        self.fields["max_file_mb"].validators.append(MaxValueValidator(MAX_FILE_MB))
        self.fields["max_file_mb"].widget.attrs["max"] = MAX_FILE_MB

    def clean_key(self):
        key = self.cleaned_data["key"]
        if self.has_data:
            return self.instance.key
        if not fields.KEY_PATTERN.match(key or ""):
            raise ValidationError(
                _("Start with a lower-case letter; use only a-z, 0-9 and “_” (at most 50).")
            )
        if key in fields.RESERVED_KEYS:
            raise ValidationError(_("“%(key)s” is a built-in field name.") % {"key": key})
        taken = FieldDefinition.objects.filter(
            target=self.instance.target, record_type=self.instance.record_type, key=key
        ).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(_("Another field already uses this key (archived fields too)."))
        return key

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("type")
        choices = cleaned.get("choices") or []
        if kind in (FieldType.CHOICE, FieldType.MULTI_CHOICE) and not choices:
            self.add_error("choices", _("A choice field needs at least one choice."))
        if kind not in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
            cleaned["choices"] = []
        elif self.has_data:
            self._refuse_removing_used_choices(choices)
        for low, high in (("min_length", "max_length"), ("min_value", "max_value")):
            bounds = cleaned.get(low), cleaned.get(high)
            if None not in bounds and bounds[0] > bounds[1]:
                self.add_error(high, _("The maximum is smaller than the minimum."))
        if kind != FieldType.FILE:
            cleaned["file_kinds"], cleaned["max_file_mb"] = [], None
        if cleaned.get("member_editable") and not cleaned.get("member_visible"):
            cleaned["member_visible"] = True  # editing implies seeing
        return cleaned

    def _refuse_removing_used_choices(self, choices):
        kept = {choice["value"] for choice in choices}
        for value in set(self.instance.choice_values()) - kept:
            owners = self.instance.owners()
            if self.instance.type == FieldType.MULTI_CHOICE:
                used = sum(1 for v in owners.values_list(f"custom__{self.instance.key}", flat=True)
                           if isinstance(v, list) and value in v)  # fmt: skip
            else:
                used = owners.filter(**{f"custom__{self.instance.key}": value}).count()
            if used:
                self.add_error(
                    "choices",
                    _("“%(value)s” is used by %(count)d records; it cannot be removed.")
                    % {"value": value, "count": used},
                )


class RecordTypeForm(forms.ModelForm):
    class Meta:
        model = RecordType
        fields = ["name_ja", "name_en", "key", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_records = bool(self.instance.pk) and self.instance.records.exists()
        if self.has_records:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = _("Fixed: records of this type exist.")
        else:
            self.fields["key"].help_text = _(
                "Lower-case letters, digits, “-” and “_”; used in segments and CSV."
            )

    def clean_key(self):
        key = self.cleaned_data["key"]
        if self.has_records:
            return self.instance.key
        if not RECORD_TYPE_KEY.match(key or ""):
            raise ValidationError(_("Use lower-case letters, digits, “-” and “_”."))
        return key
