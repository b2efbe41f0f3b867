"""A membership in a real browser: sign up, confirm, approval, profile, withdrawal."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

try:
    from playwright.sync_api import expect
except ImportError:  # without it, the chromium_path fixture skips (fails under CI) with the reason
    expect = None

from kizuna.accounts.tests.factories import PASSWORD as STAFF_PASSWORD
from kizuna.core.models import RegistrationPolicy, SiteSettings
from kizuna.crm.models import Contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MEMBER_PASSWORD = "Sakura-no-hana-2026"


def log_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(password)
    page.locator("main").get_by_role("button", name="ログイン").click()


def log_out(page):
    page.locator("header").get_by_role("button", name="ログアウト").click()
    page.wait_for_url("/")


def test_sign_up_confirm_approval_profile_and_withdrawal(page, problems, staff, settings):
    settings.KIZUNA_SIGNUP_MIN_SECONDS = 0
    SiteSettings.objects.update_or_create(
        pk=1, defaults={"registration_policy": RegistrationPolicy.APPROVAL}
    )

    page.goto("/accounts/login/")
    page.locator("main").get_by_role("link", name="会員登録").click()
    page.locator("#id_email").fill("sakura@example.jp")
    page.locator("#id_password1").fill(MEMBER_PASSWORD)
    page.locator("#id_password2").fill(MEMBER_PASSWORD)
    page.get_by_label("姓").first.fill("桜井")
    page.locator("#id_given_name").fill("さくら")
    page.locator("main").get_by_role("button", name="会員登録").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))

    message = [m for m in mail.outbox if "sakura@example.jp" in m.to][-1]
    link = re.search(r"https?://\S+", message.body).group(0)
    page.goto(urlsplit(link).path)
    page.locator("main form").get_by_role("button").click()

    log_in(page, "sakura@example.jp", MEMBER_PASSWORD)
    expect(page.locator("main")).to_contain_text("承認待ち")

    log_in(page, staff.email, STAFF_PASSWORD)
    page.goto("/console/members/approvals/")
    page.locator("main").get_by_role("button", name="承認", exact=True).click()
    expect(page.locator("main")).not_to_contain_text("sakura@example.jp")
    log_out(page)

    log_in(page, "sakura@example.jp", MEMBER_PASSWORD)
    page.goto("/mypage/")
    expect(page.locator("main h1")).to_have_text("マイページ")
    page.get_by_role("link", name="プロフィールの編集").click()
    page.locator("#id_family_name").fill("櫻井")
    page.locator("#id_phone").fill("０９０－１１１１－２２２２")
    page.locator("main").get_by_role("button", name="保存").click()
    page.wait_for_url("/mypage/")
    expect(page.locator("main")).to_contain_text("櫻井")
    contact = Contact.objects.get(email="sakura@example.jp")
    assert contact.phone == "090-1111-2222"

    page.get_by_role("link", name="退会する").click()
    page.get_by_label("退会すると直ちに会員資格が終了").check()
    page.locator("main").get_by_role("button", name="退会する").click()
    expect(page.locator("main h1")).to_have_text("退会が完了しました")

    log_in(page, "sakura@example.jp", MEMBER_PASSWORD)
    expect(page.locator("main")).to_contain_text("正しくありません")
    assert [p for p in problems if "HTTP 4" not in p] == []
