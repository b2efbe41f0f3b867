import re

import pytest

PAGES = ["/", "/accounts/login/", "/console/", "/console/outbox/"]


@pytest.fixture
def fetch(client, staff):
    """GET as the visitor who can see the page: anonymous on the site, staff in the console."""

    def get(path):
        if path.startswith("/console/"):
            client.force_login(staff)
        return client.get(path)

    return get


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_strict_content_security_policy_with_a_nonce(fetch, path):
    response = fetch(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    scripts = re.findall(r"<script\b[^>]*>", response.text)
    assert scripts, "the shells load htmx"
    assert all(f'nonce="{nonce}"' in tag for tag in scripts)


@pytest.mark.parametrize("path", PAGES)
def test_no_page_uses_inline_styles_that_the_policy_would_block(fetch, path):
    html = fetch(path).text
    assert " style=" not in html
    assert "<style>" not in html


def test_each_response_carries_a_new_nonce(client, db):
    first = client.get("/")["Content-Security-Policy"]
    second = client.get("/")["Content-Security-Policy"]
    assert first != second


def test_pages_cannot_be_framed_or_sniffed(client, db):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_an_address_with_a_nul_character_is_a_bad_request_and_query_nuls_are_dropped(client, db):
    assert client.get("/pages/%00/").status_code == 400
    response = client.get("/pages/?q=a%00b")
    assert response.status_code == 200 and response.wsgi_request.GET["q"] == "ab"
