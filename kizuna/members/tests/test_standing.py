"""Withdrawal, suspension and reactivation: refused from the very next request."""

import json

import pytest
from django.urls import reverse

from kizuna.accounts.models import User
from kizuna.accounts.tests.factories import PASSWORD as USER_PASSWORD
from kizuna.core.models import RegistrationPolicy, SiteSettings
from kizuna.crm.models import Contact
from kizuna.members.models import Member, MemberState
from kizuna.members.standing import reactivate_member, suspend_member
from kizuna.members.tests.factories import make_member
from kizuna.members.tests.helpers import confirm_from_mail, signup
from kizuna.tracking.models import Event

pytestmark = pytest.mark.django_db


def logged_in_client(client, member):
    response = client.post(
        reverse("account_login"), {"login": member.user.email, "password": USER_PASSWORD}
    )
    assert response.status_code == 302
    return client


def test_withdrawal_ends_every_session_and_keeps_the_contact(client, django_user_model):
    member = make_member()
    from django.test import Client

    other_device = logged_in_client(Client(), member)
    logged_in_client(client, member)

    response = client.post(
        reverse("members_site:withdraw"), {"reason": "使わなくなった", "confirm": "on"}
    )

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.state == MemberState.WITHDRAWN
    assert member.withdrawal_reason == "使わなくなった"
    assert member.user is None
    assert not django_user_model.objects.filter(email="hanako@example.jp").exists()
    contact = Contact.objects.get(pk=member.contact_id)
    assert Event.objects.filter(contact=contact, type="withdrawn").exists()
    for browser in (client, other_device):
        assert browser.get(reverse("members_site:my_page")).status_code == 302  # to log-in
        assert browser.get(reverse("members_site:data_export")).status_code == 302
    refused = client.post(
        reverse("account_login"), {"login": "hanako@example.jp", "password": USER_PASSWORD}
    )
    assert refused.status_code == 200 and "_auth_user_id" not in client.session


def test_withdrawal_needs_the_confirmation_box(client):
    member = make_member()
    logged_in_client(client, member)
    response = client.post(reverse("members_site:withdraw"), {"reason": ""})
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE
    assert 'id="id_confirm_error"' in response.content.decode()


def test_a_withdrawn_person_can_register_again(client):
    SiteSettings.objects.update_or_create(
        pk=1, defaults={"registration_policy": RegistrationPolicy.OPEN}
    )
    member = make_member()
    logged_in_client(client, member)
    client.post(reverse("members_site:withdraw"), {"confirm": "on"})

    signup(client, "hanako@example.jp")
    confirm_from_mail(client, "hanako@example.jp")

    again = Member.objects.get(user__email="hanako@example.jp")
    assert again.state == MemberState.ACTIVE
    assert again.contact_id == member.contact_id
    assert Member.objects.filter(contact_id=member.contact_id).count() == 1


def test_suspended_member_is_refused_at_the_next_request_and_back_when_reactivated(client, staff):
    member = make_member()
    logged_in_client(client, member)
    assert client.get(reverse("members_site:my_page")).status_code == 200

    suspend_member(member, by=staff)

    assert client.get(reverse("members_site:my_page")).status_code == 302
    refused = client.post(
        reverse("account_login"), {"login": "hanako@example.jp", "password": USER_PASSWORD}
    )
    assert "_auth_user_id" not in client.session, refused

    reactivate_member(member, by=staff)
    logged_in_client(client, member)
    assert client.get(reverse("members_site:my_page")).status_code == 200
    types = set(Event.objects.filter(contact=member.contact).values_list("type", flat=True))
    assert {"suspended", "reactivated"} <= types


def test_password_change_ends_the_other_sessions(client):
    from django.test import Client

    member = make_member()
    other_device = logged_in_client(Client(), member)
    logged_in_client(client, member)
    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": USER_PASSWORD,
            "password1": "Brand-new-pass-99",
            "password2": "Brand-new-pass-99",
        },
    )
    assert response.status_code == 302
    assert client.get(reverse("members_site:my_page")).status_code == 200
    assert other_device.get(reverse("members_site:my_page")).status_code == 302


def test_member_data_export_holds_profile_consent_and_own_events_only(client):
    member = make_member(phone="090-1234-5678")
    other = make_member(email="other@example.jp")
    Event.objects.create(
        event_id="x1",
        type="page_view",
        occurred_at=member.registered_at,
        contact=member.contact,
        url="/mine",
    )
    Event.objects.create(
        event_id="x2",
        type="page_view",
        occurred_at=member.registered_at,
        contact=other.contact,
        url="/theirs",
    )
    logged_in_client(client, member)

    response = client.get(reverse("members_site:data_export"))

    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["profile"]["phone"] == "090-1234-5678"
    urls = [event["url"] for event in data["events"]]
    assert "/mine" in urls and "/theirs" not in urls


def test_member_cannot_set_staff_fields_through_the_profile_form(client):
    member = make_member()
    logged_in_client(client, member)
    response = client.post(
        reverse("members_site:profile_edit"),
        {
            "family_name": "佐藤",
            "given_name": "花子",
            "owner": "1",
            "lifecycle": "visitor",
            "tier": "gold",
            "email_opt_in": "on",
            "state": "active",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(pk=member.contact_id)
    assert contact.family_name == "佐藤"
    assert contact.owner_id is None and contact.lifecycle == "member"
    assert contact.email_opt_in is False
    assert User.objects.get(pk=member.user_id).is_staff is False


def test_profile_errors_are_shown_next_to_their_field_and_nothing_is_saved(client):
    member = make_member()
    logged_in_client(client, member)
    response = client.post(
        reverse("members_site:profile_edit"),
        {"family_name": "", "given_name": "花子", "postal_code": "12"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_family_name_error"' in html and 'id="id_postal_code_error"' in html
    assert Contact.objects.get(pk=member.contact_id).family_name == "山田"


def test_staff_without_membership_see_my_page_without_member_panels(staff_client):
    response = staff_client.get(reverse("members_site:my_page"))
    assert response.status_code == 200
    assert reverse("members_site:withdraw") not in response.content.decode()
