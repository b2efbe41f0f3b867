"""Console forms for FAQ entries, categories and announcements."""

from django import forms
from django.utils.translation import gettext_lazy as _

from kizuna.content.audience_forms import AudienceFormMixin
from kizuna.content.models import Announcement, Category, FaqEntry

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


class PublishWindowMixin:
    """`visible until` after `visible from`."""

    def clean(self):
        data = super().clean()
        start, end = data.get("published_from"), data.get("published_until")
        if start and end and end <= start:
            self.add_error("published_until", _("The end must be after the start."))
        return data


class FaqEntryForm(PublishWindowMixin, AudienceFormMixin, forms.ModelForm):
    class Meta:
        model = FaqEntry
        fields = [
            "question",
            "answer",
            "category",
            "position",
            "related",
            "is_published",
            "published_from",
            "published_until",
        ]
        widgets = {
            "answer": forms.Textarea(attrs={"rows": 12}),
            "related": forms.SelectMultiple(attrs={"size": 8}),
            "published_from": datetime_input(),
            "published_until": datetime_input(),
        }
        help_texts = {
            "answer": _("Markdown: **bold**, lists, links. HTML is cleaned; scripts are removed."),
            "position": _("Smaller numbers come first within the category."),
            "related": _(
                "Shown under the answer to the members who may see them. Hold Ctrl (⌘ on a Mac) "
                "to choose several."
            ),
            "published_from": _("Leave empty to show it as soon as it is published."),
            "published_until": _("Leave empty to keep it visible."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        others = FaqEntry.objects.order_by("question", "id")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        self.fields["related"].queryset = others
        self.fields["category"].queryset = Category.objects.filter(kind=Category.Kind.FAQ)


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["kind", "name_ja", "name_en", "slug", "position"]
        help_texts = {
            "slug": _("Lowercase letters a–z, digits and hyphens, unique for its kind."),
            "position": _("Smaller numbers come first."),
        }

    def clean(self):
        data = super().clean()
        kind, slug = data.get("kind"), data.get("slug")
        taken = Category.objects.filter(kind=kind, slug=slug).exclude(pk=self.instance.pk)
        if kind and slug and taken.exists():
            self.add_error("slug", _("Another category of this kind has this key."))
        return data

    def validate_unique(self):
        # The (kind, slug) rule is checked in clean(), with a message on the key field.
        pass


class AnnouncementForm(PublishWindowMixin, AudienceFormMixin, forms.ModelForm):
    class Meta:
        model = Announcement
        fields = [
            "title",
            "body",
            "banner",
            "dismissible",
            "is_published",
            "published_from",
            "published_until",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 10}),
            "published_from": datetime_input(),
            "published_until": datetime_input(),
        }
        help_texts = {
            "body": _("Markdown: **bold**, lists, links. HTML is cleaned; scripts are removed."),
            "banner": _("The newest banner shows at the top of every site page for its audience."),
            "published_from": _("Leave empty to show it as soon as it is published."),
            "published_until": _("Leave empty to keep it visible."),
        }
