"""Public tracking URLs served by Django: the snippet, the consent choice, and the collect and
pixel handlers for servers that do not go through kizuna.wsgi (runserver, the test client)."""

from pathlib import Path

from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kizuna.tracking import collector
from kizuna.tracking.middleware import (
    CONSENT_COOKIE,
    COOKIE_MAX_AGE,
    VISITOR_COOKIE,
    request_ip,
)

SNIPPET = Path(__file__).resolve().parent.parent / "static" / "tracking" / "kizuna.js"


def _http(answer: collector.Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response[name] = value
    return response


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def collect(request):
    body = request.body if request.method == "POST" else b""
    return _http(
        collector.handle_collect(
            request.method,
            request.headers.get("Origin", ""),
            request.get_host(),
            request_ip(request),
            request.headers.get("User-Agent", ""),
            body,
        )
    )


def pixel(request):
    return _http(
        collector.handle_pixel(
            request.META.get("QUERY_STRING", ""),
            request.get_host(),
            request_ip(request),
            request.headers.get("User-Agent", ""),
            request.headers.get("Referer", ""),
        )
    )


@cache_control(public=True, max_age=3600)
def snippet(request):
    response = FileResponse(SNIPPET.open("rb"), content_type="text/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_http_methods(["GET", "POST"])
def consent(request):
    """The visitor's choice about tracking (the banner posts here; the footer links here)."""
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = "/"
    if request.method == "GET":
        return render(
            request,
            "tracking/site/consent.html",
            {"next": next_url, "choice": request.COOKIES.get(CONSENT_COOKIE, "")},
        )
    accepted = request.POST.get("choice") == "yes"
    response = HttpResponseRedirect(next_url)
    response.set_cookie(
        CONSENT_COOKIE,
        "yes" if accepted else "no",
        max_age=COOKIE_MAX_AGE,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    if not accepted:
        response.delete_cookie(VISITOR_COOKIE)  # withdrawn: no tracking cookie from now on
    return response
