"""Shared steps of the members tests: sign up through the real form, open the mailed link."""

import re
import time

from django.core import mail
from django.urls import reverse

from kizuna.members.forms import signup_started_token

PASSWORD = "kizuna-Member-2026!"


def signup(client, email, **extra):
    data = {
        "email": email,
        "password1": PASSWORD,
        "password2": PASSWORD,
        "family_name": "山田",
        "given_name": "花子",
        "family_name_kana": "やまだ",
        "given_name_kana": "ﾊﾅｺ",
        "started": signup_started_token(time.time() - 60),
    }
    data.update(extra)
    return client.post(reverse("account_signup"), data)


def link_in_last_mail(to: str) -> str:
    message = [m for m in mail.outbox if to.lower() in [a.lower() for a in m.to]][-1]
    return re.search(r"https?://\S+", message.body).group(0)


def confirm_from_mail(client, to: str):
    url = link_in_last_mail(to)
    path = url.split("testserver", 1)[1]
    client.get(path)
    return client.post(path)
