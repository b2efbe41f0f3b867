""" "Download my data" (right of access): everything Kizuna holds about the member, as JSON.

Other apps add their sections (inquiries, tickets) with core.mypage.register_export_section()."""

from kizuna.core import mypage
from kizuna.crm.models import FieldDefinition, FieldTarget
from kizuna.members.models import Member
from kizuna.members.registration import MEMBER_CONTACT_FIELDS
from kizuna.tracking.models import Event

EVENT_LIMIT = 10_000


def member_data(member: Member) -> dict:
    contact = member.contact
    labels = {d.key: d.label for d in FieldDefinition.objects.filter(target=FieldTarget.CONTACT)}
    data = {
        "account": {
            "email": member.user.email if member.user_id else "",
            "language": member.user.language if member.user_id else "",
            "state": member.state,
            "tier": member.tier.slug if member.tier_id else None,
            "registered_at": _iso(member.registered_at),
            "email_confirmed_at": _iso(member.verified_at),
            "approved_at": _iso(member.approved_at),
        },
        "profile": {
            "email": contact.email,
            **{name: getattr(contact, name) for name in MEMBER_CONTACT_FIELDS},
            "company": contact.company.name if contact.company_id else "",
            "custom_fields": [
                {"key": key, "label": labels.get(key, key), "value": value}
                for key, value in sorted((contact.custom or {}).items())
            ],
            "created_at": _iso(contact.created_at),
        },
        "marketing_consent": [
            {
                "opted_in": record.opted_in,
                "how": record.method,
                "wording": record.wording,
                "at": _iso(record.recorded_at),
            }
            for record in contact.consents.order_by("recorded_at")
        ],
        "events": [
            {
                "type": event.type,
                "at": _iso(event.occurred_at),
                "url": event.url,
                "ip": event.ip,
                "browser": event.browser,
                "properties": event.props,
            }
            for event in Event.objects.of_contact(contact).order_by("occurred_at")[:EVENT_LIMIT]
        ],
    }
    for key, collect in mypage.export_sections().items():
        data[key] = collect(member)
    return data


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None
