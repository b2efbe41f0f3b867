"""Sign-up, log-in and reset: no account enumeration, password rules, spam stopped."""

import time

import pytest
from django.core import mail
from django.urls import reverse

from kizuna.accounts.models import User
from kizuna.accounts.tests.factories import PASSWORD as USER_PASSWORD
from kizuna.core.models import RegistrationPolicy, SiteSettings
from kizuna.members.forms import signup_started_token
from kizuna.members.models import Member
from kizuna.members.tests.factories import make_member
from kizuna.members.tests.helpers import PASSWORD, signup

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def open_sign_up():
    SiteSettings.objects.update_or_create(
        pk=1, defaults={"registration_policy": RegistrationPolicy.OPEN}
    )


def test_log_in_answers_the_same_for_a_known_and_an_unknown_email(client):
    make_member()
    known = client.post(
        reverse("account_login"), {"login": "hanako@example.jp", "password": "wrong-one-1"}
    )
    unknown = client.post(
        reverse("account_login"), {"login": "nobody@example.jp", "password": "wrong-one-1"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].errors == unknown.context["form"].errors


def test_password_reset_answers_the_same_for_a_known_and_an_unknown_email(client):
    make_member()
    known = client.post(reverse("account_reset_password"), {"email": "hanako@example.jp"})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@example.jp"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_password_rules_apply_at_sign_up_and_are_shown_next_to_the_field(client):
    SiteSettings.objects.filter(pk=1).update(
        password_min_length=12, password_require_uppercase=True, password_require_symbol=True
    )
    page = client.get(reverse("account_signup")).content.decode()
    assert "12" in page and 'id="id_password1_helptext"' in page

    response = signup(
        client, "weak@example.jp", password1="lowercase12345", password2="lowercase12345"
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["password1"]
    assert len(errors) >= 2
    assert not User.objects.filter(email="weak@example.jp").exists()


def test_password_rules_apply_at_password_reset_and_change(client):
    SiteSettings.objects.filter(pk=1).update(password_require_digit=True)
    member = make_member()
    client.post(reverse("account_login"), {"login": member.user.email, "password": USER_PASSWORD})
    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": USER_PASSWORD,
            "password1": "no-digits-here-at-all",
            "password2": "no-digits-here-at-all",
        },
    )
    assert response.status_code == 200 and response.context["form"].errors["password1"]

    client.post(reverse("account_logout"))
    client.post(reverse("account_reset_password"), {"email": member.user.email})
    link = [m for m in mail.outbox if member.user.email in m.to][-1].body
    path = next(word for word in link.split() if "/password/reset/key/" in word).split(
        "testserver", 1
    )[1]
    form_page = client.get(path, follow=True)
    set_path = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    response = client.post(
        set_path, {"password1": "no-digits-here-at-all", "password2": "no-digits-here-at-all"}
    )
    assert response.status_code == 200 and response.context["form"].errors["password1"]
    response = client.post(
        set_path, {"password1": "has-digit-2026-ok", "password2": "has-digit-2026-ok"}
    )
    assert response.status_code == 302
    # The link works once.
    again = client.get(path, follow=True)
    assert "token_fail" in again.content.decode() or again.context.get("token_fail")


def test_honeypot_sign_up_looks_accepted_but_stores_and_sends_nothing(client):
    response = signup(client, "bot@example.jp", website="http://spam.example")
    assert response.status_code == 302
    assert not User.objects.filter(email="bot@example.jp").exists()
    assert not mail.outbox


def test_a_form_posted_faster_than_a_person_types_stores_and_sends_nothing(client):
    response = signup(client, "fast@example.jp", started=signup_started_token(time.time()))
    assert response.status_code == 302
    assert not User.objects.filter(email="fast@example.jp").exists()
    assert not mail.outbox


def test_sign_ups_per_email_domain_are_limited(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "signup_domain": "2/h/key",
        "signup": False,
    }
    for number in range(2):
        assert signup(client, f"p{number}@flood.example").status_code == 302
        client.cookies.clear()
    response = signup(client, "p9@flood.example")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Member.objects.filter(user__email__endswith="@flood.example").count() == 2


def test_forged_x_forwarded_for_does_not_dodge_the_log_in_limit(client, settings):
    make_member()
    for number in range(12):
        response = client.post(
            reverse("account_login"),
            {"login": "hanako@example.jp", "password": f"wrong-{number}"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}",
        )
    errors = " ".join(response.context["form"].non_field_errors())
    assert "ログイン失敗が連続しています" in errors
    # Even the right password is refused while the lock-out lasts.
    right = client.post(
        reverse("account_login"),
        {"login": "hanako@example.jp", "password": USER_PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert "_auth_user_id" not in client.session, right.status_code


def test_registration_stores_marketing_consent_with_the_wording_shown(
    client, django_capture_on_commit_callbacks
):
    from kizuna.members.tests.helpers import confirm_from_mail

    signup(client, "optin@example.jp", email_opt_in="on")
    confirm_from_mail(client, "optin@example.jp")
    member = Member.objects.get(user__email="optin@example.jp")
    record = member.contact.consents.get()
    assert record.opted_in and record.method == "form" and record.wording
    assert member.contact.email_opt_in is True


def test_terms_must_be_agreed_when_the_site_has_terms(client):
    SiteSettings.objects.filter(pk=1).update(terms_ja="第1条 本規約は…")
    page = client.get(reverse("account_signup")).content.decode()
    assert "第1条" in page
    response = signup(client, "terms@example.jp")
    assert response.status_code == 200 and "agree_terms" in response.context["form"].errors
    assert signup(client, "terms@example.jp", agree_terms="on").status_code == 302


def test_posted_password_is_kept_out_of_signup_data(client):
    signup(client, "data@example.jp")
    member = Member.objects.get(user__email="data@example.jp")
    assert PASSWORD not in str(member.signup_data)


def test_a_log_in_lock_out_expires_and_covers_staff_too(client, staff):
    import time_machine

    with time_machine.travel("2026-11-23 10:00 +0900", tick=False) as traveller:
        for number in range(6):
            client.post(
                reverse("account_login"), {"login": staff.email, "password": f"wrong-{number}"}
            )
        locked = client.post(
            reverse("account_login"), {"login": staff.email, "password": USER_PASSWORD}
        )
        assert "_auth_user_id" not in client.session, locked.status_code
        traveller.shift(6 * 60)
        client.post(reverse("account_login"), {"login": staff.email, "password": USER_PASSWORD})
        assert client.session.get("_auth_user_id") == str(staff.pk)
