import os
import subprocess
import sys

from kizuna.settings import mailer_from_url

PRINT_SECRET = "from django.conf import settings; print(settings.SECRET_KEY)"


def run_settings(tmp_path, code=PRINT_SECRET, **env):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "ALLOWED_HOSTS", "KIZUNA_DEBUG"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="kizuna.settings", KIZUNA_VAR_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_a_secret_key_stops_with_a_clear_message(tmp_path):
    result = run_settings(tmp_path, ALLOWED_HOSTS="crm.example.jp")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_without_allowed_hosts_stops_with_a_clear_message(tmp_path):
    result = run_settings(tmp_path, SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_development_generates_a_secret_key_once_into_var(tmp_path):
    first = run_settings(tmp_path, KIZUNA_DEBUG="true")
    second = run_settings(tmp_path, KIZUNA_DEBUG="true")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.strip()) >= 50
    assert first.stdout == second.stdout
    assert (tmp_path / "secret_key").read_text().strip() == first.stdout.strip()


def test_a_postgres_database_url_selects_postgresql(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = run_settings(
        tmp_path, code, KIZUNA_DEBUG="true", DATABASE_URL="postgres://kizuna@db.internal/kizuna"
    )
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_the_time_zone_is_tokyo_by_default(settings):
    assert settings.TIME_ZONE == "Asia/Tokyo"
    assert settings.LANGUAGE_CODE == "ja"


def test_a_bad_boolean_is_refused_by_name(tmp_path):
    result = run_settings(tmp_path, KIZUNA_DEBUG="maybe")
    assert "KIZUNA_DEBUG must be true or false" in result.stderr


def test_the_default_sqlite_database_file_is_in_wal_mode(tmp_path):
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    )
    result = run_settings(
        tmp_path, code, KIZUNA_DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path}/k.sqlite3"
    )
    assert result.stdout.strip() == "wal", result.stderr


def test_email_urls_become_smtp_mailers():
    mailer = mailer_from_url("smtp://user%40example.jp:p%40ss@smtp.example.jp:587?tls=true")
    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert mailer["OPTIONS"] | {"timeout": None} == {
        "host": "smtp.example.jp",
        "port": 587,
        "username": "user@example.jp",
        "password": "p@ss",
        "use_tls": True,
        "use_ssl": False,
        "timeout": None,
    }
    assert mailer_from_url("smtps://smtp.example.jp")["OPTIONS"]["port"] == 465
