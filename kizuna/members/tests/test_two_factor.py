"""Optional TOTP two-factor for members (allauth's MFA): once set up, log-in asks for the code."""

import pytest
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.urls import reverse

from kizuna.accounts.tests.factories import PASSWORD
from kizuna.members.tests.factories import make_member

pytestmark = pytest.mark.django_db


def current_code(secret: str) -> str:
    counter = list(yield_hotp_counters_from_time())[len(list(yield_hotp_counters_from_time())) // 2]
    return format_hotp_value(hotp_value(secret, counter))


def test_a_member_turns_on_totp_and_then_needs_the_code_to_log_in(client):
    member = make_member()
    client.post(reverse("account_login"), {"login": member.user.email, "password": PASSWORD})
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert response.status_code == 302
    client.post(reverse("account_logout"))

    response = client.post(
        reverse("account_login"), {"login": member.user.email, "password": PASSWORD}
    )
    assert response.status_code == 302 and "2fa/authenticate" in response["Location"]
    assert "_auth_user_id" not in client.session
    wrong = client.post(response["Location"], {"code": "000000"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    client.post(response["Location"], {"code": current_code(secret)})
    assert client.session.get("_auth_user_id") == str(member.user_id)
