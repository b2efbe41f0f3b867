"""Requests whose address carries a NUL character are answered 400 at once: no view could use
one, and PostgreSQL refuses it in any text it is handed (a 500 otherwise)."""

from urllib.parse import unquote

from django.http import HttpResponseBadRequest


class RejectNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = unquote(request.META.get("QUERY_STRING", ""))
        if "\x00" in request.path or "\x00" in query:
            return HttpResponseBadRequest("Bad request.", content_type="text/plain")
        return self.get_response(request)
