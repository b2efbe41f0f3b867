"""The portal benchmark's ROOT_URLCONF: the product's URLs plus the limit, mounted only here
(bench.portal:application serves them).

The limit (GET /bench/limit/?bytes=N) is what the same server does for a page without the
database: the same middleware, the same site layout (core/site/base.html, for an anonymous
visitor, so neither the session nor the user is read), a list of label / value rows rendered by
the same template engine, padded to exactly N bytes - the size of the My Page it is compared with.
"""

import threading

from django.http import HttpResponse
from django.urls import include, path

LIMIT_TEMPLATE = """{% extends "core/site/base.html" %}{% load i18n %}
{% block title %}{% translate "My Page" %}{% endblock %}
{% block main %}
<h1>{% translate "My Page" %}</h1>
<div class="mypage-panels">
{% for section in sections %}<section class="card" aria-labelledby="limit-{{ forloop.counter }}">
  <h2 id="limit-{{ forloop.counter }}">{{ section.title }}</h2>
  <dl class="properties">
    {% for label, value in section.rows %}<dt>{{ label }}</dt>
    <dd>{{ value|default:"-" }}</dd>{% endfor %}
  </dl>
</section>
{% endfor %}</div>
<p hidden>{{ filler }}</p>
{% endblock %}
"""
ROWS_A_SECTION = 8

_template = None
_shapes: dict[int, tuple[int, int]] = {}  # bytes -> (rows, filler length)
_lock = threading.Lock()


def _render(request, rows: int, filler: int) -> bytes:
    global _template
    if _template is None:
        from django.template import engines  # noqa: PLC0415 - the settings are loaded by now

        _template = engines["django"].from_string(LIMIT_TEMPLATE)
    sections = []
    for first in range(0, rows, ROWS_A_SECTION):
        numbers = range(first, min(rows, first + ROWS_A_SECTION))
        sections.append(
            {
                "title": f"項目 {first // ROWS_A_SECTION + 1}",
                "rows": [(f"ラベル {number}", f"値 {number} <&>") for number in numbers],
            }
        )
    context = {"sections": sections, "filler": "x" * filler}
    return _template.render(context, request).encode()


def _shape(request, size: int) -> tuple[int, int]:
    """Rows and filler that make the page exactly `size` bytes (found once for each size)."""
    with _lock:
        if size not in _shapes:
            empty = len(_render(request, 0, 0))
            per_row = max(1.0, (len(_render(request, 40, 0)) - empty) / 40)
            rows = max(0, int((size - empty) / per_row))
            while rows and len(_render(request, rows, 0)) > size:
                rows -= 1
            _shapes[size] = (rows, max(0, size - len(_render(request, rows, 0))))
        return _shapes[size]


def limit_page(request):
    size = int(request.GET.get("bytes") or 0)
    rows, filler = _shape(request, size)
    return HttpResponse(_render(request, rows, filler))


urlpatterns = [
    path("bench/limit/", limit_page, name="bench_limit"),
    path("", include("kizuna.urls")),
]
