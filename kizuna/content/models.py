"""Members-only content: pages (with their files and video), FAQ, announcements, staff picks.

Every item carries an Audience (audience.py): who may see it, decided for the current member on
each request through the segments app's one-contact check."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kizuna.content.rendering import render_markdown, search_document
from kizuna.crm.models import Contact, StoredFile


class AudienceKind(models.TextChoices):
    PUBLIC = "public", _("Everyone (public)")
    MEMBERS = "members", _("Any logged-in member")
    TIERS = "tiers", _("Members with these membership ranks")
    TAGS = "tags", _("Members with these tags")
    SEGMENT = "segment", _("Members matching a filter")


class AudienceFields(models.Model):
    """Who may see the item. Tiers and tags are lists of slugs / names; the segment filter is a
    SEGMENTS.md document."""

    audience = models.CharField(
        _("audience"), max_length=10, choices=AudienceKind.choices, default=AudienceKind.MEMBERS
    )
    audience_tiers = models.JSONField(_("membership ranks"), default=list, blank=True)
    audience_tags = models.JSONField(_("tags"), default=list, blank=True)
    audience_filter = models.JSONField(_("filter"), default=dict, blank=True)

    class Meta:
        abstract = True

    @property
    def is_public(self) -> bool:
        return self.audience == AudienceKind.PUBLIC


class PublishedQuerySet(models.QuerySet):
    def published(self, now=None):
        now = now or timezone.now()
        return self.filter(
            Q(is_published=True),
            Q(published_from__isnull=True) | Q(published_from__lte=now),
            Q(published_until__isnull=True) | Q(published_until__gt=now),
        )


class PublishWindow(models.Model):
    is_published = models.BooleanField(_("published"), default=False)
    published_from = models.DateTimeField(_("visible from"), null=True, blank=True)
    published_until = models.DateTimeField(_("visible until"), null=True, blank=True)

    class Meta:
        abstract = True


def _localized(obj, field: str) -> str:
    english = getattr(obj, f"{field}_en", "")
    return (english if get_language() == "en" and english else getattr(obj, f"{field}_ja")) or ""


class Category(models.Model):
    """A group of pages (or FAQ entries: `kind`)."""

    class Kind(models.TextChoices):
        PAGES = "pages", _("Pages")
        FAQ = "faq", _("FAQ")

    kind = models.CharField(_("for"), max_length=10, choices=Kind.choices, default=Kind.PAGES)
    slug = models.SlugField(_("key"), max_length=60)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["kind", "position", "id"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(fields=["kind", "slug"], name="content_category_kind_slug")
        ]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return _localized(self, "name")


class Page(AudienceFields, PublishWindow):
    """A page of the member site: Markdown from staff, stored sanitised as HTML."""

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(
        _("page address (URL)"), max_length=100, unique=True, allow_unicode=True
    )
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    body = models.TextField(_("body (Markdown)"), blank=True)
    body_html = models.TextField(editable=False, blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pages",
        limit_choices_to={"kind": Category.Kind.PAGES},
    )
    video_file = models.ForeignKey(
        StoredFile,
        verbose_name=_("video file"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    video_embed_url = models.URLField(
        _("embedded video"),
        blank=True,
        help_text=_("A YouTube or Vimeo address: members get a link to watch it there."),
    )
    # Folded title, summary and body for Japanese search (crm's folding).
    search_text = models.TextField(editable=False, blank=True, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["-published_from", "-id"]
        verbose_name = _("page")
        verbose_name_plural = _("pages")

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.body_html = render_markdown(self.body)
        self.search_text = search_document(self.title, self.summary, self.body)
        super().save(*args, **kwargs)

    @property
    def noindex(self) -> bool:
        return not self.is_public

    @property
    def has_video(self) -> bool:
        return bool(self.video_file_id or self.video_embed_url)


class PageFile(models.Model):
    """A protected file attached to a page: reachable only through the checked download view,
    with the page's audience."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="files")
    stored = models.ForeignKey(StoredFile, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("file")
        verbose_name_plural = _("files")

    def __str__(self):
        return self.title or self.stored.name


class FaqEntry(AudienceFields, PublishWindow):
    """よくある質問: one question and its answer."""

    question = models.CharField(_("question"), max_length=300)
    answer = models.TextField(_("answer (Markdown)"))
    answer_html = models.TextField(editable=False, blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="faq_entries",
        limit_choices_to={"kind": Category.Kind.FAQ},
    )
    related = models.ManyToManyField("self", verbose_name=_("related entries"), blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    helpful_yes = models.PositiveIntegerField(_("helpful"), default=0)
    helpful_no = models.PositiveIntegerField(_("not helpful"), default=0)
    # Folded question + answer text for Japanese search (crm.search's folding).
    search_text = models.TextField(editable=False, blank=True, default="")
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["category__position", "position", "id"]
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")

    def __str__(self):
        return self.question

    def save(self, *args, **kwargs):
        self.answer_html = render_markdown(self.answer)
        self.search_text = search_document(self.question, self.answer)
        super().save(*args, **kwargs)


class Announcement(AudienceFields, PublishWindow):
    """お知らせ: listed on My Page; as a banner across the site when `banner` is set."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"), blank=True)
    body_html = models.TextField(editable=False, blank=True)
    banner = models.BooleanField(_("show as a banner"), default=False)
    dismissible = models.BooleanField(_("members can dismiss the banner"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["-published_from", "-id"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.body_html = render_markdown(self.body)
        super().save(*args, **kwargs)


class AnnouncementSeen(models.Model):
    """One contact's view (and dismissal) of an announcement: counted, and a dismissed banner
    stays away."""

    announcement = models.ForeignKey(Announcement, on_delete=models.CASCADE, related_name="seen")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["announcement", "contact"], name="content_announcement_seen_once"
            )
        ]

    def __str__(self):
        return f"{self.announcement_id}:{self.contact_id}"


class FaqVote(models.Model):
    """ "Was this helpful?" once a member (or a browser, for visitors): the counts on FaqEntry."""

    entry = models.ForeignKey(FaqEntry, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=80)  # "c:<contact id>" or "v:<visitor id>"
    helpful = models.BooleanField()
    voted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "voter"], name="content_faq_vote_once")
        ]

    def __str__(self):
        return f"{self.entry_id}:{self.voter}"


class StaffPick(models.Model):
    """A page staff recommend to the members of a segment (or to everyone), first in the
    recommendations."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="picks")
    segment_filter = models.JSONField(_("for members matching"), default=dict, blank=True)
    note = models.CharField(_("why (shown to members)"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("staff pick")
        verbose_name_plural = _("staff picks")

    def __str__(self):
        return str(self.page)
