"""The sitemap lists public, published content only: members-only items never appear."""

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from kizuna.content.models import AudienceKind, FaqEntry, Page


class PublicPageSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return Page.objects.published().filter(audience=AudienceKind.PUBLIC).order_by("pk")

    def location(self, page):
        return reverse("content:page_detail", args=[page.slug])

    def lastmod(self, page):
        return page.updated_at


class PublicFaqSitemap(Sitemap):
    changefreq = "monthly"

    def items(self):
        return FaqEntry.objects.published().filter(audience=AudienceKind.PUBLIC).order_by("pk")

    def location(self, entry):
        return reverse("content:faq_detail", args=[entry.pk])

    def lastmod(self, entry):
        return entry.updated_at


SITEMAPS = {"pages": PublicPageSitemap, "faq": PublicFaqSitemap}
