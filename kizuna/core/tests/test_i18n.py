import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.utils import translation

import kizuna
from conftest import service_missing

PACKAGE = Path(kizuna.__file__).parent
JA_CATALOG = PACKAGE / "locale" / "ja" / "LC_MESSAGES" / "django.po"


def untranslated(po_path: Path) -> list[str]:
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file)
    return [
        str(message.id)
        for message in catalog
        if message.id
        and (
            message.fuzzy
            or not all(message.string if isinstance(message.string, tuple) else [message.string])
        )
    ]


def test_the_site_speaks_japanese_by_default(client, db):
    response = client.get("/")
    assert response["Content-Language"] == "ja"
    assert "ログイン" in response.text
    assert '<html lang="ja">' in response.text


def test_an_english_browser_gets_english(client, db):
    response = client.get("/", headers={"accept-language": "en-US,en;q=0.9"})
    assert response["Content-Language"] == "en"
    assert "Log in" in response.text


def test_the_language_switch_remembers_the_choice(client, db):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Log in" in client.get("/").text
    client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    assert "ログイン" in client.get("/").text


def test_the_japanese_catalog_is_compiled_and_loaded():
    with translation.override("ja"):
        assert translation.gettext("Log in") == "ログイン"


def test_the_japanese_catalog_has_no_untranslated_or_fuzzy_entries():
    assert untranslated(JA_CATALOG) == []


def test_every_string_in_the_code_is_in_the_japanese_catalog(tmp_path):
    """makemessages over a copy of the package: nothing new may appear untranslated."""
    if not shutil.which("xgettext"):
        service_missing("GNU gettext (xgettext) is not installed")
    copy = tmp_path / "kizuna"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("static", "__pycache__", "*.mo"))
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--locale", "ja", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "", "PATH": "/usr/bin:/bin"},
    )
    assert untranslated(copy / "locale" / "ja" / "LC_MESSAGES" / "django.po") == []


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/password/reset/"])
def test_member_facing_pages_render_in_english_too(client, db, path):
    response = client.get(path, headers={"accept-language": "en"})
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
