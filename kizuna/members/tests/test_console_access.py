"""Every members console screen is for staff only."""

import pytest
from django.urls import reverse

from kizuna.crm.tests.factories import ContactFactory
from kizuna.members.models import Member, MemberState, Tier
from kizuna.segments.models import Segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def screens(db):
    contact = ContactFactory()
    member = Member.objects.create(contact=contact, state=MemberState.ACTIVE)
    tier = Tier.objects.create(slug="gold", name_ja="ゴールド")
    Segment.objects.create(name="全員", slug="everyone", filter={"all": []}, shared=True)
    return [
        reverse("members:member_list"),
        reverse("members:member_detail", args=[member.pk]),
        reverse("members:approval_queue"),
        reverse("members:invite_contact"),
        reverse("members:invite_segment") + "?segment=everyone",
        reverse("members:settings"),
        reverse("members:tier_list"),
        reverse("members:tier_create"),
        reverse("members:tier_edit", args=[tier.pk]),
        reverse("members:tier_delete", args=[tier.pk]),
        reverse("members:member_reject", args=[member.pk]),
        reverse("members:member_suspend", args=[member.pk]),
        reverse("members:member_password_reset", args=[member.pk]),
        reverse("members:member_erase", args=[member.pk]),
    ]


def test_anonymous_visitors_are_sent_to_the_log_in_page(client, screens):
    for url in screens:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url


def test_a_logged_in_member_gets_403_on_every_screen(member_client, screens):
    for url in screens:
        assert member_client.get(url).status_code == 403, url


def test_a_member_cannot_post_an_action(member_client, screens):
    member = Member.objects.get()
    for name in ("member_suspend", "member_erase", "member_tier", "member_approve"):
        url = reverse(f"members:{name}", args=[member.pk])
        assert member_client.post(url).status_code == 403
    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE


def test_staff_see_every_screen(staff_client, screens):
    for url in screens:
        assert staff_client.get(url).status_code == 200, url
