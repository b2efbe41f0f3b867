"""The approval queue: who waits, oldest first, with what they entered; approve, reject, bulk."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from kizuna.accounts.tests.factories import UserFactory
from kizuna.core.models import RegistrationPolicy, SiteSettings
from kizuna.crm.tests.factories import FieldDefinitionFactory
from kizuna.members.models import Member, MemberState
from kizuna.members.registration import confirm_member, register_member

pytestmark = pytest.mark.django_db
QUEUE = reverse("members:approval_queue")


@pytest.fixture(autouse=True)
def approval_policy(client, settings):
    SiteSettings.objects.update_or_create(
        pk=1, defaults={"registration_policy": RegistrationPolicy.APPROVAL}
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def waiting(email, *, days_ago=0, **profile) -> Member:
    user = UserFactory(email=email)
    member = register_member(user, {"family_name": "山田", "given_name": "花子", **profile})
    Member.objects.filter(pk=member.pk).update(
        registered_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    return confirm_member(user)


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_queue_lists_waiting_registrations_oldest_first_with_their_age(staff_client):
    new = waiting("new@example.jp", days_ago=1)
    old = waiting("old@example.jp", days_ago=5)
    active = waiting("active@example.jp")
    Member.objects.filter(pk=active.pk).update(state=MemberState.ACTIVE)

    response = staff_client.get(QUEUE)

    assert [member.pk for member, _answers in response.context["rows"]] == [old.pk, new.pk]
    page = response.content.decode()
    assert "5\xa0days" in page
    assert "active@example.jp" not in page


def test_the_queue_shows_the_registration_details(staff_client):
    FieldDefinitionFactory(key="industry", label_en="Industry", member_editable=True)
    waiting(
        "details@example.jp",
        phone="03-1234-5678",
        prefecture="東京都",
        city="千代田区",
        custom={"industry": "製造業"},
    )

    page = staff_client.get(QUEUE).content.decode()

    assert "details@example.jp" in page
    assert "山田 花子" in page
    assert "東京都千代田区" in page
    assert "Industry" in page and "製造業" in page


def test_approving_from_the_queue_comes_back_to_the_queue(
    staff_client, django_capture_on_commit_callbacks
):
    member = waiting("one@example.jp")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("members:member_approve", args=[member.pk]), {"next": QUEUE}, follow=True
        )

    assert response.redirect_chain[-1][0] == QUEUE
    member.refresh_from_db()
    assert member.state == MemberState.ACTIVE
    assert mail.outbox[-1].to == ["one@example.jp"]


def test_a_next_page_outside_the_console_is_ignored(staff_client):
    member = waiting("one@example.jp")
    response = staff_client.post(
        reverse("members:member_approve", args=[member.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("members:member_detail", args=[member.pk])


def test_rejecting_from_the_queue_comes_back_to_the_queue(staff_client):
    member = waiting("no@example.jp")
    url = reverse("members:member_reject", args=[member.pk])
    confirm = staff_client.get(url, {"next": QUEUE})
    assert f'name="next" value="{QUEUE}"' in confirm.content.decode()

    response = staff_client.post(url, {"next": QUEUE, "reason": ""})

    assert response["Location"] == QUEUE
    assert not Member.objects.filter(pk=member.pk).exists()


def test_bulk_approve_approves_only_the_ticked_registrations(
    staff_client, django_capture_on_commit_callbacks
):
    first = waiting("first@example.jp")
    second = waiting("second@example.jp")
    untouched = waiting("third@example.jp")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(QUEUE, {"ids": [first.pk, second.pk]}, follow=True)

    states = dict(Member.objects.values_list("pk", "state"))
    assert states[first.pk] == states[second.pk] == MemberState.ACTIVE
    assert states[untouched.pk] == MemberState.PENDING_APPROVAL
    assert "2 registrations were approved." in shown_messages(response)
    assert sorted(m.to[0] for m in mail.outbox) == ["first@example.jp", "second@example.jp"]


def test_bulk_approve_reports_members_that_were_no_longer_waiting(staff_client):
    first = waiting("first@example.jp")
    gone = waiting("gone@example.jp")
    Member.objects.filter(pk=gone.pk).update(state=MemberState.ACTIVE)

    response = staff_client.post(QUEUE, {"ids": [first.pk, gone.pk]}, follow=True)

    messages = shown_messages(response)
    assert "1 registration was approved." in messages
    assert any("Only registrations waiting for approval" in text for text in messages)


def test_bulk_approve_with_nothing_ticked_asks_to_tick_some(staff_client):
    waiting("first@example.jp")
    response = staff_client.post(QUEUE, {}, follow=True)
    assert "Tick the registrations to approve first." in shown_messages(response)
    assert Member.objects.get().state == MemberState.PENDING_APPROVAL


def test_an_empty_queue_says_so(staff_client):
    assert "No registrations are waiting" in staff_client.get(QUEUE).content.decode()
