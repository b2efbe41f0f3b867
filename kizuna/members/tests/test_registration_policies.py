"""The four registration policies, end to end through the real forms and mails."""

import pytest
from django.core import mail
from django.urls import reverse

from kizuna.accounts.models import User
from kizuna.core.models import RegistrationPolicy, SiteSettings
from kizuna.crm.models import Contact
from kizuna.members.models import Member, MemberState
from kizuna.members.registration import approve_member
from kizuna.members.tests.helpers import PASSWORD, confirm_from_mail, signup
from kizuna.tracking.models import Event

pytestmark = pytest.mark.django_db


def use_policy(policy, **fields):
    SiteSettings.objects.update_or_create(pk=1, defaults={"registration_policy": policy, **fields})


def log_in(client, email, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_closed_policy_refuses_sign_up(client):
    use_policy(RegistrationPolicy.CLOSED)
    response = signup(client, "hanako@example.jp")
    assert not User.objects.filter(email="hanako@example.jp").exists()
    assert response.status_code == 200
    assert "account/signup_closed" in [t.name for t in response.templates][0]


def test_open_policy_member_is_pending_until_the_emailed_link_is_confirmed(client):
    use_policy(RegistrationPolicy.OPEN)
    signup(client, "hanako@example.jp")
    member = Member.objects.get(user__email="hanako@example.jp")
    assert member.state == MemberState.PENDING_VERIFICATION
    assert log_in(client, "hanako@example.jp").status_code != 302 or "/mypage/" not in log_in(
        client, "hanako@example.jp"
    ).get("Location", "")

    confirm_from_mail(client, "hanako@example.jp")

    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE
    contact = member.contact
    assert (contact.family_name, contact.given_name_kana) == ("山田", "ハナコ")
    assert contact.lifecycle == "member"
    assert {"registered", "email_verified"} <= set(
        Event.objects.filter(contact=contact).values_list("type", flat=True)
    )
    response = log_in(client, "hanako@example.jp")
    assert response.status_code == 302
    assert client.get(reverse("members_site:my_page")).status_code == 200


def test_approval_policy_needs_staff_after_confirmation(
    client, staff, django_capture_on_commit_callbacks
):
    use_policy(RegistrationPolicy.APPROVAL)
    signup(client, "taro@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        confirm_from_mail(client, "taro@example.jp")
    member = Member.objects.get(user__email="taro@example.jp")
    assert member.state == MemberState.PENDING_APPROVAL
    assert any(staff.email in m.to for m in mail.outbox), "staff are told"

    response = log_in(client, "taro@example.jp")
    assert "承認" in response.content.decode()
    assert "_auth_user_id" not in client.session

    with django_capture_on_commit_callbacks(execute=True):
        approve_member(member, by=staff)
    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE
    assert "approved" in mail.outbox[-1].subject or "承認" in mail.outbox[-1].subject
    assert log_in(client, "taro@example.jp").status_code == 302
    assert client.session.get("_auth_user_id") == str(member.user_id)


def test_sign_up_with_an_existing_contacts_email_shows_nothing_of_it_before_confirmation(client):
    use_policy(RegistrationPolicy.OPEN)
    contact = Contact.objects.create(
        email="known@example.jp", family_name="既存", custom={"note": "x"}
    )
    signup(client, "Known@example.jp", family_name="乗取")
    member = Member.objects.get(user__email__iexact="known@example.jp")
    assert member.contact is None
    contact.refresh_from_db()
    assert contact.user is None and contact.family_name == "既存"

    confirm_from_mail(client, "Known@example.jp")

    member.refresh_from_db()
    assert member.contact == contact
    contact.refresh_from_db()
    assert contact.family_name == "乗取"  # the confirmed owner's answers win
    assert contact.user_id == member.user_id


def test_sign_up_with_an_existing_login_answers_the_same_and_creates_nothing(client, member):
    use_policy(RegistrationPolicy.OPEN)
    fresh = signup(client, "fresh@example.jp")
    taken = signup(client, member.email)
    assert fresh.status_code == taken.status_code == 302
    assert fresh["Location"] == taken["Location"]
    assert User.objects.filter(email__iexact=member.email).count() == 1


def test_policy_switch_keeps_existing_members(client, staff):
    use_policy(RegistrationPolicy.OPEN)
    signup(client, "a@example.jp")
    confirm_from_mail(client, "a@example.jp")
    use_policy(RegistrationPolicy.CLOSED)
    assert log_in(client, "a@example.jp").status_code == 302
    assert Member.objects.get(user__email="a@example.jp").state == MemberState.ACTIVE


def test_rejection_mails_the_person_keeps_the_contact_and_the_reason(
    client, staff, django_capture_on_commit_callbacks
):
    from kizuna.members.registration import reject_member

    use_policy(RegistrationPolicy.APPROVAL)
    signup(client, "jiro@example.jp")
    confirm_from_mail(client, "jiro@example.jp")
    member = Member.objects.get(user__email="jiro@example.jp")
    contact_id = member.contact_id

    with django_capture_on_commit_callbacks(execute=True):
        reject_member(member, by=staff, reason="対象地域外のため")

    assert not User.objects.filter(email="jiro@example.jp").exists()
    assert not Member.objects.filter(pk=member.pk).exists()
    event = Event.objects.get(contact_id=contact_id, type="rejected")
    assert event.props["reason"] == "対象地域外のため"
    assert "対象地域外のため" in mail.outbox[-1].body


def test_allauth_mail_is_in_the_recipients_language(client, member):
    member.language = "en"
    member.save()
    client.post(reverse("account_reset_password"), {"email": member.email})
    assert "Password Reset" in mail.outbox[-1].subject or "password" in mail.outbox[-1].body
    assert "パスワード" not in mail.outbox[-1].body
