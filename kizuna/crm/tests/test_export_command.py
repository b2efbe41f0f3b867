"""manage.py export_contacts: CSV bytes on standard output, keys as the header row, the segment
filter language's field and tag conditions, exit status 2 with a message for bad input."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from kizuna.core.models import AuditLog
from kizuna.crm.models import FieldType
from kizuna.crm.tests.factories import ContactFactory, FieldDefinitionFactory, TagFactory

PROJECT = Path(__file__).resolve().parents[3]


def run(*arguments) -> bytes:
    """The command's standard output, as the bytes a shell redirection would write."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    call_command("export_contacts", *arguments, stdout=out)
    out.flush()
    return out.buffer.getvalue()


def rows(data: bytes, encoding="utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


@pytest.fixture
def people(db):
    vip = TagFactory(name="VIP")
    tokyo = ContactFactory(email="tokyo@example.jp", family_name="田中", prefecture="東京都")
    tokyo.tags.add(vip)
    ContactFactory(email="osaka@example.jp", family_name="鈴木", prefecture="大阪府")
    return tokyo


def test_the_csv_goes_to_stdout_as_utf8_bytes_with_keys_as_the_header(people):
    data = run("--columns", "email,family_name")
    assert (
        data == "email,family_name\r\ntokyo@example.jp,田中\r\nosaka@example.jp,鈴木\r\n".encode()
    )


def test_without_columns_every_usual_column_and_custom_field_is_written(people):
    FieldDefinitionFactory(key="rank", type=FieldType.CHOICE, choices=[{"value": "gold"}])
    header = rows(run())[0]
    assert header[:3] == ["email", "family_name", "given_name"] and header[-1] == "rank"


def test_columns_come_in_the_order_asked(people):
    assert rows(run("--columns", "prefecture, email"))[0] == ["prefecture", "email"]


def test_labels_instead_of_keys(people):
    with translation.override("ja"):
        assert rows(run("--columns", "email,family_name", "--labels"))[0] == [
            "メールアドレス",
            "姓",
        ]


def test_utf8_sig_starts_with_a_bom_and_cp932_is_shift_jis(people):
    assert run("--columns", "email", "--encoding", "utf-8-sig").startswith(b"\xef\xbb\xbfemail")
    data = run("--columns", "family_name", "--encoding", "cp932")
    assert data.decode("cp932").splitlines() == ["family_name", "田中", "鈴木"]
    assert "田中".encode("cp932") in data


def test_a_field_condition_filters_the_rows(people):
    condition = {"field": "prefecture", "op": "eq", "value": "東京都"}
    assert rows(run("--columns", "email", "--filter", json.dumps(condition))) == [
        ["email"],
        ["tokyo@example.jp"],
    ]


def test_tag_conditions_and_a_filter_from_a_file(people, tmp_path):
    document = {"any": [{"tag": "VIP"}, {"field": "family_name", "op": "eq", "value": "鈴木"}]}
    path = tmp_path / "filter.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert len(rows(run("--columns", "email", "--filter", f"@{path}"))) == 3
    only_vip = rows(run("--columns", "email", "--filter", '{"tag": "VIP"}'))
    assert only_vip == [["email"], ["tokyo@example.jp"]]


def test_every_export_is_audited_with_rows_columns_and_filter(people):
    run("--columns", "email", "--filter", '{"tag": "VIP"}')
    entry = AuditLog.objects.get(action="export")
    assert entry.rows == 1 and entry.actor is None
    assert entry.changes["columns"] == ["email"]
    assert entry.changes["selection"] == {"filter": {"tag": "VIP"}}
    assert entry.changes["via"].startswith("manage.py export_contacts")


def test_cells_are_neutralised_against_formulas(db):
    ContactFactory(email="=1+1@example.com", family_name="@SUM(1)")
    assert rows(run("--columns", "email,family_name"))[1] == ["'=1+1@example.com", "'@SUM(1)"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--filter", "{not json"], "not valid JSON"),
        (["--filter", '{"field": "nope", "op": "eq", "value": 1}'], "nope"),
        (["--filter", '{"field": "prefecture", "op": "between", "value": 1}'], "between"),
        (["--filter", "@/nonexistent/filter.json"], "filter.json"),
        (["--columns", "email,nope"], "nope"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_output(people, arguments, message):
    out = io.StringIO()
    with pytest.raises(CommandError, match=message) as error:
        call_command("export_contacts", *arguments, stdout=out)
    assert error.value.returncode == 2
    assert out.getvalue() == ""
    assert not AuditLog.objects.filter(action="export").exists()


def test_from_the_shell_a_bad_filter_prints_to_stderr_and_exits_2():
    result = subprocess.run(
        [sys.executable, "manage.py", "export_contacts", "--filter", "{not json"],
        cwd=PROJECT,
        capture_output=True,
        env={**os.environ, "KIZUNA_DEBUG": "true"},
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"not valid JSON" in result.stderr
