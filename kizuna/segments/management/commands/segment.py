"""`manage.py segment count|list|explain` exactly as ../shared/docs/SEGMENTS.md says."""

import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kizuna.crm.models import Contact
from kizuna.segments.compiler import FilterError, compile_filter, parse_document
from kizuna.segments.models import Segment


class Command(BaseCommand):
    help = (
        "Count, list (one email a line; the contact id where there is no email) or explain the "
        "contacts a segment filter selects. Exits 2 when the filter is rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["count", "list", "explain"])
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--filter", help="the filter as JSON, or @file.json")
        source.add_argument("--segment", help="the slug of a saved segment")
        parser.add_argument(
            "--now", help="fix 'now' for relative conditions, e.g. 2026-11-22T09:00:00+09:00"
        )

    def handle(self, *args, action, filter=None, segment=None, now=None, **options):
        moment = self.moment(now)
        document = self.document(filter, segment)
        try:
            contacts = Contact.objects.filter(compile_filter(document, now=moment))
        except FilterError as error:
            self.stderr.write(str(error))
            raise SystemExit(2) from None
        if action == "count":
            self.stdout.write(str(contacts.count()))
        elif action == "list":
            rows = contacts.order_by("pk").values_list("pk", "email")
            for pk, email in rows.iterator(chunk_size=5000):
                self.stdout.write(email or str(pk))
        else:
            query = contacts.values("pk")
            sql, params = query.query.sql_with_params()
            self.stdout.write(f"{sql}\n-- parameters: {list(params)}")
            self.stdout.write(query.explain())

    def moment(self, text: str | None) -> datetime.datetime | None:
        if not text:
            return None
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(
                _("--now must be an ISO 8601 date and time: %(value)s") % {"value": text}
            ) from None
        if moment.tzinfo is None:
            raise CommandError(_("--now needs a UTC offset, such as +09:00."))
        return moment

    def document(self, text: str | None, slug: str | None):
        if slug is not None:
            saved = Segment.objects.filter(slug=slug).first()
            if saved is None:
                raise CommandError(_('There is no segment "%(slug)s".') % {"slug": slug})
            return saved.filter
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text(encoding="utf-8")
            except OSError as error:
                raise CommandError(
                    _("Cannot read %(path)s: %(error)s")
                    % {"path": text[1:], "error": error.strerror}
                ) from None
        try:
            return parse_document(text)
        except FilterError as error:
            self.stderr.write(str(error))
            raise SystemExit(2) from None
