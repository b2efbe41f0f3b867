"""Field types: how a value of each type is checked, stored, shown, typed in CSV and edited.

Stored values in `custom` (JSON), by type - an empty value is never stored, its key is removed:

| type                          | stored as                                   |
|-------------------------------|---------------------------------------------|
| text, textarea, email, url,   | string (email, phone normalised)            |
| phone, choice                 |                                             |
| number                        | integer                                     |
| decimal                       | string, exact, as typed ("1234.50")         |
| date                          | "YYYY-MM-DD"                                |
| datetime                      | ISO 8601 in UTC ("2026-11-22T00:30:00+00:00")|
| boolean                       | true / false                                |
| multi_choice                  | list of choice values, in definition order  |
| file                          | StoredFile id (UUID string)                 |

Forms, the CSV import, the export and the API all go through `clean_value` / `parse_cell` /
`format_cell`, so a value means the same thing wherever it came from.
"""

import datetime
import re
import unicodedata
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kizuna.crm import normalising
from kizuna.crm.models import FieldDefinition, FieldType, Lifecycle, StoredFile

MULTI_SEPARATOR = ";"
TRUE_WORDS = {"true", "1", "yes", "y", "on", "はい", "有", "あり", "○", "〇"}
FALSE_WORDS = {"false", "0", "no", "n", "off", "いいえ", "無", "なし", "×", "-"}
TEXT_TYPES = {FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.URL, FieldType.PHONE}
DEFAULT_TEXT_LIMIT = {FieldType.TEXT: 255, FieldType.TEXTAREA: 10000, FieldType.EMAIL: 254}
DEFAULT_TEXT_LIMIT |= {FieldType.URL: 2000, FieldType.PHONE: 30}

# Keys a custom field may not take: the built-in columns and the words the list and import use.
RESERVED_KEYS = {
    "id", "email", "family_name", "given_name", "family_name_kana", "given_name_kana", "name",
    "name_kana", "phone", "postal_code", "prefecture", "city", "address", "owner", "company",
    "lifecycle", "member_state", "tier", "source", "email_opt_in", "created_at", "updated_at",
    "first_seen_at", "last_seen_at", "sessions", "tags", "external_id", "domain", "user",
    "occurred_at", "contact", "record_type", "custom",
}  # fmt: skip
# Built once: a validator compiles its regular expressions when it is created.
EMAIL_VALIDATOR = EmailValidator()
URL_VALIDATOR = URLValidator()
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


class Missing:
    """Stands for "no value": the key is removed from `custom`."""


MISSING = Missing()


def clean_value(definition: FieldDefinition, value):
    """A value from a form, the API or parse_cell -> what is stored, or MISSING.

    Raises ValidationError with a message in the user's language."""
    kind = definition.type
    if value is None or value == "" or value == [] or value is MISSING:
        if definition.required:
            raise ValidationError(_("This field is required."), code="required")
        return MISSING
    if kind in TEXT_TYPES:
        return _clean_text(definition, value)
    if kind == FieldType.NUMBER:
        return _check_range(definition, _to_int(value))
    if kind == FieldType.DECIMAL:
        number = _check_range(definition, _to_decimal(value))
        return format(number.normalize(), "f") if number == number.to_integral() else str(number)
    if kind == FieldType.DATE:
        return _to_date(value).isoformat()
    if kind == FieldType.DATETIME:
        return _to_datetime(value).astimezone(datetime.UTC).isoformat()
    if kind == FieldType.BOOLEAN:
        result = _to_bool(value)
        if definition.required and result is False:
            raise ValidationError(_("This box must be ticked."), code="required")
        return result
    if kind == FieldType.CHOICE:
        return _to_choice(definition, value)
    if kind == FieldType.MULTI_CHOICE:
        values = value if isinstance(value, list | tuple) else [value]
        chosen = {_to_choice(definition, item) for item in values if item not in ("", None)}
        return [choice for choice in definition.choice_values() if choice in chosen] or MISSING
    if kind == FieldType.FILE:
        file_id = str(getattr(value, "pk", value))
        if not StoredFile.objects.filter(pk=_to_uuid(file_id)).exists():
            raise ValidationError(_("No such file: %(id)s") % {"id": file_id}, code="file")
        return file_id
    raise ValueError(f"Unknown field type {kind!r}")


def parse_cell(definition: FieldDefinition, text: str):
    """A CSV cell -> a value for clean_value (1,234 / 2026/11/22 / はい / choice labels)."""
    text = text.strip()
    if text == "":
        return MISSING
    kind = definition.type
    if kind == FieldType.MULTI_CHOICE:
        return [part.strip() for part in re.split(r"[;；、|]", text) if part.strip()]
    if kind in (FieldType.NUMBER, FieldType.DECIMAL):
        return normalising.normalize_text(text).translate(_NUMBER_TEXT).replace(",", "")
    return text


def format_cell(definition: FieldDefinition, value) -> str:
    """A stored value -> its CSV text; parse_cell(format_cell(v)) gives v back."""
    if value is None or value is MISSING:
        return ""
    if definition.type == FieldType.MULTI_CHOICE:
        return MULTI_SEPARATOR.join(value)
    if definition.type == FieldType.BOOLEAN:
        return "true" if value else "false"
    if definition.type == FieldType.DATETIME:
        moment = parse_datetime(value)
        return timezone.localtime(moment).isoformat() if moment else str(value)
    return str(value)


def display_value(definition: FieldDefinition, value) -> str:
    """A stored value as staff and members read it, in the current language."""
    if value is None or value is MISSING or value == "":
        return ""
    kind = definition.type
    if kind == FieldType.BOOLEAN:
        return _("Yes") if value else _("No")
    if kind == FieldType.CHOICE:
        return definition.choice_label(value)
    if kind == FieldType.MULTI_CHOICE:
        return "、".join(definition.choice_label(item) for item in value)
    if kind == FieldType.DATE:
        return formats.date_format(datetime.date.fromisoformat(value), "SHORT_DATE_FORMAT")
    if kind == FieldType.DATETIME:
        moment = parse_datetime(value)
        return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
    if kind == FieldType.NUMBER:
        return formats.number_format(value, force_grouping=True)
    if kind == FieldType.DECIMAL:
        return formats.number_format(Decimal(value), force_grouping=True)
    return str(value)


def form_field(definition: FieldDefinition) -> forms.Field:
    """The Django form field for a custom field; its clean() returns what clean_value accepts."""
    common = {
        "label": definition.label,
        "required": definition.required,
        "help_text": escape(definition.help_text),  # _field.html renders help text as HTML
    }
    kind = definition.type
    limit = definition.max_length or DEFAULT_TEXT_LIMIT.get(kind)
    if kind == FieldType.TEXT or kind == FieldType.PHONE:
        widget = forms.TextInput(attrs={"autocomplete": "tel"} if kind == FieldType.PHONE else {})
        return forms.CharField(
            max_length=limit, min_length=definition.min_length, widget=widget, **common
        )
    if kind == FieldType.TEXTAREA:
        return forms.CharField(
            max_length=limit,
            min_length=definition.min_length,
            widget=forms.Textarea(attrs={"rows": 4}),
            **common,
        )
    if kind == FieldType.EMAIL:
        return forms.CharField(max_length=limit, widget=forms.EmailInput, **common)
    if kind == FieldType.URL:
        return forms.CharField(max_length=limit, widget=forms.URLInput, **common)
    if kind == FieldType.NUMBER:
        return forms.IntegerField(
            min_value=definition.min_value, max_value=definition.max_value, **common
        )
    if kind == FieldType.DECIMAL:
        return forms.DecimalField(
            min_value=definition.min_value, max_value=definition.max_value, **common
        )
    if kind == FieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == FieldType.DATETIME:
        return forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **common
        )
    if kind == FieldType.BOOLEAN:
        return forms.BooleanField(**common)
    choices = [
        (choice["value"], definition.choice_label(choice["value"])) for choice in definition.choices
    ]
    if kind == FieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "---------"), *choices], **common)
    if kind == FieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == FieldType.FILE:
        return forms.FileField(**common)
    raise ValueError(f"Unknown field type {kind!r}")


def form_initial(definition: FieldDefinition, value):
    """A stored value -> the initial value of its form field."""
    if value is None or value is MISSING:
        return None
    if definition.type == FieldType.DATE:
        return datetime.date.fromisoformat(value)
    if definition.type == FieldType.DATETIME:
        return timezone.localtime(parse_datetime(value)).replace(tzinfo=None)
    if definition.type == FieldType.DECIMAL:
        return Decimal(value)
    return value


def set_custom_value(custom: dict, definition: FieldDefinition, value) -> None:
    if value is MISSING:
        custom.pop(definition.key, None)
    else:
        custom[definition.key] = value


# --- Built-in columns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a list, a CSV file or a form: a built-in field or a custom one."""

    key: str
    label: object  # str or lazy str
    type: str
    definition: FieldDefinition | None = None
    importable: bool = True
    sortable: bool = True

    @property
    def is_custom(self) -> bool:
        return self.definition is not None


CONTACT_BUILTIN_COLUMNS = [
    Column("email", gettext_lazy("Email"), FieldType.EMAIL),
    Column("family_name", gettext_lazy("Family name"), FieldType.TEXT),
    Column("given_name", gettext_lazy("Given name"), FieldType.TEXT),
    Column("family_name_kana", gettext_lazy("Family name (kana)"), FieldType.TEXT),
    Column("given_name_kana", gettext_lazy("Given name (kana)"), FieldType.TEXT),
    Column("phone", gettext_lazy("Phone"), FieldType.PHONE),
    Column("postal_code", gettext_lazy("Postal code"), FieldType.TEXT),
    Column("prefecture", gettext_lazy("Prefecture"), FieldType.TEXT),
    Column("city", gettext_lazy("City"), FieldType.TEXT),
    Column("address", gettext_lazy("Address"), FieldType.TEXT),
    Column("company", gettext_lazy("Company"), FieldType.TEXT),
    Column("owner", pgettext_lazy("contact", "Owner"), FieldType.EMAIL),
    Column("lifecycle", gettext_lazy("Lifecycle"), FieldType.CHOICE),
    Column("source", gettext_lazy("Source"), FieldType.TEXT),
    Column("external_id", gettext_lazy("External ID"), FieldType.TEXT),
    Column("tags", gettext_lazy("Tags"), FieldType.MULTI_CHOICE, sortable=False),
    Column("email_opt_in", gettext_lazy("Marketing consent"), FieldType.BOOLEAN),
    Column("created_at", gettext_lazy("Created"), FieldType.DATETIME, importable=False),
    Column("updated_at", gettext_lazy("Updated"), FieldType.DATETIME, importable=False),
    Column("first_seen_at", gettext_lazy("First seen"), FieldType.DATETIME, importable=False),
    Column("last_seen_at", gettext_lazy("Last seen"), FieldType.DATETIME, importable=False),
    Column("sessions", gettext_lazy("Visits"), FieldType.NUMBER, importable=False),
]
LIFECYCLE_VALUES = set(Lifecycle.values)


def contact_columns(include_archived: bool = False) -> list[Column]:
    """Every contact column: the built-in ones, then the custom fields in designer order."""
    definitions = FieldDefinition.objects.for_contacts()
    if not include_archived:
        definitions = definitions.active()
    return [*CONTACT_BUILTIN_COLUMNS, *(custom_column(d) for d in definitions)]


def custom_column(definition: FieldDefinition) -> Column:
    return Column(
        definition.key,
        definition.label,
        definition.type,
        definition,
        importable=True,
        sortable=definition.type not in (FieldType.MULTI_CHOICE, FieldType.FILE),
    )


def column_aliases(column: Column) -> set[str]:
    """Header texts that map to a column on import: its key and its labels in both languages."""
    names = {column.key, str(column.label)}
    if column.definition is not None:
        names |= {column.definition.label_ja, column.definition.label_en}
    else:
        names |= set(BUILTIN_LABELS.get(column.key, ()))
    return {normalising.fold_for_search(name) for name in names if name}


# Japanese and English labels of the built-in columns, whatever the current language.
BUILTIN_LABELS = {
    "email": ("メールアドレス", "メール", "Email", "E-mail"),
    "family_name": ("姓", "Family name", "Last name"),
    "given_name": ("名", "Given name", "First name"),
    "family_name_kana": ("姓（カナ）", "セイ", "姓カナ", "Family name (kana)"),
    "given_name_kana": ("名（カナ）", "メイ", "名カナ", "Given name (kana)"),
    "phone": ("電話番号", "電話", "Phone"),
    "postal_code": ("郵便番号", "〒", "Postal code", "Zip"),
    "prefecture": ("都道府県", "Prefecture"),
    "city": ("市区町村", "City"),
    "address": ("住所", "番地", "Address"),
    "company": ("会社名", "会社", "企業名", "Company"),
    "owner": ("担当者", "担当営業", "担当", "Owner"),
    "lifecycle": ("ライフサイクル", "Lifecycle"),
    "source": ("流入元", "獲得経路", "Source"),
    "external_id": ("外部ID", "External ID"),
    "tags": ("タグ", "Tags"),
    "email_opt_in": ("メール配信同意", "配信同意", "Marketing consent"),
    "created_at": ("作成日時", "Created"),
    "updated_at": ("更新日時", "Updated"),
    "first_seen_at": ("初回訪問", "First seen"),
    "last_seen_at": ("最終訪問", "Last seen"),
    "sessions": ("訪問回数", "Visits"),
}


# --- Conversions --------------------------------------------------------------------------------

_NUMBER_TEXT = str.maketrans(
    {"，": ",", "．": ".", "－": "-", "＋": "+", "円": "", "¥": "", "￥": ""}
)


def _clean_text(definition: FieldDefinition, value) -> str:
    text = str(value)
    kind = definition.type
    if kind == FieldType.EMAIL:
        text = normalising.normalize_email(text)
        try:
            EMAIL_VALIDATOR(text)
        except ValidationError:
            raise ValidationError(_("Enter a valid email address."), code="invalid") from None
    elif kind == FieldType.PHONE:
        text = normalising.normalize_phone(text)
        if not re.fullmatch(r"\+?[0-9][0-9-]{4,29}", text):
            raise ValidationError(_("Enter a phone number of digits and hyphens."), code="phone")
    elif kind == FieldType.URL:
        text = text.strip()
        try:
            URL_VALIDATOR(text)
        except ValidationError:
            raise ValidationError(_("Enter a valid URL (https://…)."), code="invalid") from None
    elif kind == FieldType.TEXT:
        text = normalising.normalize_text(text)
    else:
        text = text.strip()
    limit = definition.max_length or DEFAULT_TEXT_LIMIT[kind]
    if len(text) > limit:
        raise ValidationError(
            _("Use at most %(limit)d characters (it has %(count)d).")
            % {"limit": limit, "count": len(text)},
            code="max_length",
        )
    if definition.min_length and len(text) < definition.min_length:
        raise ValidationError(
            _("Use at least %(limit)d characters (it has %(count)d).")
            % {"limit": definition.min_length, "count": len(text)},
            code="min_length",
        )
    if text == "":
        if definition.required:
            raise ValidationError(_("This field is required."), code="required")
        return MISSING
    return text


def _to_int(value) -> int:
    if isinstance(value, bool):
        raise ValidationError(_("Enter a whole number."), code="number")
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValidationError(_("Enter a whole number."), code="number") from None
    if number != number.to_integral_value() or not number.is_finite():
        raise ValidationError(_("Enter a whole number."), code="number")
    return int(number)


def _to_decimal(value) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(_("Enter a number."), code="decimal") from None
    if not number.is_finite() or isinstance(value, bool):
        raise ValidationError(_("Enter a number."), code="decimal")
    return number


def _check_range(definition: FieldDefinition, number):
    if definition.min_value is not None and number < definition.min_value:
        raise ValidationError(
            _("Enter %(limit)s or more.") % {"limit": _plain(definition.min_value)}, code="min"
        )
    if definition.max_value is not None and number > definition.max_value:
        raise ValidationError(
            _("Enter %(limit)s or less.") % {"limit": _plain(definition.max_value)}, code="max"
        )
    return number


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def _to_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, datetime.date):
        return value
    text = normalising.normalize_text(str(value)).translate(_NUMBER_TEXT)
    text = unicode_digits(text)
    match = _DATE.match(text)
    try:
        if match:
            return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        pass
    raise ValidationError(_("Enter a date as YYYY-MM-DD."), code="date")


def _to_datetime(value) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        text = unicode_digits(normalising.normalize_text(str(value))).replace("/", "-")
        try:
            moment = parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            try:
                moment = datetime.datetime.combine(_to_date(text), datetime.time())
            except ValidationError:
                raise ValidationError(
                    _("Enter a date and time as YYYY-MM-DD HH:MM."), code="datetime"
                ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    word = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValidationError(_("Enter yes or no (true / false)."), code="boolean")


def _to_choice(definition: FieldDefinition, value) -> str:
    text = normalising.normalize_text(str(value))
    folded = normalising.fold_for_search(text)
    for choice in definition.choices:
        names = (choice.get("value"), choice.get("ja"), choice.get("en"))
        if text == choice["value"] or folded in {
            normalising.fold_for_search(n) for n in names if n
        }:
            return choice["value"]
    raise ValidationError(
        _("“%(value)s” is not one of the choices (%(choices)s).")
        % {"value": text, "choices": ", ".join(definition.choice_values())},
        code="choice",
    )


def _to_uuid(text: str):
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValidationError(_("No such file: %(id)s") % {"id": text}, code="file") from None


def unicode_digits(text: str) -> str:
    """Full-width digits and separators to ASCII (２０２６／１１／２２ -> 2026/11/22)."""
    return text.translate(normalising.WIDE_TO_ASCII)
