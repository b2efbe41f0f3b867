"""Erasure leaves no personal data behind; invitations set a password once."""

from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from kizuna.core.models import SiteSettings
from kizuna.crm.consent import record_consent
from kizuna.crm.contacts import add_note
from kizuna.crm.models import Contact
from kizuna.members.models import Member, MemberState
from kizuna.members.registration import MembershipError, invite_contact
from kizuna.members.standing import erase_contact
from kizuna.members.tests.factories import make_member
from kizuna.members.tests.helpers import link_in_last_mail
from kizuna.segments.compiler import compile_filter
from kizuna.tracking.models import Event, Visitor

pytestmark = pytest.mark.django_db


def database_text_containing(*needles: str) -> list[str]:
    """Every table.column whose text holds one of the needles (case-insensitive)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            description = connection.introspection.get_table_description(cursor, table)
            for column in description:
                quoted_table = connection.ops.quote_name(table)
                quoted = connection.ops.quote_name(column.name)
                for needle in needles:
                    where = f"LOWER(CAST({quoted} AS TEXT)) LIKE %s"
                    sql = f"SELECT 1 FROM {quoted_table} WHERE {where} LIMIT 1"  # noqa: S608
                    cursor.execute(sql, [f"%{needle.lower()}%"])
                    if cursor.fetchone():
                        found.append(f"{table}.{column.name}")
    return found


def test_erasure_leaves_no_personal_data_behind(client, staff, django_capture_on_commit_callbacks):
    member = make_member(
        email="erase.me@example.jp", family_name="消去", given_name="太郎ノ助", phone="03-9876-5432"
    )
    contact = member.contact
    record_consent(contact, True, "form", "ニュースを受け取る")
    add_note(contact, "消去 太郎ノ助様から電話", by=staff)
    visitor = Visitor.objects.create(
        id="v" * 32,
        contact=contact,
        first_seen_at=member.registered_at,
        last_seen_at=member.registered_at,
    )
    Event.objects.create(
        event_id="e1",
        type="page_view",
        occurred_at=member.registered_at,
        visitor=visitor,
        contact=contact,
        url="/?mail=erase.me@example.jp",
    )
    client.post(
        reverse("account_login"),
        {"login": "erase.me@example.jp", "password": "correct-horse-battery"},
    )
    assert database_text_containing("erase.me@example.jp", "太郎ノ助", "9876-5432")

    erase_contact(contact, by=staff)

    assert database_text_containing("erase.me@example.jp", "太郎ノ助", "9876-5432") == []
    stub = Contact.objects.get(pk=contact.pk)
    assert stub.lifecycle == "member"  # counts by lifecycle stay right
    assert Member.objects.get(contact=stub).state == MemberState.WITHDRAWN
    assert client.get(reverse("members_site:my_page")).status_code == 302


def test_invitation_sets_a_password_once_and_activates_the_member(
    client, staff, django_capture_on_commit_callbacks
):
    contact = Contact.objects.create(email="invitee@example.jp", family_name="招待")
    with django_capture_on_commit_callbacks(execute=True):
        invite_contact(contact, by=staff)
    member = Member.objects.get(contact=contact)
    assert member.state == MemberState.PENDING_VERIFICATION
    path = urlsplit(link_in_last_mail("invitee@example.jp")).path

    weak = client.post(path, {"new_password1": "short", "new_password2": "short"})
    assert weak.status_code == 200 and weak.context["form"].errors
    response = client.post(
        path, {"new_password1": "Invited-pass-2026", "new_password2": "Invited-pass-2026"}
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE and member.verified_at
    assert client.get(reverse("members_site:my_page")).status_code == 200
    client.post(reverse("account_logout"))
    assert client.get(path).status_code == 400  # single use


def test_inviting_a_member_again_or_a_contact_without_email_is_refused(staff):
    member = make_member()
    with pytest.raises(MembershipError):
        invite_contact(member.contact, by=staff)
    with pytest.raises(MembershipError):
        invite_contact(Contact.objects.create(family_name="無メール"), by=staff)


def test_member_state_and_tier_are_segment_fields(staff):
    from kizuna.members.tests.factories import TierFactory

    gold = TierFactory(slug="gold")
    active_gold = make_member(email="a@example.jp", tier=gold)
    suspended = make_member(email="s@example.jp", state=MemberState.SUSPENDED)
    lead = Contact.objects.create(email="lead@example.jp")

    def selected(document):
        return set(Contact.objects.filter(compile_filter(document)).values_list("pk", flat=True))

    assert selected({"field": "member_state", "op": "eq", "value": "active"}) == {
        active_gold.contact_id
    }
    assert selected({"field": "member_state", "op": "ne", "value": "active"}) == {
        suspended.contact_id,
        lead.pk,
    }
    assert selected({"field": "member_state", "op": "empty"}) == {lead.pk}
    assert selected({"field": "tier", "op": "in", "value": ["gold"]}) == {active_gold.contact_id}
    assert selected({"field": "tier", "op": "not_empty"}) == {active_gold.contact_id}


def test_staff_must_set_up_two_factor_when_the_site_requires_it(staff_client):
    SiteSettings.objects.update_or_create(pk=1, defaults={"require_staff_two_factor": True})
    response = staff_client.get("/console/")
    assert response.status_code == 302 and "/accounts/2fa/" in response["Location"]


def test_changing_the_email_is_confirmed_on_the_new_address_and_the_contact_follows(client):
    member = make_member()
    client.post(
        reverse("account_login"),
        {"login": "hanako@example.jp", "password": "correct-horse-battery"},
    )
    client.post(reverse("account_email"), {"action_add": "", "email": "new.address@example.jp"})
    assert Contact.objects.get(pk=member.contact_id).email == "hanako@example.jp"
    path = urlsplit(link_in_last_mail("new.address@example.jp")).path
    client.post(path)
    assert Contact.objects.get(pk=member.contact_id).email == "new.address@example.jp"
    assert mail.outbox
