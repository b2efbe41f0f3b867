"""Forms of the pages console: the page editor (audience, publish window, video), attaching
files, and staff picks.

Uploads are checked by their bytes with crm's file handling (kizuna/crm/files.py): attached
files with its kinds (PDF, ZIP, Office, images); a page's video with the same building blocks and
the two video types browsers play everywhere (MP4, WebM), which crm's field kinds do not include.
"""

import json
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kizuna.content.audience_forms import AudienceFormMixin
from kizuna.content.models import Category, Page, StaffPick
from kizuna.crm.files import CheckedUpload, check_upload, detect_content_type, safe_file_name
from kizuna.crm.models import FieldDefinition
from kizuna.segments.compiler import FilterError
from kizuna.segments.forms import FilterField, check_filter

# Attached files: what crm's file fields call these kinds, up to this size each.
PAGE_FILE_KINDS = ["pdf", "zip", "office", "image"]
PAGE_FILE_MAX_MB = 50
MAX_FILES_PER_UPLOAD = 20
# An unsaved definition: crm.files reads only its kinds and size limit.
PAGE_FILE_RULES = FieldDefinition(file_kinds=PAGE_FILE_KINDS, max_file_mb=PAGE_FILE_MAX_MB)

VIDEO_TYPES = {"video/mp4": ("mp4", "m4v"), "video/webm": ("webm",)}
VIDEO_MAX_MB = 500
# Embedded players: only these hosts, only over https.
VIDEO_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "youtu.be",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
    "vimeo.com",
    "www.vimeo.com",
    "player.vimeo.com",
}
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def check_video(uploaded_file) -> CheckedUpload:
    """An MP4 or WebM video, read from its bytes; raises ValidationError saying what is wrong."""
    if uploaded_file.size > VIDEO_MAX_MB * 1024 * 1024:
        raise ValidationError(
            _("The video is too large: at most %(limit)s MB.") % {"limit": VIDEO_MAX_MB},
            code="file_size",
        )
    if uploaded_file.size == 0:
        raise ValidationError(_("The file is empty."), code="file_empty")
    name = safe_file_name(uploaded_file.name)
    detected = detect_content_type(uploaded_file)
    if detected not in VIDEO_TYPES:
        raise ValidationError(
            _(
                "This is not an MP4 or WebM video. Videos of other kinds can be embedded "
                "from YouTube or Vimeo."
            ),
            code="file_type",
        )
    stem, dot, extension = name.rpartition(".")
    extensions = VIDEO_TYPES[detected]
    if not dot:
        name = f"{name}.{extensions[0]}"
    elif extension.lower() not in extensions:
        raise ValidationError(
            _(
                "The file's content does not match its name: it ends in .%(extension)s but "
                "contains a .%(actual)s file."
            )
            % {"extension": extension, "actual": extensions[0]},
            code="file_type_mismatch",
        )
    return CheckedUpload(name=name, content_type=detected, size=uploaded_file.size)


def is_embeddable(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host in VIDEO_HOSTS and parts.port in (None, 443)


class PageForm(AudienceFormMixin, forms.ModelForm):
    """The page editor. The address (slug) is fixed once the page is published or has been seen:
    links in emails, the sitemap, and every view / download / video event point at it."""

    video_upload = forms.FileField(
        label=gettext_lazy("Upload a video"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "video/mp4,video/webm"}),
    )
    remove_video = forms.BooleanField(
        label=gettext_lazy("Remove the uploaded video"), required=False
    )

    class Meta:
        model = Page
        fields = [
            "title",
            "slug",
            "summary",
            "body",
            "category",
            "is_published",
            "published_from",
            "published_until",
            "video_embed_url",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 18, "class": "markdown-source"}),
            "summary": forms.TextInput(),
            "published_from": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format=DATETIME_FORMAT
            ),
            "published_until": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format=DATETIME_FORMAT
            ),
            "video_embed_url": forms.URLInput(attrs={"placeholder": "https://www.youtube.com/…"}),
        }
        labels = {"slug": gettext_lazy("Page address (URL)")}
        help_texts = {
            "slug": gettext_lazy(
                "The page's address on the site (/pages/…/): letters (Japanese too), digits, "
                "hyphens and underscores. Left empty, it is made from the title. It cannot be "
                "changed once the page is published or has been viewed."
            ),
            "body": gettext_lazy(
                "Markdown. HTML is cleaned: scripts and event handlers never reach members."
            ),
            "is_published": gettext_lazy(
                "Members see the page only while it is published and inside its window."
            ),
            "published_from": gettext_lazy("Empty: from now on."),
            "published_until": gettext_lazy("Empty: with no end."),
            "video_embed_url": gettext_lazy(
                "An https address on YouTube or Vimeo; members get a link to watch it there."
            ),
        }

    def __init__(self, *args, slug_fixed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.checked_video: CheckedUpload | None = None
        self.fields["category"].queryset = Category.objects.filter(kind=Category.Kind.PAGES)
        self.fields["slug"].required = False
        if slug_fixed:
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = _(
                "Fixed: the page has been published or viewed, and links and statistics use "
                "this address."
            )
        self.fields["video_upload"].help_text = _(
            "MP4 or WebM, at most %(limit)s MB. Replaces the video uploaded before."
        ) % {"limit": VIDEO_MAX_MB}
        if not self.instance.video_file_id:
            del self.fields["remove_video"]

    def clean_slug(self):
        if self.fields["slug"].disabled:
            return self.instance.slug
        slug = (self.cleaned_data.get("slug") or "").strip()
        if slug:
            return slug
        made = slugify(self.cleaned_data.get("title") or "", allow_unicode=True)[:90].strip("-_")
        if not made:
            raise ValidationError(
                _("Give the page an address: letters, digits, hyphens or underscores."),
                code="required",
            )
        return self._free_slug(made)

    def _free_slug(self, base: str) -> str:
        taken = set(
            Page.objects.exclude(pk=self.instance.pk)
            .filter(slug__startswith=base)
            .values_list("slug", flat=True)
        )
        slug, number = base, 2
        while slug in taken:
            slug, number = f"{base}-{number}", number + 1
        return slug

    def clean_video_upload(self):
        uploaded = self.cleaned_data.get("video_upload")
        if uploaded:
            self.checked_video = check_video(uploaded)
        return uploaded

    def clean_video_embed_url(self):
        url = (self.cleaned_data.get("video_embed_url") or "").strip()
        if url and not is_embeddable(url):
            raise ValidationError(
                _("Only https addresses on YouTube or Vimeo can be embedded."), code="video_host"
            )
        return url

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("published_from"), cleaned.get("published_until")
        if start and end and end <= start:
            self.add_error("published_until", _("The end must come after the start."))
        keeps_file = bool(self.instance.video_file_id) and not cleaned.get("remove_video")
        has_file = bool(cleaned.get("video_upload")) or keeps_file
        if has_file and cleaned.get("video_embed_url"):
            self.add_error(
                "video_embed_url",
                _("A page has one video: remove the uploaded video or leave this address empty."),
            )
        return cleaned


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input: a list, each checked like a single file."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class PageFilesForm(forms.Form):
    files = MultipleFileField(label=gettext_lazy("Add files"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.checked: list[CheckedUpload] = []
        self.fields["files"].help_text = _(
            "PDF, ZIP, Office documents or images, at most %(limit)s MB each; up to "
            "%(count)s at a time. Members download them only through the page's audience check."
        ) % {"limit": PAGE_FILE_MAX_MB, "count": MAX_FILES_PER_UPLOAD}
        self.fields["files"].widget.attrs["accept"] = ",".join(
            f".{extension}"
            for extension in (
                "pdf", "zip", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp",
                "jpg", "jpeg", "png", "gif", "webp", "heic",
            )
        )  # fmt: skip

    def clean_files(self):
        files = self.cleaned_data["files"]
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise ValidationError(
                _("Add at most %(count)s files at a time.") % {"count": MAX_FILES_PER_UPLOAD}
            )
        errors = []
        for uploaded in files:
            try:
                self.checked.append(check_upload(uploaded, PAGE_FILE_RULES))
            except ValidationError as error:
                shown = str(uploaded.name)[:120]
                errors.extend(ValidationError(f"{shown}: {message}") for message in error.messages)
        if errors:
            raise ValidationError(errors)
        return files


class PageFileTitleForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title shown to members"), max_length=200)


class PickFilterField(FilterField):
    """A staff pick's filter: empty means every member who may see the page."""

    def prepare_value(self, value):
        if value in (None, {}, ""):
            return ""
        return super().prepare_value(value)


class StaffPickForm(forms.ModelForm):
    segment_filter = PickFilterField(
        label=gettext_lazy("For members matching (filter, JSON)"),
        required=False,
        help_text=gettext_lazy(
            "Empty: for every member who may see the page. Otherwise a filter as in segments, "
            'e.g. {"field": "tier", "op": "eq", "value": "gold"}.'
        ),
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "filter-json"}),
    )

    class Meta:
        model = StaffPick
        fields = ["page", "segment_filter", "note"]
        help_texts = {
            "note": gettext_lazy(
                "Shown to members next to the page, e.g. “Start here”. Empty: “Recommended by "
                "our staff”."
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["page"].queryset = Page.objects.order_by("title", "id")
        self.fields["page"].label_from_instance = lambda page: f"{page.title} ({page.slug})"

    def clean_segment_filter(self):
        document = self.cleaned_data.get("segment_filter")
        if document in (None, {}, ""):
            return {}
        try:
            check_filter(document)
        except FilterError as error:
            raise ValidationError(str(error), code="filter") from None
        return document


def compact_json(document) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(", ", ": "))
