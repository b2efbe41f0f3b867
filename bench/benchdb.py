"""The database a benchmark runs on: never the developer's data.

On PostgreSQL (DATABASE_URL points at one) a database named for the bench on the same server,
created when missing; else a SQLite file in a folder the benchmark owns.
"""

import os
import re
from pathlib import Path


def bench_database_url(name: str, folder: Path) -> tuple[str, str]:
    """(database URL, "PostgreSQL" or "SQLite") for `name` (a plain name with "bench" in it)."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://")):
        base, _, configured_name = configured.rpartition("/")
        # It is emptied: never the configured database, always one named for the bench.
        if not re.fullmatch(r"[a-z_][a-z0-9_]*bench[a-z0-9_]*", name) or name == configured_name:
            raise SystemExit(f"--database {name}: use a plain name with 'bench' in it")
        import psycopg  # noqa: PLC0415 - only benchmarks on PostgreSQL need it

        with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                connection.execute(f"CREATE DATABASE {name}")  # a checked plain name
        return f"{base}/{name}", "PostgreSQL"
    return f"sqlite:///{folder / 'bench.sqlite3'}", "SQLite"


def drop_bench_database(name: str) -> None:
    """Drop a PostgreSQL bench database (a test's own, after its run)."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")) or "bench" not in name:
        return
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return
    import psycopg  # noqa: PLC0415 - only benchmarks on PostgreSQL need it

    base = configured.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # a checked name


def setup_django(database_url: str) -> None:
    """Django on the bench database, as in production: DEBUG off (no query log)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["KIZUNA_DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kizuna.settings")
    import django  # noqa: PLC0415 - settings must see the bench DATABASE_URL first

    django.setup()
