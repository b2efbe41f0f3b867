"""Forms of the segments console: a saved segment, the live count's filter, and the catalog the
builder (static/segments/builder.js) draws its pickers from.

A filter is checked by compiling it - the same SegmentCompiler that will run it - so the form
rejects exactly what the segment would reject, with the place in the JSON and the reason.
"""

import json

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from kizuna.accounts.models import User
from kizuna.crm import filtering
from kizuna.crm.filtering import (
    COMPANY_FIELDS,
    CONTACT_FIELDS,
    NO_VALUE_OPS,
    OPERATOR_FAMILY,
    OPERATORS,
)
from kizuna.crm.models import FieldDefinition, FieldTarget, FieldType, Lifecycle, RecordType, Tag
from kizuna.segments.compiler import FilterError, SegmentCompiler, parse_document
from kizuna.segments.explaining import (
    BUILTIN_FIELD_LABELS,
    COMPANY_FIELD_LABELS,
    OPERATOR_LABELS,
)
from kizuna.segments.models import Segment
from kizuna.tracking.models import EventType

# Words under /console/segments/ that are screens, not segments.
RESERVED_SLUGS = {"add", "count", "catalog"}
SUM_OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "between"]
MAX_TAGS = 2000  # the tag picker's suggestions; any other name can still be typed
# The 47 prefectures in JIS order: suggestions for the prefecture fields.
PREFECTURES = [
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県",
    "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県",
    "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県",
    "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
]  # fmt: skip


def visible_segments(user):
    """Shared segments and the user's own personal ones (STYLE.md: one access helper)."""
    return Segment.objects.filter(Q(shared=True) | Q(owner=user))


class FilterField(forms.JSONField):
    """The filter as JSON text: indented, Japanese kept as typed (not \\u escapes)."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2)


def check_filter(document, *, slugs: tuple[str, ...] = ()) -> Q:
    """Compile the filter as the segment will; raises FilterError. `slugs`: the segment being
    edited (old and new slug), so a filter that refers back to it is rejected."""
    path = tuple(dict.fromkeys(slug for slug in slugs if slug))
    return SegmentCompiler(timezone.now(), path).filter_q(document, "")


def referring_segments(slug: str, *, exclude_pk=None) -> list[Segment]:
    """The saved segments whose filter has a {"segment": slug} condition."""
    others = Segment.objects.exclude(pk=exclude_pk).only("slug", "name", "filter")
    return [segment for segment in others if _refers_to(segment.filter, slug)]


def _refers_to(node, slug: str) -> bool:
    if isinstance(node, list):
        return any(_refers_to(child, slug) for child in node)
    if isinstance(node, dict):
        if node.get("segment") == slug:
            return True
        return any(_refers_to(node.get(key), slug) for key in ("all", "any", "not"))
    return False


class SegmentForm(forms.ModelForm):
    filter = FilterField(
        label=gettext_lazy("Filter (JSON)"),
        help_text=gettext_lazy(
            "The builder above writes it; you may also edit it here. The filter language is "
            "described in SEGMENTS.md."
        ),
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "filter-json"}),
    )

    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "shared", "filter"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "slug": gettext_lazy(
                'Used in URLs and in other filters ({"segment": "…"}): lowercase letters '
                "a–z, digits and hyphens. Left empty, it is made from the name when the name "
                "is in English."
            ),
            "shared": gettext_lazy(
                "Every staff member sees a shared segment; a personal one only you see."
            ),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.original_slug = self.instance.slug if self.instance.pk else ""
        self.fields["slug"].required = False
        owner_id = self.instance.owner_id
        if self.instance.pk and owner_id and owner_id != user.pk:
            # Only its owner may make a segment personal (or shared again).
            self.fields["shared"].disabled = True
            self.fields["shared"].help_text = gettext_lazy(
                "Only the segment's owner can change this."
            )

    def clean_slug(self):
        slug = (self.cleaned_data.get("slug") or "").strip().lower()
        if slug and slug in RESERVED_SLUGS:
            raise forms.ValidationError(
                _("“%(slug)s” is a reserved word; choose another slug.") % {"slug": slug}
            )
        return slug

    def clean(self):
        data = super().clean()
        if "slug" in data and not data["slug"] and data.get("name"):
            slug = slugify(data["name"])[:100].strip("-")
            if not slug:
                self.add_error(
                    "slug",
                    _(
                        "Enter a slug in lowercase letters a–z, digits and hyphens, such as "
                        "“loyal-customers”: it cannot be made from a Japanese name."
                    ),
                )
            elif slug in RESERVED_SLUGS:
                self.add_error(
                    "slug",
                    _("“%(slug)s” is a reserved word; choose another slug.") % {"slug": slug},
                )
            else:
                data["slug"] = slug
        slug = data.get("slug") or ""
        if self.original_slug and slug and slug != self.original_slug:
            users = referring_segments(self.original_slug, exclude_pk=self.instance.pk)
            if users:
                self.add_error(
                    "slug",
                    _("Other segments refer to this slug: %(names)s. Change them first.")
                    % {"names": "、".join(segment.name for segment in users)},
                )
        if "filter" in data:
            try:
                check_filter(data["filter"], slugs=(slug, self.original_slug))
            except FilterError as error:
                self.add_error("filter", str(error))
        return data

    def save(self, commit=True):
        segment = super().save(commit=False)
        if segment.owner_id is None and (not segment.pk or not segment.shared):
            # New segments belong to their author; a personal one must have an owner who sees it.
            segment.owner = self.user
        if commit:
            segment.save()
        return segment


class CountForm(forms.Form):
    """The live count's request: the filter being edited and, when editing, the segment's slug."""

    filter = forms.CharField(required=False, strip=True)
    editing = forms.CharField(required=False)

    def document(self) -> Q:
        """The compiled filter; raises FilterError for text that is not JSON or a bad filter."""
        text = self.cleaned_data.get("filter") or ""
        if not text:
            raise FilterError("(filter): " + _("enter a filter"))
        return check_filter(parse_document(text), slugs=(self.cleaned_data.get("editing") or "",))


# --- The builder's catalog ------------------------------------------------------------------------


def builder_catalog(user, *, exclude_slug: str = "") -> dict:
    """Everything builder.js draws its pickers from, translated: fields with their operator
    family and choices, operators, tags, event and record types, segments, staff emails."""
    definitions = list(FieldDefinition.objects.active().select_related("record_type"))
    contact_custom = [d for d in definitions if d.target == FieldTarget.CONTACT]
    company_custom = [d for d in definitions if d.target == FieldTarget.COMPANY]
    fields = [_builtin_field(name, kind) for name, (_path, kind) in CONTACT_FIELDS.items()]
    fields += [_custom_field(d, d.key, "custom") for d in contact_custom]
    fields += [
        _builtin_field(f"company.{key}", kind, label=COMPANY_FIELD_LABELS[key], group="company")
        for key, (_path, kind) in COMPANY_FIELDS.items()
    ]
    fields += [_custom_field(d, f"company.{d.key}", "company") for d in company_custom]
    record_types = [
        {
            "key": record_type.key,
            "label": record_type.name,
            "fields": [
                _custom_field(d, d.key, "record")
                for d in definitions
                if d.target == FieldTarget.RECORD and d.record_type_id == record_type.pk
            ],
        }
        for record_type in RecordType.objects.filter(archived_at__isnull=True)
    ]
    segments = visible_segments(user).exclude(slug=exclude_slug).order_by("name")
    return {
        "fields": fields,
        "groups": {
            "builtin": str(_("Contact")),
            "custom": str(_("Custom fields")),
            "company": str(_("Company")),
        },
        "families": {
            family: [op for op in OPERATOR_LABELS if op in ops] for family, ops in OPERATORS.items()
        },
        "operators": {op: str(label) for op, label in OPERATOR_LABELS.items()},
        "no_value": sorted(NO_VALUE_OPS),
        "sum_operators": SUM_OPERATORS,
        "tags": list(Tag.objects.order_by("name").values_list("name", flat=True)[:MAX_TAGS]),
        "events": [{"value": value, "label": str(label)} for value, label in EventType.choices],
        "records": record_types,
        "segments": [{"slug": s.slug, "name": s.name} for s in segments],
        "lists": {
            "owner": list(
                User.objects.filter(is_staff=True, is_active=True)
                .order_by("email")
                .values_list("email", flat=True)
            ),
            "prefecture": PREFECTURES,
            "company.prefecture": PREFECTURES,
        },
        "text": builder_text(),
    }


def _builtin_field(name: str, kind: str, *, label=None, group: str = "builtin") -> dict:
    family = "choice" if name == "lifecycle" else OPERATOR_FAMILY[kind]
    choices = []
    if name == "lifecycle":
        choices = [{"value": value, "label": str(text)} for value, text in Lifecycle.choices]
    elif name in filtering.REGISTERED_FIELD_CHOICES:  # member_state, tier (members)
        choices = [
            {"value": value, "label": str(text)}
            for value, text in filtering.REGISTERED_FIELD_CHOICES[name]()
        ]
    label = label or BUILTIN_FIELD_LABELS.get(name) or filtering.REGISTERED_FIELD_LABELS.get(name)
    return {
        "name": name,
        "label": str(label or name),
        "group": group,
        "type": str(kind),
        "family": family,
        "choices": choices,
    }


def _custom_field(definition: FieldDefinition, name: str, group: str) -> dict:
    choices = []
    if definition.type in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
        choices = [
            {"value": c["value"], "label": definition.choice_label(c["value"])}
            for c in definition.choices
        ]
    return {
        "name": name,
        "label": definition.label,
        "group": group,
        "type": definition.type,
        "family": OPERATOR_FAMILY[definition.type],
        "choices": choices,
    }


def builder_text() -> dict:
    """The builder's words (builder.js has none of its own)."""
    words = {
        "all": _("All of these conditions"),
        "any": _("Any of these conditions"),
        "match": _("Match"),
        "not": _("Exclude (NOT)"),
        "add_condition": _("Add condition"),
        "add_group": _("Add group"),
        "remove_condition": _("Remove condition"),
        "remove_group": _("Remove group"),
        "condition": _("Condition %(number)s"),
        "conditions": _("Conditions"),
        "group": _("Group %(number)s"),
        "kind": _("Condition type"),
        "kind_field": _("Field"),
        "kind_tag": _("Tag"),
        "kind_event": _("Activity"),
        "kind_record": _("Record"),
        "kind_segment": _("Segment"),
        "kind_raw": _("Other (JSON)"),
        "field": _("Field"),
        "operator": _("Operator"),
        "value": _("Value"),
        "low": pgettext("range", "From"),
        "high": pgettext("range", "To"),
        "days": _("Days"),
        "yes": _("Yes"),
        "no": _("No"),
        "choose": _("— choose —"),
        "values_lines": _("Values (one a line)"),
        "tag": _("Tag name"),
        "event": _("Activity type"),
        "url_contains": _("URL contains"),
        "url_equals": _("URL is exactly"),
        "within_days": _("In the last … days"),
        "since": _("From (date)"),
        "until": _("Until (date)"),
        "min_count": _("At least … times"),
        "max_count": _("At most … times"),
        "campaign": _("Campaign (slug)"),
        "form": _("Form (slug)"),
        "param": _("Query parameters"),
        "param_help": _("One a line: name=value, or the name alone for any value."),
        "props": _("Properties (JSON object)"),
        "ip": _("IP address or CIDR block"),
        "visitor": _("Visitor id"),
        "distinct": _("Count distinct values of the property"),
        "include_machine": _(
            "Also count events made by machines (mail privacy proxies, link scanners)"
        ),
        "more_options": _("More options"),
        "record": _("Record type"),
        "where": _("Records where"),
        "sum": _("Compare the sum of"),
        "sum_none": _("— no sum —"),
        "segment": _("Segment"),
        "raw": _("Condition as JSON"),
        "raw_invalid": _("This is not valid JSON; the change was not applied."),
        "json_invalid": _(
            "The JSON below cannot be read, so the builder shows the last valid filter."
        ),
        "empty_group": _(
            "No conditions yet: this group selects everyone (“all”) or nobody (“any”)."
        ),
    }
    return {key: str(value) for key, value in words.items()}
