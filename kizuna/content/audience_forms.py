"""The audience picker (公開範囲) of every content editor: a ModelForm mixin.

    class PageForm(AudienceFormMixin, forms.ModelForm):
        class Meta:
            model = Page
            fields = ["title", ...]      # the audience fields need not be listed

The mixin adds `audience` (radio buttons), `audience_tiers` (checkboxes of the members app's
tiers), `audience_tags` (checkboxes of crm tags) and `audience_filter` (a SEGMENTS.md filter as
JSON, checked as a segment would be), fills them from the instance, cleans them into what
AudienceFields stores (a list of tier slugs, a list of tag names, a filter dict; the lists not
used by the chosen kind are emptied) and puts them on the instance. Templates render them with
{% include "content/console/_audience_fields.html" %}; `form.audience_fields` are their bound
fields and `form.other_fields` the rest of the form's visible fields.

Tiers come through the app registry: members is a peer of content (DESIGN.md)."""

import json

from django import forms
from django.apps import apps
from django.utils.translation import gettext_lazy as _

from kizuna.content.models import AudienceKind
from kizuna.crm.models import Tag
from kizuna.segments.compiler import FilterError, parse_document
from kizuna.segments.forms import check_filter

AUDIENCE_FIELDS = ("audience", "audience_tiers", "audience_tags", "audience_filter")


def tier_choices() -> list[tuple[str, str]]:
    Tier = apps.get_model("members", "Tier")
    return [(tier.slug, tier.name) for tier in Tier.objects.all()]


def tag_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in Tag.objects.values_list("name", flat=True)]


def _with_kept(choices: list[tuple[str, str]], kept) -> list[tuple[str, str]]:
    """Values the item already has but that no longer exist (a renamed tag, a deleted tier) stay
    choosable, so saving the form does not drop them without the editor seeing it."""
    known = {value for value, _label in choices}
    return choices + [(value, value) for value in kept or () if value not in known]


class AudienceFormMixin(forms.Form):
    audience = forms.ChoiceField(
        label=_("Who may see it"),
        choices=AudienceKind.choices,
        initial=AudienceKind.MEMBERS,
        widget=forms.RadioSelect,
        help_text=_(
            "Members who are suspended, withdrawn or not yet approved see public items only."
        ),
    )
    audience_tiers = forms.MultipleChoiceField(
        label=_("Membership ranks"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For “Members with these membership ranks”: members of any rank ticked."),
    )
    audience_tags = forms.MultipleChoiceField(
        label=_("Tags"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For “Members with these tags”: members with any tag ticked."),
    )
    audience_filter = forms.CharField(
        label=_("Filter (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "filter-json"}),
        help_text=_(
            "For “Members matching a filter”: a segment filter as described in SEGMENTS.md, "
            'such as {"field": "prefecture", "op": "eq", "value": "東京都"}.'
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if instance is not None:
            for name in AUDIENCE_FIELDS:
                self.initial.setdefault(name, getattr(instance, name))
        document = self.initial.get("audience_filter")
        if isinstance(document, dict | list):
            self.initial["audience_filter"] = (
                json.dumps(document, ensure_ascii=False, indent=2) if document else ""
            )
        self.fields["audience_tiers"].choices = _with_kept(
            tier_choices(), self.initial.get("audience_tiers")
        )
        self.fields["audience_tags"].choices = _with_kept(
            tag_choices(), self.initial.get("audience_tags")
        )

    @property
    def audience_fields(self) -> list:
        return [self[name] for name in AUDIENCE_FIELDS]

    @property
    def other_fields(self) -> list:
        return [field for field in self.visible_fields() if field.name not in AUDIENCE_FIELDS]

    def clean_audience_filter(self) -> dict:
        """Parsed here, checked in clean() once the kind is known."""
        text = (self.cleaned_data.get("audience_filter") or "").strip()
        if not text:
            return {}
        try:
            document = parse_document(text)
        except FilterError as error:
            raise forms.ValidationError(str(error)) from None
        if not isinstance(document, dict):
            raise forms.ValidationError(_("The filter must be a JSON object: { … }."))
        return document

    def clean(self):
        data = super().clean()
        kind = data.get("audience")
        # What the chosen kind does not use is emptied, and its errors (an unknown tag, broken
        # JSON) do not stop the save.
        for name, used_by in (
            ("audience_tiers", AudienceKind.TIERS),
            ("audience_tags", AudienceKind.TAGS),
            ("audience_filter", AudienceKind.SEGMENT),
        ):
            if kind != used_by:
                data[name] = {} if name == "audience_filter" else []
                self.errors.pop(name, None)
        if (
            kind == AudienceKind.TIERS
            and not data.get("audience_tiers")
            and not self.has_error("audience_tiers")
        ):
            self.add_error("audience_tiers", _("Tick at least one membership rank."))
        if (
            kind == AudienceKind.TAGS
            and not data.get("audience_tags")
            and not self.has_error("audience_tags")
        ):
            self.add_error("audience_tags", _("Tick at least one tag."))
        if kind == AudienceKind.SEGMENT and "audience_filter" in data:
            if not data["audience_filter"]:
                self.add_error("audience_filter", _("Enter the filter members must match."))
            else:
                try:
                    check_filter(data["audience_filter"])
                except FilterError as error:
                    self.add_error("audience_filter", str(error))
        return data

    def _post_clean(self):
        # On the instance before the model form validates and saves it, whether or not the form's
        # Meta lists the audience fields.
        instance = getattr(self, "instance", None)
        if instance is not None:
            for name in AUDIENCE_FIELDS:
                if name in self.cleaned_data:
                    setattr(instance, name, self.cleaned_data[name])
        super()._post_clean()
