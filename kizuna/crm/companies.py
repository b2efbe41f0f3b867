"""Creating, changing and deleting companies. A contact's search document holds its company's
name, so renaming or deleting a company refreshes its contacts' documents in the same transaction
- in batches of set-based UPDATEs, never one save() per contact."""

from django.db import transaction

from kizuna.core.auditing import changed_fields, record_audit
from kizuna.core.models import AuditAction
from kizuna.crm import files
from kizuna.crm.models import Company, Contact, contact_search_document

AUDITED_FIELDS = [
    "name", "name_kana", "domain", "phone", "postal_code", "prefecture", "city", "address",
]  # fmt: skip
SEARCH_BATCH = 1000


def company_values(company: Company) -> dict:
    values = {name: getattr(company, name) for name in AUDITED_FIELDS}
    values["owner"] = company.owner.email if company.owner_id else ""
    values.update(company.custom or {})
    return values


def create_company(company: Company, *, by, uploads=None) -> Company:
    company.normalize()
    with transaction.atomic():
        files.apply_uploads(company.custom, uploads, by)
        company.save()
        filled = {k: v for k, v in company_values(company).items() if v not in ("", None)}
        record_audit(by, AuditAction.CREATE, company, changes=changed_fields({}, filled))
    return company


def update_company(company: Company, *, by, uploads=None) -> dict:
    """Save changes; a new name reaches every contact's search document."""
    company.normalize()
    with transaction.atomic():
        stored = Company.objects.select_for_update(of=("self",)).select_related("owner")
        stored = stored.get(pk=company.pk)
        before = company_values(stored)
        files.apply_uploads(company.custom, uploads, by)
        company.save()
        changes = changed_fields(before, company_values(company))
        if changes:
            record_audit(by, AuditAction.UPDATE, company, changes=changes)
        if stored.name != company.name:
            refresh_contact_search(Contact.objects.filter(company=company), company.name)
    return changes


def delete_company(company: Company, *, by) -> None:
    """Delete the company; its contacts stay, without a company."""
    with transaction.atomic():
        contact_ids = list(company.contacts.values_list("id", flat=True))
        record_audit(by, AuditAction.DELETE, company)
        company.delete()
        refresh_contact_search(Contact.objects.filter(id__in=contact_ids), "")


def refresh_contact_search(contacts, company_name: str) -> int:
    """Recompute search_text / search_pairs of `contacts` for a company name; returns how many.
    Reads only the searched columns and writes them with bulk UPDATEs of SEARCH_BATCH rows."""
    count = 0
    batch = []
    columns = ["family_name", "given_name", "family_name_kana", "given_name_kana", "email", "phone"]
    for contact in contacts.only("id", *columns).order_by("id").iterator(chunk_size=SEARCH_BATCH):
        contact.search_text, contact.search_pairs = contact_search_document(
            *(getattr(contact, name) for name in columns), company_name
        )
        batch.append(contact)
        if len(batch) >= SEARCH_BATCH:
            count += Contact.objects.bulk_update(batch, ["search_text", "search_pairs"])
            batch = []
    if batch:
        count += Contact.objects.bulk_update(batch, ["search_text", "search_pairs"])
    return count
