"""Odd addresses on the site's content URLs never end in a server error, on either database."""

import pytest

from kizuna.content.tests.factories import member_contact

pytestmark = pytest.mark.django_db
URLS = [
    "/pages/?q=" + "あ" * 5000,
    "/pages/%00/",
    "/pages/" + "x" * 500 + "/",
    "/pages/a/files/99999999999999999999/",
    "/pages/a/video/",
    "/files/link/%ff%fe/",
    "/faq/?q=%00",
    "/faq/99999999999999999999/",
    "/announcements/0/",
    "/mypage/files/..%2f..%2fetc/",
    "/sitemap.xml",
    "/faq/?q=" + "ﾍﾝﾋﾟﾝ " * 300,
]


def test_odd_addresses_and_posts_are_answered_without_a_server_error(client):
    for url in URLS:
        assert client.get(url).status_code < 500, url
    client.force_login(member_contact("m@example.jp").user)
    for url in URLS:
        assert client.get(url).status_code < 500, url
    for url in ["/pages/a/video/progress/", "/faq/1/vote/", "/announcements/1/dismiss/"]:
        assert client.post(url, {"percent": "x", "answer": "maybe"}).status_code < 500, url
