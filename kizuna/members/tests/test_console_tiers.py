"""Tiers: list, add, edit, delete; the key is fixed once members have the tier; one default."""

import pytest
from django.urls import reverse

from kizuna.members.models import Member, MemberState, Tier

pytestmark = pytest.mark.django_db
TIERS = reverse("members:tier_list")


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def tier_data(**overrides) -> dict:
    data = {"name_ja": "ゴールド", "name_en": "Gold", "slug": "gold", "position": "1"}
    data.update(overrides)
    return data


def test_the_list_shows_each_tier_with_its_number_of_members(staff_client):
    gold = Tier.objects.create(slug="gold", name_ja="ゴールド", name_en="Gold", is_default=True)
    Member.objects.create(state=MemberState.ACTIVE, tier=gold)
    Member.objects.create(state=MemberState.ACTIVE, tier=gold)

    response = staff_client.get(TIERS)

    assert [(t.slug, t.member_count) for t in response.context["tiers"]] == [("gold", 2)]
    page = response.content.decode()
    assert "Gold" in page
    assert f"{reverse('members:member_list')}?tier=gold" in page


def test_adding_a_tier(staff_client):
    response = staff_client.post(reverse("members:tier_create"), tier_data(slug="Gold"))

    assert response["Location"] == TIERS
    tier = Tier.objects.get()
    assert (tier.slug, tier.name_ja, tier.name_en) == ("gold", "ゴールド", "Gold")


def test_a_tier_needs_a_japanese_name_and_a_unique_key(staff_client):
    Tier.objects.create(slug="gold", name_ja="ゴールド")
    response = staff_client.post(reverse("members:tier_create"), tier_data(name_ja=""))
    page = response.content.decode()
    assert 'id="id_name_ja_error"' in page
    assert 'id="id_slug_error"' in page
    assert Tier.objects.count() == 1


def test_editing_a_tier_without_members_can_change_its_key(staff_client):
    tier = Tier.objects.create(slug="gold", name_ja="ゴールド")
    staff_client.post(reverse("members:tier_edit", args=[tier.pk]), tier_data(slug="platinum"))
    tier.refresh_from_db()
    assert tier.slug == "platinum"


def test_the_key_is_fixed_once_members_have_the_tier(staff_client):
    tier = Tier.objects.create(slug="gold", name_ja="ゴールド")
    Member.objects.create(state=MemberState.ACTIVE, tier=tier)
    url = reverse("members:tier_edit", args=[tier.pk])
    assert "can no longer change" in staff_client.get(url).content.decode()

    staff_client.post(url, tier_data(slug="platinum", name_ja="ゴールド会員"))

    tier.refresh_from_db()
    assert (tier.slug, tier.name_ja) == ("gold", "ゴールド会員")


def test_making_a_tier_the_default_takes_it_from_the_previous_one(staff_client):
    free = Tier.objects.create(slug="free", name_ja="無料", is_default=True)
    gold = Tier.objects.create(slug="gold", name_ja="ゴールド")

    staff_client.post(reverse("members:tier_edit", args=[gold.pk]), tier_data(is_default="on"))

    assert list(Tier.objects.filter(is_default=True)) == [gold]
    free.refresh_from_db()
    assert not free.is_default


def test_a_new_default_tier_can_be_added_while_another_is_the_default(staff_client):
    Tier.objects.create(slug="free", name_ja="無料", is_default=True)
    staff_client.post(reverse("members:tier_create"), tier_data(is_default="on"))
    assert list(Tier.objects.filter(is_default=True).values_list("slug", flat=True)) == ["gold"]


def test_deleting_a_tier_asks_first_and_leaves_its_members_without_a_tier(staff_client):
    tier = Tier.objects.create(slug="gold", name_ja="ゴールド")
    member = Member.objects.create(state=MemberState.ACTIVE, tier=tier)
    url = reverse("members:tier_delete", args=[tier.pk])
    assert "1 member has this tier" in staff_client.get(url).content.decode()

    response = staff_client.post(url)

    assert response["Location"] == TIERS
    assert not Tier.objects.exists()
    member.refresh_from_db()
    assert member.tier is None
