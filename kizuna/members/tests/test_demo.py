"""The demo company has members in every state and tier, with logins that work, loaded once."""

import random

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.utils import translation

from kizuna.accounts.demo import DEMO_PASSWORD
from kizuna.core.demo import load_demo
from kizuna.members.models import Member, MemberState, Tier
from kizuna.tracking.models import Event


@pytest.fixture
def demo(db, settings, capsys):
    settings.DEBUG = True
    with translation.override("en"):
        call_command("demo")
    return capsys.readouterr().out


def test_the_demo_has_the_three_tiers_with_free_the_default(demo):
    tiers = list(Tier.objects.values_list("slug", "name_ja", "name_en", "is_default"))
    assert tiers == [
        ("free", "無料会員", "Free", True),
        ("paid", "有料会員", "Paid", False),
        ("gold", "ゴールド会員", "Gold", False),
    ]


def test_the_demo_has_members_in_every_state_and_tier(demo):
    assert set(Member.objects.values_list("state", flat=True)) == set(MemberState.values)
    assert set(Member.objects.values_list("tier__slug", flat=True)) == {"free", "paid", "gold"}
    active = Member.objects.filter(state=MemberState.ACTIVE)
    assert set(active.values_list("tier__slug", flat=True)) == {"free", "paid", "gold"}
    # Demo contacts with their own emails; the one unconfirmed sign-up with a known contact's
    # email is not joined to that contact.
    for member in Member.objects.exclude(state=MemberState.WITHDRAWN).select_related(
        "contact", "user"
    ):
        if member.contact_id is None:
            assert member.state == MemberState.PENDING_VERIFICATION
            assert member.signup_data["family_name"]
        else:
            assert member.contact.email == member.user.email
            assert member.contact.user_id == member.user_id
    withdrawn = Member.objects.filter(state=MemberState.WITHDRAWN)
    assert not withdrawn.filter(user__isnull=False).exists()
    assert not Member.objects.filter(state=MemberState.SUSPENDED, user__is_active=True).exists()


def test_active_demo_members_log_in_with_the_demo_password(demo, client):
    active = Member.objects.filter(state=MemberState.ACTIVE).select_related("user")
    for member in active:
        assert EmailAddress.objects.filter(
            user=member.user, email=member.user.email, verified=True, primary=True
        ).exists()
    line = next(line for line in demo.splitlines() if line.startswith("Member: log in as "))
    email = line.removeprefix("Member: log in as ").split(" ")[0]
    assert line.endswith(f"with the password {DEMO_PASSWORD}")
    member = active.get(user__email=email)
    assert member.tier.slug == "gold"
    response = client.post("/accounts/login/", {"login": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    page = client.get("/mypage/")
    assert page.status_code == 200
    assert member.contact.family_name in page.content.decode()


def test_a_couple_of_demo_members_have_login_events(demo):
    active = Member.objects.filter(state=MemberState.ACTIVE)
    logins = Event.objects.filter(type="login", contact__member__in=active)
    assert logins.values("contact").distinct().count() >= 2
    assert active.filter(user__last_login__isnull=False).count() >= 2


def test_loading_the_demo_twice_adds_nothing(demo):
    counts = [Member.objects.count(), Tier.objects.count(), EmailAddress.objects.count()]
    with translation.override("en"):
        lines = load_demo(random.Random(1))
    assert "Members: already loaded" in lines
    assert any(line.startswith("Member: log in as ") for line in lines)
    assert [Member.objects.count(), Tier.objects.count(), EmailAddress.objects.count()] == counts
