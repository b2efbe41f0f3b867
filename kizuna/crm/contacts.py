"""Creating, changing and deleting contacts from the console: each operation owns its
transaction and its audit entry; notes and tags too. The CSV import, bulk update and merge have
their own modules; the console, the API and My Page all come through here for single contacts."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import consent, files
from kizuna.crm.models import ConsentMethod, Contact, Note, Tag

# The built-in fields an audit entry records, in the words of SEGMENTS.md.
AUDITED_FIELDS = [
    "email", "family_name", "given_name", "family_name_kana", "given_name_kana", "phone",
    "postal_code", "prefecture", "city", "address", "lifecycle", "source", "external_id",
]  # fmt: skip


class ContactError(Exception):
    """An operation on a contact could not be done; the message says why, translated."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def contact_values(contact: Contact) -> dict:
    """The values an audit entry compares: built-in fields, owner (email), company (name) and
    the custom fields by key."""
    values = {name: getattr(contact, name) for name in AUDITED_FIELDS}
    values["owner"] = contact.owner.email if contact.owner_id else ""
    values["company"] = contact.company.name if contact.company_id else ""
    values.update(contact.custom or {})
    return values


def create_contact(contact: Contact, *, by, uploads=None, opt_in=False, ip=None) -> Contact:
    """Save a new contact (normalised), its uploaded files and, when ticked, the consent staff
    confirmed."""
    contact.normalize()
    try:
        with transaction.atomic():
            files.apply_uploads(contact.custom, uploads, by)
            contact.save()
            record_audit(
                by, AuditAction.CREATE, contact, changes=changed_fields({}, _filled(contact))
            )
            if opt_in:
                consent.record_consent(
                    contact,
                    True,
                    ConsentMethod.STAFF,
                    consent.STAFF_CONSENT_WORDING,
                    by=by,
                    ip=ip,
                )
    except IntegrityError:
        contact.pk = None
        raise ContactError(_("Another contact already has this email address."), "email") from None
    return contact


def update_contact(contact: Contact, *, by, uploads=None, opt_in=None, ip=None) -> dict:
    """Save changes made to `contact`; returns {field: [old, new]} as audited. `opt_in` None
    leaves consent alone; True / False records a new answer when it differs."""
    contact.normalize()
    try:
        with transaction.atomic():
            stored = (
                Contact.objects.select_for_update(of=("self",))
                .select_related("owner", "company")
                .get(pk=contact.pk)
            )
            before = contact_values(stored)
            files.apply_uploads(contact.custom, uploads, by)
            contact.email_opt_in = stored.email_opt_in
            contact.save()
            changes = changed_fields(before, contact_values(contact))
            if opt_in is not None and opt_in != stored.email_opt_in:
                consent.record_consent(
                    contact,
                    opt_in,
                    ConsentMethod.STAFF,
                    consent.STAFF_CONSENT_WORDING if opt_in else "",
                    by=by,
                    ip=ip,
                )
                changes["email_opt_in"] = [stored.email_opt_in, opt_in]
            if changes:
                record_audit(by, AuditAction.UPDATE, contact, changes=changes)
    except IntegrityError:
        raise ContactError(_("Another contact already has this email address."), "email") from None
    return changes


def delete_contact(contact: Contact, *, by) -> None:
    with transaction.atomic():
        record_audit(by, AuditAction.DELETE, contact)
        contact.delete()


def _filled(contact: Contact) -> dict:
    return {key: value for key, value in contact_values(contact).items() if value not in ("", None)}


# --- Tags ---------------------------------------------------------------------------------------


def add_tags(contact: Contact, names: list[str], *, by) -> list[Tag]:
    """Tag the contact, creating tags that do not exist yet."""
    names = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if any(len(name) > 100 for name in names):
        raise ContactError(_("A tag can have at most 100 characters."), "tags")
    with transaction.atomic():
        before = sorted(contact.tags.values_list("name", flat=True))
        tags = []
        for name in names:
            tag, _created = Tag.objects.get_or_create(name=name)
            tags.append(tag)
        contact.tags.add(*tags)
        after = sorted(set(before) | set(names))
        if after != before:
            record_audit(by, AuditAction.UPDATE, contact, changes={"tags": [before, after]})
    return tags


def remove_tag(contact: Contact, tag: Tag, *, by) -> None:
    with transaction.atomic():
        before = sorted(contact.tags.values_list("name", flat=True))
        contact.tags.remove(tag)
        if tag.name in before:
            after = [name for name in before if name != tag.name]
            record_audit(by, AuditAction.UPDATE, contact, changes={"tags": [before, after]})


# --- Notes --------------------------------------------------------------------------------------


def can_change_note(user, note: Note) -> bool:
    """Staff change and delete their own notes only."""
    return note.author_id is not None and note.author_id == user.pk


def add_note(contact: Contact, body: str, *, by) -> Note:
    body = _note_body(body)
    with transaction.atomic():
        note = Note.objects.create(contact=contact, author=by, body=body)
        record_audit(by, AuditAction.CREATE, note)
    return note


def update_note(note: Note, body: str, *, by) -> Note:
    body = _note_body(body)
    with transaction.atomic():
        if body != note.body:
            changes = {"body": [note.body, body]}
            note.body = body
            note.save(update_fields=["body", "updated_at"])
            record_audit(by, AuditAction.UPDATE, note, changes=changes)
    return note


def delete_note(note: Note, *, by) -> None:
    with transaction.atomic():
        record_audit(by, AuditAction.DELETE, note)
        note.delete()


def _note_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError(_("Write something in the note."), code="required")
    if len(body) > 10000:
        raise ValidationError(_("A note can have at most 10,000 characters."), code="max_length")
    return body
