"""Recommendations on a small fixed library: picks, then co-visits, then popular; read last."""

import pytest
from django.utils import timezone

from kizuna.content.audience import Viewer
from kizuna.content.models import AudienceKind, StaffPick
from kizuna.content.recommending import recommend
from kizuna.content.tests.factories import member_contact, page
from kizuna.tracking.models import Event

pytestmark = pytest.mark.django_db


def read(contact, slug, number=[0]):  # noqa: B006 - a counter for unique event ids
    number[0] += 1
    Event.objects.create(
        event_id=f"read-{number[0]}",
        type="page_view",
        occurred_at=timezone.now(),
        contact=contact,
        url=f"/pages/{slug}/",
        props={"page": slug},
    )


@pytest.fixture
def library():
    return {slug: page(slug) for slug in ("a", "b", "c", "d", "e")} | {
        "gold": page("gold", AudienceKind.TIERS, audience_tiers=["gold"])
    }


def test_order_is_picks_then_co_visits_then_popular_and_read_pages_last(library):
    me = member_contact("me@example.jp")
    others = [member_contact(f"o{n}@example.jp") for n in range(3)]
    # Readers of "a" also read "c" (three of them) and "d" (one).
    for other in others:
        read(other, "a")
        read(other, "c")
    read(others[0], "d")
    # "e" is popular with other readers of nothing in common.
    for n in range(4):
        read(member_contact(f"p{n}@example.jp"), "e")
    StaffPick.objects.create(page=library["b"], note="新入会員の方へ")
    read(me, "d")

    result = recommend(Viewer(me), current=library["a"], limit=10)

    slugs = [item.page.slug for item in result]
    assert slugs[0] == "b" and result[0].reason == "新入会員の方へ"
    assert slugs[1] == "c" and "a" in result[1].reason
    assert slugs.index("e") > slugs.index("c")
    assert slugs[-1] == "d" and result[-1].seen
    assert "gold" not in slugs and "a" not in slugs


def test_a_pick_for_a_segment_is_only_for_its_members(library):
    StaffPick.objects.create(page=library["b"], segment_filter={"tag": "VIP"}, note="VIPの方へ")
    vip = member_contact("vip@example.jp", tags=["VIP"])
    plain = member_contact("plain@example.jp")
    assert recommend(Viewer(vip), limit=1)[0].reason == "VIPの方へ"
    assert all(item.reason != "VIPの方へ" for item in recommend(Viewer(plain), limit=10))


def test_anonymous_visitors_get_only_public_pages(library):
    public = page("open", AudienceKind.PUBLIC)
    assert [item.page for item in recommend(Viewer(None))] == [public]


def test_my_page_shows_the_members_announcements_and_recommendations(client, library):
    from django.urls import reverse

    from kizuna.content.models import Announcement

    Announcement.objects.create(title="年末年始のお知らせ", is_published=True)
    Announcement.objects.create(
        title="ゴールド会員向け", audience=AudienceKind.TIERS, audience_tiers=["gold"],
        is_published=True,
    )  # fmt: skip
    StaffPick.objects.create(page=library["b"], note="新入会員の方へ")
    member = member_contact("me@example.jp")
    client.force_login(member.user)
    html = client.get(reverse("members_site:my_page")).content.decode()
    assert "年末年始のお知らせ" in html and "ゴールド会員向け" not in html
    assert "新入会員の方へ" in html and "/pages/gold/" not in html
