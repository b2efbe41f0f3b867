"""Inviting contacts as members: one contact, a segment, a selection of the contacts list —
during the request up to KIZUNA_BULK_INLINE_ROWS contacts, by a task beyond."""

import json

import pytest
from django.core import mail
from django.urls import reverse

from kizuna.accounts.tests.factories import UserFactory
from kizuna.core.models import AuditAction, AuditLog
from kizuna.crm.models import Contact
from kizuna.crm.tests.factories import ContactFactory
from kizuna.members import inviting, tasks
from kizuna.members.inviting import InviteResult, invite_contacts
from kizuna.members.models import JoinedVia, Member, MemberState
from kizuna.segments.models import Segment

pytestmark = pytest.mark.django_db
INVITE_ONE = reverse("members:invite_contact")
INVITE_MANY = reverse("members:invite_segment")


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def tokyo(db):
    """A segment of four Tokyo contacts: two to invite, one without email, one member."""
    Segment.objects.create(
        name="東京のお客様",
        slug="tokyo",
        filter={"field": "prefecture", "op": "eq", "value": "東京都"},
        shared=True,
    )
    invitees = [ContactFactory(prefecture="東京都") for _ in range(2)]
    ContactFactory(prefecture="東京都", email="")
    member = ContactFactory(prefecture="東京都")
    Member.objects.create(contact=member, state=MemberState.ACTIVE)
    ContactFactory(prefecture="大阪府")
    return invitees


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- One contact --------------------------------------------------------------------------------


def test_inviting_a_contact_by_email_creates_the_login_and_mails_the_link(
    staff_client, staff, django_capture_on_commit_callbacks
):
    contact = ContactFactory(email="guest@example.jp")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(INVITE_ONE, {"contact": "guest@example.jp"})

    member = Member.objects.get(contact=contact)
    assert response["Location"] == reverse("members:member_detail", args=[member.pk])
    assert member.state == MemberState.PENDING_VERIFICATION
    assert member.joined_via == JoinedVia.INVITATION
    assert member.invited_by == staff
    assert mail.outbox[-1].to == ["guest@example.jp"]
    assert AuditLog.objects.filter(action=AuditAction.INVITE, actor=staff).count() == 1


def test_inviting_a_contact_by_id_works_too(staff_client):
    contact = ContactFactory()
    staff_client.post(INVITE_ONE, {"contact": str(contact.pk)})
    assert Member.objects.filter(contact=contact).exists()


def test_inviting_an_unknown_contact_shows_an_error_on_the_field(staff_client):
    response = staff_client.post(INVITE_ONE, {"contact": "nobody@example.jp"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "No contact has the id or email" in page
    assert 'id="id_contact_error"' in page


def test_inviting_a_member_again_is_refused_on_the_form(staff_client):
    contact = ContactFactory()
    Member.objects.create(contact=contact, state=MemberState.ACTIVE)
    response = staff_client.post(INVITE_ONE, {"contact": contact.email})
    assert response.status_code == 200
    assert "The contact is already a member." in response.content.decode()


def test_the_member_list_offers_the_invite_form_and_the_segments(staff_client, tokyo):
    page = staff_client.get(reverse("members:member_list")).content.decode()
    assert f'action="{INVITE_ONE}"' in page
    assert 'value="tokyo"' in page


# --- A segment or a selection -------------------------------------------------------------------


def test_the_segment_confirmation_shows_the_numbers_before_anything_is_sent(staff_client, tokyo):
    response = staff_client.get(INVITE_MANY, {"segment": "tokyo"})

    preview = response.context["preview"]
    assert (preview.total, preview.no_email, preview.members, preview.to_invite) == (4, 1, 1, 2)
    assert "Invite 2 contacts" in response.content.decode()
    assert Member.objects.count() == 1
    assert mail.outbox == []


def test_inviting_a_segment_invites_those_with_an_email_and_no_membership(
    staff_client, tokyo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(INVITE_MANY, {"segment": "tokyo"}, follow=True)

    invited = Member.objects.filter(joined_via=JoinedVia.INVITATION)
    assert sorted(invited.values_list("contact_id", flat=True)) == sorted(c.pk for c in tokyo)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in tokyo)
    messages = shown_messages(response)
    assert "2 contacts were invited." in messages
    assert any("1 without an email address, 1 already members" in text for text in messages)


def test_someone_elses_personal_segment_is_404(staff_client, colleague):
    Segment.objects.create(
        name="私用", slug="mine", filter={"all": []}, owner=colleague, shared=False
    )
    assert staff_client.get(INVITE_MANY, {"segment": "mine"}).status_code == 404


def test_ticked_contacts_of_the_contacts_list_can_be_invited(staff_client):
    first, second, other = ContactFactory(), ContactFactory(), ContactFactory()

    confirm = staff_client.get(INVITE_MANY, {"ids": [first.pk, second.pk]})
    assert confirm.context["preview"].total == 2
    assert f'name="ids" value="{first.pk}"' in confirm.content.decode()
    staff_client.post(INVITE_MANY, {"ids": [first.pk, second.pk]})

    assert set(Member.objects.values_list("contact_id", flat=True)) == {first.pk, second.pk}
    assert not Member.objects.filter(contact=other).exists()


def test_the_whole_filtered_contacts_list_can_be_invited(staff_client):
    ContactFactory(prefecture="北海道")
    ContactFactory(prefecture="沖縄県")
    document = json.dumps({"field": "prefecture", "op": "eq", "value": "北海道"})

    staff_client.post(INVITE_MANY, {"select_all": "1", "filter": document})

    assert list(Member.objects.values_list("contact__prefecture", flat=True)) == ["北海道"]


def test_an_empty_selection_goes_back_with_a_message(staff_client):
    response = staff_client.get(INVITE_MANY, follow=True)
    assert "Select at least one contact first." in shown_messages(response)


def test_a_broken_filter_goes_back_with_its_error(staff_client):
    response = staff_client.get(INVITE_MANY, {"select_all": "1", "filter": "{"}, follow=True)
    assert "The filter is not valid JSON." in shown_messages(response)


def test_a_large_segment_is_invited_by_the_task_after_the_commit(
    staff_client, staff, tokyo, settings, django_capture_on_commit_callbacks
):
    settings.KIZUNA_BULK_INLINE_ROWS = 2
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    confirm = staff_client.get(INVITE_MANY, {"segment": "tokyo"})
    assert "in the background" in confirm.content.decode()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(INVITE_MANY, {"segment": "tokyo"}, follow=True)

    assert len(callbacks) == 1
    assert Member.objects.count() == 1  # nothing yet: the task will do it
    assert any("in the background" in text for text in shown_messages(response))

    tasks.invite_selection.call({"filter": {"segment": "tokyo"}}, staff.pk)

    invited = Member.objects.filter(joined_via=JoinedVia.INVITATION)
    assert sorted(invited.values_list("contact_id", flat=True)) == sorted(c.pk for c in tokyo)


def test_the_task_run_twice_invites_nobody_twice(staff, tokyo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.invite_selection.call({"filter": {"segment": "tokyo"}}, staff.pk)
        tasks.invite_selection.call({"filter": {"segment": "tokyo"}}, staff.pk)
    assert len(mail.outbox) == 2
    assert Member.objects.filter(joined_via=JoinedVia.INVITATION).count() == 2


def test_the_task_does_nothing_for_a_user_who_is_no_longer_staff(tokyo):
    former = UserFactory(email="former@kizuna.test")
    assert inviting.run_invite_selection({"filter": {"segment": "tokyo"}}, former.pk) is None
    assert Member.objects.count() == 1


def test_invite_contacts_counts_what_it_skipped(staff, tokyo):
    UserFactory(email=tokyo[0].email)  # a login (staff, say) already uses this address

    result = invite_contacts(Contact.objects.filter(prefecture="東京都"), by=staff)

    assert result == InviteResult(invited=1, skipped_no_email=1, skipped_members=1, failed=1)


def test_a_withdrawn_member_can_be_invited_again(staff):
    contact = ContactFactory()
    Member.objects.create(contact=contact, state=MemberState.WITHDRAWN)

    result = invite_contacts(Contact.objects.filter(pk=contact.pk), by=staff)

    assert result.invited == 1
    assert Member.objects.get(contact=contact).state == MemberState.PENDING_VERIFICATION


def test_the_contacts_list_and_the_segment_page_offer_the_invitation(staff_client, tokyo):
    from kizuna.segments.models import Segment

    contact_list = staff_client.get(reverse("crm:contact_list")).content.decode()
    assert f'formaction="{reverse("members:invite_segment")}"' in contact_list
    assert "Invite as members" in contact_list or "会員として招待" in contact_list
    segment = Segment.objects.filter(slug="new").first()
    page = staff_client.get(reverse("segments:segment_detail", args=[segment.slug])).content
    assert reverse("members:invite_segment").encode() + b"?select_all=1" in page
