"""The FAQ on the site: only the entries the viewer may see are listed, found or opened; search
works in Japanese whatever the width or kana; one helpful vote per member or browser."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kizuna.content.models import AudienceKind, Category, FaqEntry, FaqVote
from kizuna.content.tests.factories import member_contact
from kizuna.tracking.ingest import new_visitor_id
from kizuna.tracking.middleware import VISITOR_COOKIE
from kizuna.tracking.models import Event

pytestmark = pytest.mark.django_db
FAQ = reverse("content:faq_list")


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def entry(question: str, answer: str = "回答です。", audience=AudienceKind.PUBLIC, **fields):
    fields.setdefault("is_published", True)
    return FaqEntry.objects.create(question=question, answer=answer, audience=audience, **fields)


@pytest.fixture
def faq():
    orders = Category.objects.create(kind="faq", slug="orders", name_ja="ご注文", position=1)
    account = Category.objects.create(kind="faq", slug="account", name_ja="アカウント", position=2)
    returns = entry(
        "商品の返品はできますか",
        "返品（へんぴん）は商品到着後8日以内に承ります。送料はお客様のご負担です。",
        category=orders,
    )
    wifi = entry("Ｗｉ－Ｆｉの設定方法", "ＰＤＦの手順書をご覧ください。", category=account)
    gold = entry(
        "ゴールド会員の返品特典",
        "ゴールド会員様は返品送料が無料です。",
        AudienceKind.TIERS,
        audience_tiers=["gold"],
        category=orders,
    )
    members = entry("会員限定セールの返品", "セール品の返品は承れません。", AudienceKind.MEMBERS)
    draft = entry("準備中の返品の質問", is_published=False)
    returns.related.set([wifi, gold, draft])
    return {"returns": returns, "wifi": wifi, "gold": gold, "members": members, "draft": draft}


def listed(client, query: str | None = None) -> set[str]:
    response = client.get(FAQ, {"q": query} if query is not None else {})
    assert response.status_code == 200
    html = response.content.decode()
    questions = dict(FaqEntry.objects.values_list("pk", "question"))
    return {question for pk, question in questions.items() if f'href="/faq/{pk}/"' in html}


def test_anonymous_visitors_see_only_public_entries_by_category(client, faq):
    response = client.get(FAQ)
    html = response.content.decode()
    assert listed(client) == {"商品の返品はできますか", "Ｗｉ－Ｆｉの設定方法"}
    assert html.index("ご注文") < html.index("アカウント")


def test_members_see_the_entries_of_their_audience(client, faq):
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    assert listed(client) == {
        "商品の返品はできますか",
        "Ｗｉ－Ｆｉの設定方法",
        "会員限定セールの返品",
    }
    client.force_login(member_contact("gold@example.jp", tier_slug="gold").user)
    assert "ゴールド会員の返品特典" in listed(client)


@pytest.mark.parametrize("query", ["返品", "ﾍﾝﾋﾟﾝ", "ヘンピン", "へんぴん", "　返品　", "返品 送料"])
def test_japanese_search_matches_whatever_the_width_or_kana(client, faq, query):
    assert listed(client, query) == {"商品の返品はできますか"}


@pytest.mark.parametrize("query", ["wi-fi", "ＷＩ－ＦＩ", "pdf", "ＰＤＦ"])
def test_search_folds_full_width_letters_and_case(client, faq, query):
    assert listed(client, query) == {"Ｗｉ－Ｆｉの設定方法"}


def test_every_word_of_the_query_must_occur(client, faq):
    assert listed(client, "返品 設定") == set()
    assert "No question matches your search" in client.get(FAQ, {"q": "返品 設定"}).text


def test_members_only_entries_are_not_found_by_outsiders(client, faq):
    assert listed(client, "返品") == {"商品の返品はできますか"}  # anonymous
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    assert listed(client, "返品") == {"商品の返品はできますか", "会員限定セールの返品"}
    assert listed(client, "ゴールド") == set()
    client.force_login(member_contact("gold@example.jp", tier_slug="gold").user)
    assert "ゴールド会員の返品特典" in listed(client, "ゴールド")


def test_an_entry_url_is_refused_to_outsiders(client, faq):
    url = reverse("content:faq_detail", args=[faq["gold"].pk])
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/?next=" in response["Location"]
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    response = client.get(url)
    assert response.status_code == 403 and "Not included in your membership" in response.text
    assert client.get(reverse("content:faq_detail", args=[faq["draft"].pk])).status_code == 404
    assert client.get(reverse("content:faq_detail", args=[999999])).status_code == 404


def test_related_entries_show_only_the_visible_published_ones(client, faq):
    html = client.get(reverse("content:faq_detail", args=[faq["returns"].pk])).content.decode()
    assert "8日以内" in html
    assert f'href="/faq/{faq["wifi"].pk}/"' in html
    assert f'href="/faq/{faq["gold"].pk}/"' not in html
    assert f'href="/faq/{faq["draft"].pk}/"' not in html
    client.force_login(member_contact("gold@example.jp", tier_slug="gold").user)
    html = client.get(reverse("content:faq_detail", args=[faq["returns"].pk])).content.decode()
    assert f'href="/faq/{faq["gold"].pk}/"' in html


def test_members_only_entries_are_noindex(client, faq):
    client.force_login(member_contact("m@example.jp").user)
    response = client.get(reverse("content:faq_detail", args=[faq["members"].pk]))
    assert response["X-Robots-Tag"] == "noindex"
    response = client.get(reverse("content:faq_detail", args=[faq["returns"].pk]))
    assert "X-Robots-Tag" not in response


def test_entry_views_are_page_view_events_that_say_which_entry(client, faq, tracking_spool):
    contact = member_contact("m@example.jp")
    client.force_login(contact.user)
    client.get(reverse("content:faq_detail", args=[faq["returns"].pk]))
    tracking_spool().flush()
    assert Event.objects.filter(type="page_view", props__faq=faq["returns"].pk).exists()


def vote(client, item, helpful="yes", **headers):
    return client.post(reverse("content:faq_vote", args=[item.pk]), {"helpful": helpful}, **headers)


def test_a_member_votes_once_per_entry(client, faq):
    contact = member_contact("m@example.jp")
    client.force_login(contact.user)
    response = vote(client, faq["returns"], "yes")
    assert response.status_code == 302
    assert vote(client, faq["returns"], "no").status_code == 302
    returns = FaqEntry.objects.get(pk=faq["returns"].pk)
    assert (returns.helpful_yes, returns.helpful_no) == (1, 0)
    assert FaqVote.objects.get(entry=returns).voter == f"c:{contact.pk}"
    html = client.get(reverse("content:faq_detail", args=[returns.pk])).content.decode()
    assert "Thank you for your feedback" in html and 'value="yes"' not in html


def test_a_visitor_votes_once_by_their_visitor_cookie(client, faq):
    visitor_id = new_visitor_id()
    client.cookies[VISITOR_COOKIE] = visitor_id
    vote(client, faq["returns"], "no")
    vote(client, faq["returns"], "no")
    returns = FaqEntry.objects.get(pk=faq["returns"].pk)
    assert (returns.helpful_yes, returns.helpful_no) == (0, 1)
    assert FaqVote.objects.get(entry=returns).voter == f"v:{visitor_id}"
    client.cookies[VISITOR_COOKIE] = new_visitor_id()  # another browser
    vote(client, faq["returns"], "yes")
    assert FaqEntry.objects.get(pk=returns.pk).helpful_yes == 1


def test_a_visitor_without_a_cookie_is_told_how_to_vote(client, faq):
    response = vote(client, faq["returns"], "yes", follow=True)
    assert response.status_code == 200
    assert "please log in or allow cookies" in response.text
    assert FaqVote.objects.count() == 0
    response = vote(client, faq["returns"], "yes", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="faq-feedback"' in response.content.decode()
    assert "<html" not in response.content.decode()


def test_htmx_votes_get_the_thanks_fragment(client, faq):
    client.force_login(member_contact("m@example.jp").user)
    response = vote(client, faq["returns"], "yes", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "Thank you for your feedback" in html and "<html" not in html
    response = vote(client, faq["returns"], "yes", headers={"HX-Request": "true"})
    assert "You have already answered" in response.text
    assert FaqEntry.objects.get(pk=faq["returns"].pk).helpful_yes == 1


def test_votes_are_refused_for_entries_the_viewer_may_not_see(client, faq):
    client.cookies[VISITOR_COOKIE] = new_visitor_id()
    assert vote(client, faq["gold"]).status_code == 302
    client.force_login(member_contact("free@example.jp", tier_slug="free").user)
    assert vote(client, faq["gold"]).status_code == 403
    assert vote(client, faq["draft"]).status_code == 404
    assert FaqVote.objects.count() == 0


def test_a_bad_vote_is_a_400_not_a_500(client, faq):
    client.force_login(member_contact("m@example.jp").user)
    assert vote(client, faq["returns"], "maybe").status_code == 400
    assert client.get(reverse("content:faq_vote", args=[faq["returns"].pk])).status_code == 405


def test_an_overlong_query_is_cut_not_refused(client, faq):
    assert client.get(FAQ, {"q": "返品 " * 500}).status_code == 200


def test_the_faq_list_takes_the_same_queries_for_more_entries(
    client, faq, django_assert_num_queries
):
    client.force_login(member_contact("m@example.jp").user)
    client.get(FAQ)  # session and caches warm
    with CaptureQueriesContext(connection) as few:
        client.get(FAQ)
    for number in range(10):
        entry(f"追加の質問{number}", audience=AudienceKind.MEMBERS)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(FAQ)
