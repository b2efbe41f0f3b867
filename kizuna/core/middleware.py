"""NUL characters never reach a view: PostgreSQL refuses them in any text it is handed (a server
error otherwise), and no address or form value of ours can mean one. An address with one is a
bad request; in the query string they are dropped (the tracking pixel must still answer)."""

from django.http import HttpResponseBadRequest, QueryDict


class RejectNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return HttpResponseBadRequest("Bad request.", content_type="text/plain")
        if "%00" in request.META.get("QUERY_STRING", ""):
            cleaned = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                cleaned.setlist(key.replace("\x00", ""), [v.replace("\x00", "") for v in values])
            cleaned._mutable = False
            request.GET = cleaned
        return self.get_response(request)
