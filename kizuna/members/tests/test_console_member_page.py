"""A member's page: what it shows (dates, login history) and every action on it."""

import datetime
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from kizuna.accounts.models import User
from kizuna.accounts.tests.factories import UserFactory
from kizuna.core.models import AuditAction, AuditLog, RegistrationPolicy, SiteSettings
from kizuna.crm.models import Contact
from kizuna.crm.tests.factories import ContactFactory
from kizuna.members.models import JoinedVia, Member, MemberState, Tier
from kizuna.members.registration import confirm_member, register_member
from kizuna.tracking.models import Event, EventType

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    """The console in English, so that the tests read the screens' own words."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def make_member(state=MemberState.ACTIVE, *, verified=True, **member_fields):
    contact = ContactFactory()
    user = UserFactory(email=contact.email, language="en")
    EmailAddress.objects.filter(user=user).update(verified=verified)
    contact.user = user
    contact.save()
    return Member.objects.create(contact=contact, user=user, state=state, **member_fields)


def waiting_for_approval(email="waiting@example.jp") -> Member:
    SiteSettings.objects.update_or_create(
        pk=1, defaults={"registration_policy": RegistrationPolicy.APPROVAL}
    )
    user = UserFactory(email=email, language="ja")
    register_member(user, {"family_name": "待田", "given_name": "花子"})
    return confirm_member(user)


def page_of(member) -> str:
    return reverse("members:member_detail", args=[member.pk])


def action(member, name) -> str:
    return reverse(f"members:member_{name}", args=[member.pk])


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_page_shows_the_contact_link_dates_and_who_approved(staff_client, staff):
    member = make_member(
        approved_at=timezone.now(),
        decided_by=staff,
        verified_at=timezone.now(),
        withdrawal_reason="",
    )
    page = staff_client.get(page_of(member)).content.decode()
    assert reverse("crm:contact_detail", args=[member.contact.pk]) in page
    assert "Email confirmed" in page
    assert f"by {staff.display_name}" in page


def test_the_page_shows_the_withdrawal_and_its_reason(staff_client):
    member = make_member(
        MemberState.WITHDRAWN, withdrawn_at=timezone.now(), withdrawal_reason="引っ越しのため"
    )
    page = staff_client.get(page_of(member)).content.decode()
    assert "Reason for withdrawal" in page
    assert "引っ越しのため" in page


def test_the_login_history_lists_the_newest_fifty_log_ins_with_ip_and_browser(staff_client):
    member = make_member()
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            event_id=uuid.uuid4().hex,
            type=EventType.LOGIN,
            contact=member.contact,
            occurred_at=now - datetime.timedelta(hours=hours),
            ip=f"203.0.113.{hours}",
            browser="Chrome",
            os="Windows",
        )
        for hours in range(1, 56)
    )
    Event.objects.create(
        event_id="pv", type="page_view", contact=member.contact, occurred_at=now, ip="198.51.100.9"
    )

    response = staff_client.get(page_of(member))

    logins = response.context["logins"]
    assert len(logins) == 50
    assert logins[0].ip == "203.0.113.1"
    page = response.content.decode()
    assert "203.0.113.1<" in page
    assert "Chrome / Windows" in page
    assert "198.51.100.9" not in page


def test_a_sign_up_without_its_contact_yet_has_a_page(staff_client):
    user = UserFactory(email="later@example.jp")
    member = Member.objects.create(
        user=user, state=MemberState.PENDING_VERIFICATION, signup_data={"family_name": "後藤"}
    )
    response = staff_client.get(page_of(member))
    assert response.status_code == 200
    assert "後藤" in response.content.decode()
    assert action(member, "erase") not in response.content.decode()


def test_an_unknown_member_is_404(staff_client):
    assert staff_client.get(reverse("members:member_detail", args=[999999])).status_code == 404


# --- Tier ---------------------------------------------------------------------------------------


def test_changing_the_tier_saves_it_and_records_an_audit_entry(staff_client, staff):
    gold = Tier.objects.create(slug="gold", name_ja="ゴールド", name_en="Gold")
    member = make_member()

    response = staff_client.post(action(member, "tier"), {"tier": gold.pk}, follow=True)

    member.refresh_from_db()
    assert member.tier == gold
    assert "The membership rank was changed." in shown_messages(response)
    entry = AuditLog.objects.get(action=AuditAction.UPDATE, object_id=str(member.contact.pk))
    assert entry.actor == staff
    assert entry.changes == {"tier": ["", "gold"]}


def test_the_tier_can_be_taken_away(staff_client):
    gold = Tier.objects.create(slug="gold", name_ja="ゴールド")
    member = make_member(tier=gold)
    staff_client.post(action(member, "tier"), {"tier": ""})
    member.refresh_from_db()
    assert member.tier is None


def test_an_unknown_tier_is_refused_with_a_message(staff_client):
    member = make_member()
    response = staff_client.post(action(member, "tier"), {"tier": "99999"}, follow=True)
    assert "Choose one of the membership ranks." in shown_messages(response)


# --- Approve / reject ---------------------------------------------------------------------------


def test_approving_activates_the_member_and_emails_them(
    staff_client, staff, django_capture_on_commit_callbacks
):
    member = waiting_for_approval()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(action(member, "approve"), follow=True)

    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE
    assert member.decided_by == staff
    assert "The registration was approved." in shown_messages(response)
    assert AuditLog.objects.filter(action=AuditAction.APPROVE).exists()
    assert [message.to for message in mail.outbox] == [["waiting@example.jp"]]


def test_approving_someone_not_waiting_shows_the_reason_instead_of_failing(staff_client):
    member = make_member(MemberState.ACTIVE)
    response = staff_client.post(action(member, "approve"), follow=True)
    assert response.status_code == 200
    assert "Only registrations waiting for approval can be approved." in shown_messages(response)


def test_rejecting_asks_first_then_deletes_the_login_with_the_reason_mailed(
    staff_client, django_capture_on_commit_callbacks
):
    member = waiting_for_approval()
    contact_pk = member.contact.pk
    confirm = staff_client.get(action(member, "reject"))
    assert "The login is deleted" in confirm.content.decode()
    assert Member.objects.filter(pk=member.pk).exists()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            action(member, "reject"), {"reason": "法人の方のみご登録いただけます。"}, follow=True
        )

    assert response.redirect_chain[-1][0] == reverse("members:approval_queue")
    assert not Member.objects.filter(pk=member.pk).exists()
    assert not User.objects.filter(email="waiting@example.jp").exists()
    assert Contact.objects.filter(pk=contact_pk).exists()
    assert "法人の方のみご登録いただけます。" in mail.outbox[-1].body
    assert mail.outbox[-1].to == ["waiting@example.jp"]


# --- Suspend / reactivate -----------------------------------------------------------------------


def test_suspending_asks_first_then_locks_the_member_out(staff_client):
    member = make_member()
    confirm = staff_client.get(action(member, "suspend"))
    assert "logged out everywhere" in confirm.content.decode()

    response = staff_client.post(action(member, "suspend"), follow=True)

    member.refresh_from_db()
    assert member.state == MemberState.SUSPENDED
    assert not member.user.is_active
    assert "The member was suspended." in shown_messages(response)
    assert AuditLog.objects.filter(action=AuditAction.SUSPEND).exists()


def test_reactivating_a_suspended_member_lets_them_back_in(staff_client):
    member = make_member()
    staff_client.post(action(member, "suspend"))

    response = staff_client.post(action(member, "reactivate"), follow=True)

    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE
    assert member.user.is_active
    assert "The member was reactivated." in shown_messages(response)


def test_reactivating_an_active_member_is_refused_with_a_message(staff_client):
    member = make_member()
    response = staff_client.post(action(member, "reactivate"), follow=True)
    assert "Only suspended members can be reactivated." in shown_messages(response)


def test_actions_that_change_things_refuse_get(staff_client):
    member = make_member()
    for name in ("approve", "reactivate", "resend", "tier"):
        assert staff_client.get(action(member, name)).status_code == 405


# --- Resend -------------------------------------------------------------------------------------


def test_resending_the_confirmation_mails_the_signed_up_person_again(staff_client):
    member = make_member(MemberState.PENDING_VERIFICATION, verified=False)
    mail.outbox.clear()

    response = staff_client.post(action(member, "resend"), follow=True)

    assert "The confirmation email was sent again." in shown_messages(response)
    assert [message.to for message in mail.outbox] == [[member.user.email]]
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_resending_the_confirmation_twice_in_a_row_is_held_back(staff_client):
    member = make_member(MemberState.PENDING_VERIFICATION, verified=False)
    staff_client.post(action(member, "resend"))
    mail.outbox.clear()

    response = staff_client.post(action(member, "resend"), follow=True)

    assert mail.outbox == []
    assert any("a moment ago" in text for text in shown_messages(response))


def test_resending_an_invitation_sends_a_new_invitation(
    staff_client, staff, django_capture_on_commit_callbacks
):
    contact = ContactFactory(email="invitee@example.jp")
    staff_client.post(reverse("members:invite_contact"), {"contact": contact.email})
    member = Member.objects.get(contact=contact)
    assert member.joined_via == JoinedVia.INVITATION

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(action(member, "resend"), follow=True)

    assert "The invitation was sent again." in shown_messages(response)
    assert [message.to for message in mail.outbox] == [["invitee@example.jp"]]


def test_resending_to_an_active_member_is_refused(staff_client):
    member = make_member()
    response = staff_client.post(action(member, "resend"), follow=True)
    assert mail.outbox == []
    assert any("waiting for email confirmation" in text for text in shown_messages(response))


# --- Password reset -----------------------------------------------------------------------------


def test_forcing_a_password_reset_makes_the_password_stop_working(staff_client):
    member = make_member()
    assert member.user.has_usable_password()
    confirm = staff_client.get(action(member, "password_reset")).content.decode()
    assert "Forgot your password?" in confirm

    response = staff_client.post(action(member, "password_reset"), follow=True)

    member.user.refresh_from_db()
    assert not member.user.has_usable_password()
    assert any("no longer works" in text for text in shown_messages(response))


# --- Erasure ------------------------------------------------------------------------------------


def test_the_erasure_page_names_what_is_removed(staff_client):
    member = make_member()
    page = staff_client.get(action(member, "erase")).content.decode()
    assert "This cannot be undone." in page
    assert "Name, kana, email address" in page
    assert "Every event" in page
    assert Contact.objects.get(pk=member.contact.pk).email


def test_erasing_removes_the_personal_data_and_the_login(staff_client):
    member = make_member()
    email, user_pk = member.contact.email, member.user.pk
    Event.objects.create(
        event_id="login-1", type=EventType.LOGIN, contact=member.contact, occurred_at=timezone.now()
    )

    response = staff_client.post(action(member, "erase"), follow=True)

    assert "The personal data was erased." in shown_messages(response)
    contact = Contact.objects.get(pk=member.contact.pk)
    assert contact.email == "" and contact.family_name == ""
    assert not User.objects.filter(pk=user_pk).exists()
    assert not Event.objects.filter(contact=contact).exists()
    assert not Contact.objects.filter(email=email).exists()
    member.refresh_from_db()
    assert member.state == MemberState.WITHDRAWN
    assert AuditLog.objects.filter(action=AuditAction.ERASE).exists()
