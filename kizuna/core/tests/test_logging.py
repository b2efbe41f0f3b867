import io
import json
import logging

from django.conf import settings
from log_request_id.filters import RequestIDFilter


def test_log_lines_are_json_with_the_request_id(client, db):
    root_handler = next(h for h in logging.getLogger().handlers if h.get_name() == "stdout")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root_handler.formatter)
    handler.addFilter(RequestIDFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = client.get("/no-such-page/", headers={"x-request-id": "req-4711"})
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-4711"
    line = json.loads(stream.getvalue().splitlines()[0])
    assert line["request_id"] == "req-4711"
    assert line["level"] == "WARNING"
    assert line["logger"] == "django.request"
    assert "Not Found" in line["message"]
    assert line["timestamp"].startswith("20")


def test_a_request_id_is_generated_when_none_is_given(client, db):
    assert len(client.get("/")["X-Request-ID"]) >= 16
    assert settings.LOGGING["handlers"]["stdout"]["stream"] == "ext://sys.stdout"
