"""Writing pages, their files and video, and staff picks: each operation owns its transaction
and its audit entry; stored files it drops leave storage only once the transaction committed."""

import hashlib
from functools import partial

from django.db import transaction
from django.db.models import Max

from kizuna.content.console_page_forms import (
    PAGE_FILE_RULES,
    PageForm,
    StaffPickForm,
)
from kizuna.content.models import Page, PageFile, StaffPick
from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction
from kizuna.crm.files import store_upload
from kizuna.crm.models import StoredFile


def page_values(page: Page) -> dict:
    """What the audit log keeps of a page (the body as its length: it may be long)."""
    return {
        "title": page.title,
        "slug": page.slug,
        "summary": page.summary,
        "body_length": len(page.body or ""),
        "category": page.category.slug if page.category_id else None,
        "is_published": page.is_published,
        "published_from": page.published_from.isoformat() if page.published_from else None,
        "published_until": page.published_until.isoformat() if page.published_until else None,
        "audience": page.audience,
        "audience_tiers": page.audience_tiers,
        "audience_tags": page.audience_tags,
        "audience_filter": page.audience_filter,
        "video_file": page.video_file.name if page.video_file_id else None,
        "video_embed_url": page.video_embed_url,
    }


def _store_video(form: PageForm, by) -> StoredFile:
    """The checked video in private storage under a random name (crm.files' way)."""
    checked, uploaded = form.checked_video, form.cleaned_data["video_upload"]
    stored = StoredFile(
        name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=_sha256(uploaded),
        uploaded_by=by if getattr(by, "pk", None) else None,
    )
    stored.file.save(checked.name, uploaded, save=False)
    stored.save()
    return stored


def _sha256(uploaded) -> str:
    digest = hashlib.sha256()
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


def _discard(stored_files) -> None:
    """Delete the rows now and the bytes once the transaction commits."""
    for stored in stored_files:
        if stored is None:
            continue
        storage, name = stored.file.storage, stored.file.name
        stored.delete()
        if name:
            transaction.on_commit(partial(storage.delete, name))


def save_page(form: PageForm, *, by) -> tuple[Page, dict]:
    """Create or update the page of a valid editor form; returns the page and what changed."""
    with transaction.atomic():
        page = form.instance
        created = page.pk is None
        before = {}
        old_video = None
        if not created:
            stored = Page.objects.select_for_update(of=("self",)).select_related(
                "category", "video_file"
            )
            original = stored.get(pk=page.pk)
            before = page_values(original)
            old_video = original.video_file
        page = form.save(commit=False)
        if created and getattr(by, "pk", None):
            page.author = by
        if form.checked_video is not None:
            page.video_file = _store_video(form, by)
        elif form.cleaned_data.get("remove_video"):
            page.video_file = None
        page.save()
        changes = changed_fields(before, page_values(page))
        if created:
            record_audit(by, AuditAction.CREATE, page, changes=changes)
        elif changes:
            record_audit(by, AuditAction.UPDATE, page, changes=changes)
        if old_video is not None and page.video_file_id != old_video.pk:
            _discard([old_video])
    return page, changes


def delete_page(page: Page, *, by) -> None:
    with transaction.atomic():
        files = [page_file.stored for page_file in page.files.select_related("stored")]
        video = page.video_file
        record_audit(by, AuditAction.DELETE, page, changes={"slug": [page.slug, None]})
        page.delete()
        _discard([*files, video])


def attach_files(page: Page, uploads, *, by) -> list[PageFile]:
    """Store each upload through crm's checks and attach it after the page's other files."""
    with transaction.atomic():
        last = page.files.aggregate(last=Max("position"))["last"]
        position = 0 if last is None else last + 1
        attached = []
        for offset, uploaded in enumerate(uploads):
            stored = store_upload(uploaded, PAGE_FILE_RULES, by)
            page_file = PageFile.objects.create(
                page=page, stored=stored, title=stored.name, position=position + offset
            )
            record_audit(
                by,
                AuditAction.CREATE,
                page_file,
                changes={"page": [None, page.slug], "file": [None, stored.name]},
            )
            attached.append(page_file)
    return attached


def rename_file(page_file: PageFile, title: str, *, by) -> None:
    with transaction.atomic():
        before = page_file.title
        page_file.title = title
        page_file.save(update_fields=["title"])
        if before != title:
            record_audit(by, AuditAction.UPDATE, page_file, changes={"title": [before, title]})


def remove_file(page_file: PageFile, *, by) -> None:
    with transaction.atomic():
        record_audit(
            by,
            AuditAction.DELETE,
            page_file,
            changes={"page": [page_file.page.slug, None], "file": [page_file.stored.name, None]},
        )
        stored = page_file.stored
        page_file.delete()
        _discard([stored])


def _moved(items: list, item, direction: str) -> list | None:
    """The list with `item` one place up or down; None when it cannot move."""
    index = next((i for i, other in enumerate(items) if other.pk == item.pk), None)
    target = None if index is None else index + (-1 if direction == "up" else 1)
    if direction not in ("up", "down") or target is None or not 0 <= target < len(items):
        return None
    items = list(items)
    items[index], items[target] = items[target], items[index]
    return items


def move_file(page_file: PageFile, direction: str, *, by) -> bool:
    with transaction.atomic():
        files = list(PageFile.objects.select_for_update().filter(page_id=page_file.page_id))
        order = _moved(files, page_file, direction)
        if order is None:
            return False
        for position, item in enumerate(order):
            item.position = position
        PageFile.objects.bulk_update(order, ["position"])
        record_audit(
            by,
            AuditAction.UPDATE,
            page_file.page,
            changes={"file_order": [[f.pk for f in files], [f.pk for f in order]]},
        )
    return True


def pick_values(pick: StaffPick) -> dict:
    return {"page": pick.page.slug, "segment_filter": pick.segment_filter, "note": pick.note}


def save_pick(form: StaffPickForm, *, by) -> StaffPick:
    with transaction.atomic():
        created = form.instance.pk is None
        before = {}
        if not created:
            original = StaffPick.objects.select_for_update(of=("self",)).select_related("page")
            before = pick_values(original.get(pk=form.instance.pk))
        pick = form.save(commit=False)
        if created:
            last = StaffPick.objects.aggregate(last=Max("position"))["last"]
            pick.position = 0 if last is None else last + 1
        pick.save()
        changes = changed_fields(before, pick_values(pick))
        if created or changes:
            action = AuditAction.CREATE if created else AuditAction.UPDATE
            record_audit(by, action, pick, changes=changes)
    return pick


def delete_pick(pick: StaffPick, *, by) -> None:
    with transaction.atomic():
        record_audit(by, AuditAction.DELETE, pick, changes={"page": [pick.page.slug, None]})
        pick.delete()


def move_pick(pick: StaffPick, direction: str, *, by) -> bool:
    with transaction.atomic():
        picks = list(StaffPick.objects.select_for_update().order_by("position", "id"))
        order = _moved(picks, pick, direction)
        if order is None:
            return False
        for position, item in enumerate(order):
            item.position = position
        StaffPick.objects.bulk_update(order, ["position"])
        record_audit(
            by,
            AuditAction.UPDATE,
            pick,
            changes={"order": [[p.pk for p in picks], [p.pk for p in order]]},
        )
    return True
