"""manage.py import_contacts: a summary, each rejected row as `line N: reason`, exit 0 / 1 / 2."""

import pytest
from django.core.management import call_command
from django.utils import translation

from kizuna.core.models import AuditLog
from kizuna.crm.models import Contact
from kizuna.crm.tests.factories import ContactFactory


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str, encoding="utf-8", name="contacts.csv"):
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    return write


def import_contacts(*arguments) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the command, run in English."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    with translation.override("en"):
        try:
            call_command("import_contacts", *arguments, stdout=out, stderr=err)
        except SystemExit as exit:
            return exit.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_every_row_imported_exits_0_with_a_summary(db, csv_file):
    status, out, _err = import_contacts(csv_file("メールアドレス,姓\na@example.jp,山田\n", "cp932"))
    assert status == 0
    assert out.splitlines() == ["1 rows read (cp932): 1 were created, 0 were updated, 0 rejected."]
    assert Contact.objects.get().family_name == "山田"
    assert AuditLog.objects.get(action="import").changes["file"] == "contacts.csv"


def test_some_rows_rejected_exits_1_and_prints_each_with_its_line(db, csv_file):
    path = csv_file(
        "email,姓\na@example.jp,一\nnot-an-email,二\nA@EXAMPLE.JP,三\n\nb@example.jp,四\n"
    )
    status, out, _err = import_contacts(path)
    assert status == 1
    assert out.splitlines() == [
        "line 3: Email: Enter a valid email address.",
        "line 4: A@example.jp appears twice in the file (first on line 2).",
        "4 rows read (utf-8): 2 were created, 0 were updated, 2 rejected.",
    ]
    assert sorted(Contact.objects.values_list("family_name", flat=True)) == ["一", "四"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file"),
        (b"", "The file is empty."),
        (b"\xff\xfe\x80\x81\xfd", "not UTF-8 or Shift_JIS"),
        (b"PK\x03\x04\x14\x00\x06\x00", "not CSV text"),
        (b"name,memo\nx,y\n", "No column is mapped to Email"),
    ],
)
def test_nothing_readable_exits_2_and_writes_nothing(db, tmp_path, content, message):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    status, out, err = import_contacts(str(path))
    assert (status, out) == (2, "")
    assert message in err
    assert not Contact.objects.exists()


def test_modes_keys_and_dry_run(db, csv_file):
    ContactFactory(email="old@example.jp", external_id="C-1", family_name="旧")
    path = csv_file("email,external_id,姓\nold@example.jp,C-1,新\nnew@example.jp,C-2,別\n")
    assert import_contacts(path, "--dry-run")[1].splitlines() == [
        "2 rows read (utf-8): 1 would be created, 1 would be updated, 0 rejected."
    ]
    assert Contact.objects.get().family_name == "旧"
    status, out, _err = import_contacts(path, "--mode", "update", "--key", "external_id")
    assert status == 1
    assert out.splitlines()[0] == "line 3: No contact matches it (mode: update only)."
    assert Contact.objects.get().family_name == "新"
    status, out, _err = import_contacts(path, "--mode", "create")
    assert status == 1
    assert out.splitlines()[0] == "line 2: A contact with it already exists (mode: create only)."
    assert Contact.objects.count() == 2


def test_columns_nothing_maps_to_are_named(db, csv_file):
    _status, out, _err = import_contacts(csv_file("email,好きな色\na@example.jp,青\n"))
    assert out.splitlines()[-1] == "Columns not imported (no matching field): 好きな色"
