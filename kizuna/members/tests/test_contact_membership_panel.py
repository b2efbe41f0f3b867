"""The contact page's membership panel: state and tier, or the invitation button."""

import pytest
from django.urls import reverse

from kizuna.crm.models import Contact
from kizuna.members.models import Member, MemberState
from kizuna.members.tests.factories import TierFactory, make_member

pytestmark = pytest.mark.django_db


def test_the_contact_page_loads_the_membership_panel(staff_client):
    contact = Contact.objects.create(email="c@example.jp")
    page = staff_client.get(reverse("crm:contact_detail", args=[contact.pk])).content.decode()
    assert reverse("members:contact_membership", args=[contact.pk]) in page


def test_a_contact_with_email_can_be_invited_from_its_page(staff_client):
    contact = Contact.objects.create(email="c@example.jp")
    url = reverse("members:contact_membership", args=[contact.pk])
    panel = staff_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert reverse("members:invite_contact") in panel and "<html" not in panel

    staff_client.post(reverse("members:invite_contact"), {"contact": str(contact.pk)})

    assert Member.objects.get(contact=contact).state == MemberState.PENDING_VERIFICATION


def test_a_members_panel_shows_state_and_tier_without_an_invitation(staff_client):
    member = make_member(tier=TierFactory(slug="gold", name_ja="ゴールド会員"))
    url = reverse("members:contact_membership", args=[member.contact_id])
    panel = staff_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "ゴールド会員" in panel and "本登録" in panel
    assert reverse("members:invite_contact") not in panel


def test_members_cannot_open_the_panel(member_client):
    contact = Contact.objects.create(email="c@example.jp")
    response = member_client.get(reverse("members:contact_membership", args=[contact.pk]))
    assert response.status_code == 403
