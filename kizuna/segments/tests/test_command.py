"""`manage.py segment count|list|explain` as SEGMENTS.md says; exit 2 on a rejected filter."""

import io
import json

import pytest
from django.core.management import call_command

from kizuna.crm.tests.factories import ContactFactory
from kizuna.segments.models import Segment

TOKYO = {"field": "prefecture", "op": "eq", "value": "東京都"}


def run(*args) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("segment", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as stop:
        code = stop.code
    return out.getvalue(), err.getvalue(), code


@pytest.fixture
def people(db):
    return [
        ContactFactory(email="hanako@example.jp", prefecture="東京都"),
        ContactFactory(email="", prefecture="東京都"),
        ContactFactory(email="taro@example.jp", prefecture="大阪府"),
    ]


def test_count_and_list_one_email_a_line_or_the_id(people):
    assert run("count", "--filter", json.dumps(TOKYO))[0].strip() == "2"
    lines = run("list", "--filter", json.dumps(TOKYO))[0].split()
    assert lines == ["hanako@example.jp", str(people[1].pk)]


def test_a_saved_segment_and_a_filter_file(people, tmp_path):
    Segment.objects.create(name="東京", slug="tokyo", filter=TOKYO)
    assert run("count", "--segment", "tokyo")[0].strip() == "2"
    path = tmp_path / "filter.json"
    path.write_text(json.dumps({"not": TOKYO}), encoding="utf-8")
    assert run("count", "--filter", f"@{path}")[0].strip() == "1"


def test_now_fixes_relative_conditions(people):
    document = json.dumps({"field": "created_at", "op": "within_last_days", "value": 1})
    assert (
        run("count", "--filter", document, "--now", "2020-01-01T09:00:00+09:00")[0].strip() == "0"
    )
    assert run("count", "--filter", document)[0].strip() == "3"


def test_explain_prints_the_sql_and_the_plan(people):
    out, _, code = run("explain", "--filter", json.dumps(TOKYO))
    assert code == 0 and "crm_contact" in out and "prefecture" in out


@pytest.mark.parametrize(
    "document", ['{"field": "prefecture", "op": "gt", "value": 1}', "not json"]
)
def test_a_rejected_filter_exits_2_with_the_place(people, document):
    _, err, code = run("count", "--filter", document)
    assert code == 2 and err.strip()
