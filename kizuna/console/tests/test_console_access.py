import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from kizuna.accounts.tests.factories import PASSWORD


def console_paths(resolver=None, prefix=""):
    """Every URL under /console/, with 1 for each path argument."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from console_paths(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("console/"):
            yield "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)


CONSOLE_PATHS = sorted(set(console_paths()))


def test_the_console_has_urls_to_check():
    assert "/console/" in CONSOLE_PATHS
    assert "/console/outbox/1/" in CONSOLE_PATHS


@pytest.mark.parametrize("path", CONSOLE_PATHS)
def test_a_member_gets_403_from_every_console_url(member_client, path):
    assert member_client.get(path).status_code == 403


@pytest.mark.parametrize("path", CONSOLE_PATHS)
def test_an_anonymous_visitor_is_sent_to_log_in_from_every_console_url(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_deactivated_staff_user_is_refused(client, staff):
    staff.is_active = False
    staff.save()
    client.force_login(staff)
    assert client.get("/console/").status_code in {302, 403}


def test_staff_log_in_through_allauth_and_reach_the_dashboard(client, staff):
    response = client.post(
        "/accounts/login/",
        {"login": "STAFF@kizuna.test", "password": PASSWORD, "next": "/console/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/"
    dashboard = client.get("/console/")
    assert dashboard.status_code == 200
    assert dashboard.context["figures"]["staff"] == 1


def test_a_wrong_password_is_refused_with_a_message(client, staff):
    response = client.post("/accounts/login/", {"login": staff.email, "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_failed_log_ins_are_rate_limited(client, staff):
    for _ in range(5):
        client.post("/accounts/login/", {"login": staff.email, "password": "wrong"})
    # Even the right password is refused once the account's limit is reached.
    response = client.post("/accounts/login/", {"login": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in {200, 429}


def test_the_dashboard_counts_come_from_the_database(staff_client, colleague, member, stranger):
    figures = staff_client.get("/console/").context["figures"]
    assert figures["staff"] == 2
    assert figures["members"] == 2
