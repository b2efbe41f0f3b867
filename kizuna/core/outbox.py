"""The development outbox: an email backend that keeps messages in the database.

Used when no SMTP server is configured, so every flow that mails (sign-up, reset, campaigns) can
be followed in the console at /console/outbox/ without a mail server on the laptop.
"""

from email import policy

from django.core.mail.backends.base import BaseEmailBackend

from kizuna.core.models import OutboxMessage


def _html_alternative(message) -> str:
    for alternative in getattr(message, "alternatives", []):
        content, mimetype = alternative[0], alternative[1]
        if mimetype == "text/html":
            return str(content)
    if getattr(message, "content_subtype", "") == "html":
        return str(message.body)
    return ""


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        kept = 0
        for message in email_messages:
            mime = message.message(policy=policy.SMTP)  # validates headers like a real send
            html = _html_alternative(message)
            OutboxMessage.objects.create(
                mailer=self.alias or "",
                message_id=str(mime.get("Message-ID", "")),
                from_email=str(message.from_email),
                to=[str(address) for address in message.to],
                cc=[str(address) for address in message.cc],
                bcc=[str(address) for address in message.bcc],
                reply_to=[str(address) for address in message.reply_to],
                subject=str(message.subject),
                body_text="" if html and message.content_subtype == "html" else str(message.body),
                body_html=html,
                raw=mime.as_bytes().decode("utf-8", errors="replace"),
            )
            kept += 1
        return kept
