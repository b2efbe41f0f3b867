"""Marketing consent as proof: every opt-in and opt-out is a ConsentRecord that is never edited
(特定電子メール法 and the GDPR ask who agreed, when, how and to what wording). The contact's
`email_opt_in` only mirrors the latest answer so segments and sends need no sub-query."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kizuna.crm.models import ConsentMethod, ConsentRecord, Contact

# What staff confirm when they tick the box on the contact form; stored as the wording shown.
STAFF_CONSENT_WORDING = _(
    "The contact agreed to receive marketing email from us (confirmed by staff)."
)


def record_consent(
    contact: Contact,
    opted_in: bool,
    method: ConsentMethod | str,
    wording: str = "",
    by=None,
    ip: str | None = None,
    detail: str = "",
) -> ConsentRecord:
    """Append the answer to the contact's consent history and mirror it on the contact."""
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            contact=contact,
            opted_in=opted_in,
            method=method,
            wording=str(wording),
            detail=detail[:255],
            recorded_by=by if getattr(by, "pk", None) else None,
            ip_address=ip or None,
            recorded_at=timezone.now(),
        )
        if contact.email_opt_in != opted_in:
            contact.email_opt_in = opted_in
            Contact.objects.filter(pk=contact.pk).update(
                email_opt_in=opted_in, updated_at=timezone.now()
            )
    return record
