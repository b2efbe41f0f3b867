"""Content tests' cast: members in a state and tier, pages with audiences, files.

Members are made through the app registry: members is a peer of content (DESIGN.md), so content's
code and tests do not import it."""

import hashlib

from django.apps import apps
from django.core.files.base import ContentFile

from kizuna.accounts.tests.factories import UserFactory
from kizuna.content.models import AudienceKind, Page, PageFile
from kizuna.crm.models import Contact, StoredFile, Tag

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def tier(slug: str):
    Tier = apps.get_model("members", "Tier")
    return Tier.objects.get_or_create(slug=slug, defaults={"name_ja": slug})[0]


def member_contact(email: str, *, state: str = "active", tier_slug: str = "", tags=()):
    """A contact with a login and a membership; log in with accounts' PASSWORD."""
    Member = apps.get_model("members", "Member")
    user = UserFactory(email=email)
    contact = Contact.objects.create(email=email, family_name="会員", user=user, lifecycle="member")
    contact.tags.set([Tag.objects.get_or_create(name=name)[0] for name in tags])
    Member.objects.create(
        contact=contact, user=user, state=state, tier=tier(tier_slug) if tier_slug else None
    )
    return contact


def page(slug: str, audience: str = AudienceKind.MEMBERS, **fields) -> Page:
    fields.setdefault("title", slug)
    fields.setdefault("is_published", True)
    return Page.objects.create(slug=slug, audience=audience, **fields)


def attach_pdf(page: Page, name: str = "資料.pdf") -> PageFile:
    stored = StoredFile(
        name=name,
        content_type="application/pdf",
        size=len(PDF_BYTES),
        sha256=hashlib.sha256(PDF_BYTES).hexdigest(),
    )
    stored.file.save("content.pdf", ContentFile(PDF_BYTES), save=False)
    stored.save()
    return PageFile.objects.create(page=page, stored=stored, title=name)
