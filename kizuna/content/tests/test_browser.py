"""A free member sees the free page but not the gold one; staff promote them; gold opens."""

import pytest
from django.apps import apps

try:
    from playwright.sync_api import expect
except ImportError:  # without it, the chromium_path fixture skips (fails under CI) with the reason
    expect = None

from kizuna.accounts.tests.factories import PASSWORD
from kizuna.content.models import AudienceKind
from kizuna.content.tests.factories import attach_pdf, member_contact, tier
from kizuna.content.tests.factories import page as make_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page_, email):
    page_.goto("/accounts/login/")
    page_.get_by_label("メールアドレス").fill(email)
    page_.get_by_label("パスワード").fill(PASSWORD)
    page_.locator("main").get_by_role("button", name="ログイン").click()


def test_staff_promote_a_free_member_to_gold_and_the_gold_page_and_pdf_open(page, problems, staff):
    tier("gold")
    make_page("free-guide", AudienceKind.TIERS, audience_tiers=["free"], title="無料会員ガイド")
    gold_page = make_page(
        "gold-guide", AudienceKind.TIERS, audience_tiers=["gold"], title="ゴールド会員限定資料"
    )
    attach_pdf(gold_page, "ゴールド資料.pdf")
    hanako = member_contact("hanako@example.jp", tier_slug="free")

    log_in(page, "hanako@example.jp")
    page.goto("/pages/")
    expect(page.locator("main")).to_contain_text("無料会員ガイド")
    expect(page.locator("main")).not_to_contain_text("ゴールド会員限定資料")
    page.goto("/pages/gold-guide/")
    expect(page.locator("main h1")).to_have_text("ご利用の会員プランには含まれていません")
    page.locator("header").get_by_role("button", name="ログアウト").click()

    log_in(page, staff.email)
    member = apps.get_model("members", "Member").objects.get(contact=hanako)
    page.goto(f"/console/members/{member.pk}/")
    page.get_by_label("会員ランク").select_option(label="gold")
    page.get_by_role("button", name="会員ランクを変更する").click()
    expect(page.locator("main")).to_contain_text("gold")
    page.locator("header").get_by_role("button", name="ログアウト").click()

    log_in(page, "hanako@example.jp")
    page.goto("/pages/gold-guide/")
    expect(page.locator("main h1")).to_have_text("ゴールド会員限定資料")
    with page.expect_download() as download:
        page.get_by_role("link", name="ゴールド資料.pdf").click()
    assert download.value.suggested_filename == "ゴールド資料.pdf"
    assert [p for p in problems if "403" not in p] == []  # the refusal above is meant
