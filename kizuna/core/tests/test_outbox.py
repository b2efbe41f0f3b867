import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from kizuna.core.models import OutboxMessage
from kizuna.settings import mailer_from_url

OUTBOX = {"BACKEND": "kizuna.core.outbox.OutboxBackend"}


@pytest.fixture
def outbox_mailers(settings):
    settings.MAILERS = {"default": OUTBOX, "transactional": OUTBOX, "marketing": OUTBOX}


def send_greeting(using="transactional"):
    message = EmailMultiAlternatives(
        subject="ご登録ありがとうございます",
        body="山田 花子 様\nご登録ありがとうございます。",
        from_email="Kizuna <noreply@kizuna.test>",
        to=["hanako@example.jp"],
        reply_to=["sato@kizuna.test"],
    )
    message.attach_alternative("<p>山田 花子 様</p><script>alert(1)</script>", "text/html")
    message.send(using=using)


def test_without_smtp_mail_is_kept_in_the_outbox(db, outbox_mailers):
    send_greeting()
    kept = OutboxMessage.objects.get()
    assert kept.subject == "ご登録ありがとうございます"
    assert kept.to == ["hanako@example.jp"]
    assert kept.reply_to == ["sato@kizuna.test"]
    assert kept.mailer == "transactional"
    assert "山田 花子 様" in kept.body_text
    assert "<p>山田 花子 様</p>" in kept.body_html
    assert kept.message_id.startswith("<")
    assert "Subject:" in kept.raw


def test_transactional_and_marketing_mail_go_through_separate_mailers(db, outbox_mailers):
    send_greeting(using="marketing")
    send_greeting(using="transactional")
    assert sorted(OutboxMessage.objects.values_list("mailer", flat=True)) == [
        "marketing",
        "transactional",
    ]


def test_staff_read_the_outbox_in_the_console(staff_client, outbox_mailers):
    send_greeting()
    kept = OutboxMessage.objects.get()
    listing = staff_client.get("/console/outbox/")
    assert "ご登録ありがとうございます" in listing.text
    detail = staff_client.get(f"/console/outbox/{kept.pk}/")
    assert "hanako@example.jp" in detail.text


def test_the_html_part_is_shown_sandboxed(staff_client, outbox_mailers):
    send_greeting()
    response = staff_client.get(f"/console/outbox/{OutboxMessage.objects.get().pk}/html/")
    assert response["Content-Security-Policy"].startswith("sandbox;")
    assert "script-src" not in response["Content-Security-Policy"]


def test_members_cannot_read_the_outbox(member_client, outbox_mailers):
    send_greeting()
    pk = OutboxMessage.objects.get().pk
    assert member_client.get(f"/console/outbox/{pk}/").status_code == 403
    assert member_client.get(f"/console/outbox/{pk}/html/").status_code == 403


def test_an_email_url_sends_through_a_real_smtp_server(settings):
    handler = Sink()
    received = []
    handler.handle_DATA = _collect(received)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = mailer_from_url(f"smtp://127.0.0.1:{port}")
        settings.MAILERS = {"default": smtp, "transactional": smtp, "marketing": smtp}
        mail.send_mail("件名", "本文です。", "noreply@kizuna.test", ["taro@example.jp"])
    finally:
        controller.stop()
    assert len(received) == 1
    envelope = received[0]
    assert envelope.rcpt_tos == ["taro@example.jp"]
    assert b"Subject: =?utf-8?" in envelope.content


def _collect(received):
    async def handle_DATA(server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        received.append(envelope)
        return "250 OK"

    return handle_DATA


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
