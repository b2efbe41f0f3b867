"""Benchmark: our CSV import against the physical limit and against django-import-export.

    python -m bench.import_contacts --rows 100000 [--peer-rows 1000] [--peer-bulk-rows 10000]
        [--database kizuna_bench_import]

Generates a deterministic Japanese contacts CSV (ten custom fields, 10% duplicate emails, 1%
invalid rows), then measures in separate processes, each on a freshly migrated bench database
(never the developer's data; PostgreSQL when DATABASE_URL points at one, else a temporary SQLite
file):
1. ours: the import (upsert by email, validation on) - rows/s and peak RSS;
2. the limit: the same file by bare COPY into a plain table (PostgreSQL) or a bare executemany
   insert (SQLite);
3. the peer: django-import-export, default mode and tuned bulk mode (use_bulk, skip_diff,
   force_init_instance), on the first rows of the same file (rates are per second).
Prints a table; the last line is one JSON object with the figures.
"""

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import benchdb
from bench.benchdb import setup_django

CUSTOM_FIELDS = [
    # key, label, type, choices
    ("industry", "業種", "choice", ["製造", "小売", "IT", "金融", "医療", "建設"]),
    ("budget", "年間予算", "decimal", None),
    ("employees", "従業員数", "number", None),
    ("contract_end", "契約終了日", "date", None),
    ("last_contact", "最終接触日時", "datetime", None),
    ("newsletter", "ニュースレター", "boolean", None),
    ("interests", "興味のある製品", "multi_choice", ["冷蔵庫", "洗濯機", "テレビ", "エアコン"]),
    ("website", "ウェブサイト", "url", None),
    ("memo", "備考", "textarea", None),
    ("rank", "会員ランク", "choice", ["ゴールド", "シルバー", "ブロンズ"]),
]
FAMILY = [
    ("田中", "タナカ"),
    ("鈴木", "スズキ"),
    ("佐藤", "サトウ"),
    ("高橋", "タカハシ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
]
GIVEN = [
    ("太郎", "たろう"),
    ("花子", "はなこ"),
    ("健太", "けんた"),
    ("美咲", "みさき"),
    ("翔", "しょう"),
    ("陽菜", "ひな"),
    ("大輔", "だいすけ"),
    ("さくら", "さくら"),
]
PLACES = [
    ("150-0001", "東京都", "渋谷区"),
    ("530-0001", "大阪府", "大阪市北区"),
    ("460-0008", "愛知県", "名古屋市中区"),
    ("810-0001", "福岡県", "福岡市中央区"),
    ("060-0001", "北海道", "札幌市中央区"),
    ("980-0021", "宮城県", "仙台市青葉区"),
]
OWNERS = [("sales1@kizuna.test", "営業 一郎"), ("sales2@kizuna.test", "営業 花子")]
OWNERS += [("sales3@kizuna.test", "販売 次郎")]
HEADER = [
    "メールアドレス",
    "姓",
    "名",
    "セイ",
    "メイ",
    "電話番号",
    "郵便番号",
    "都道府県",
    "市区町村",
    "住所",
    "会社名",
    "担当者",
    "タグ",
] + [label for _, label, _, _ in CUSTOM_FIELDS]


def generate(path: Path, rows: int, seed: int = 20261123) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for number in range(rows):
            if number and rng.random() < 0.10:  # 10%: an email seen earlier
                email = f"user{rng.randrange(number)}@example.jp"
            else:
                email = f"user{number}@example.jp"
            family, family_kana = rng.choice(FAMILY)
            given, given_kana = rng.choice(GIVEN)
            postal, prefecture, city = rng.choice(PLACES)
            invalid = rng.random() < 0.01
            writer.writerow(
                [
                    "not-an-email" if invalid else email,
                    family,
                    given,
                    family_kana if rng.random() < 0.5 else family_kana.translate(_HALF),
                    given_kana,
                    f"０{rng.randrange(10, 99)}-{rng.randrange(1000, 10000)}-"
                    f"{rng.randrange(1000, 10000)}",
                    postal,
                    prefecture,
                    city,
                    f"{rng.randrange(1, 30)}-{rng.randrange(1, 20)}",
                    f"株式会社{rng.choice(FAMILY)[0]}{rng.choice(['商事', '製作所', '電機'])}",
                    rng.choice(rng.choice(OWNERS)),  # by email or by name
                    ";".join(
                        rng.sample(["VIP", "展示会2026", "資料請求", "休眠"], rng.randrange(0, 3))
                    ),
                    rng.choice(CUSTOM_FIELDS[0][3]),
                    f"{rng.randrange(0, 5000000)}.{rng.randrange(0, 99):02d}",
                    str(rng.randrange(1, 5000)),
                    f"2027/{rng.randrange(1, 13)}/{rng.randrange(1, 29)}",
                    f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} 10:30",
                    rng.choice(["はい", "いいえ"]),
                    ";".join(rng.sample(CUSTOM_FIELDS[6][3], rng.randrange(1, 3))),
                    f"https://example{number % 97}.jp/",
                    "展示会で名刺交換。\n後日電話予定。" if rng.random() < 0.2 else "",
                    rng.choice(CUSTOM_FIELDS[9][3]),
                ]
            )


_HALF = str.maketrans(
    dict(
        zip("タナカスズキサトウイワベヤマモムラコバシヨダ", "ﾀﾅｶｽｽﾞｷｻﾄｳｲﾜﾍﾞﾔﾏﾓﾑﾗｺﾊﾞｼﾖﾀﾞ", strict=False)
    )
)


# --- Each measurement runs in a child process on a fresh bench database -------------------------


def fresh_database(database_url: str) -> None:
    """Empty the bench database and migrate it, with the ten custom fields defined."""
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0)
    from kizuna.accounts.models import User  # noqa: PLC0415
    from kizuna.crm.models import FieldDefinition, FieldTarget  # noqa: PLC0415

    for email, name in OWNERS:
        User.objects.create_user(email, name=name, is_staff=True)

    for order, (key, label, kind, choices) in enumerate(CUSTOM_FIELDS):
        FieldDefinition.objects.create(
            target=FieldTarget.CONTACT,
            key=key,
            label_ja=label,
            type=kind,
            order=order,
            choices=[{"value": c, "ja": c} for c in choices or []],
        )


def measure_ours(path: Path) -> dict:
    from kizuna.crm.importing import automatic_mapping, import_contacts, open_csv  # noqa: PLC0415

    progress_gaps = []
    last = [time.perf_counter()]

    def progress(result):
        now = time.perf_counter()
        progress_gaps.append(now - last[0])
        last[0] = now

    started = time.perf_counter()
    with path.open("rb") as stream:
        _, header, rows = open_csv(stream)
        result = import_contacts(rows, automatic_mapping(header), progress=progress)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "rows": result.total_rows,
        "created": result.created,
        "rejected": result.rejected,
        "max_progress_gap_s": max(progress_gaps or [0]),
    }


def measure_floor() -> dict:
    """What merely writing the imported contacts costs: the rows of crm_contact copied by one
    INSERT … SELECT into a table like it (the same indexes, the search index included)."""
    from django.db import connection  # noqa: PLC0415

    from kizuna.crm import search  # noqa: PLC0415

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE TABLE bench_floor (LIKE crm_contact INCLUDING DEFAULTS INCLUDING INDEXES)"
            )
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'crm_contact' "
                "AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC"
            )
            statements = [row[0] for row in cursor.fetchall()] + search.SQLITE_INDEX_SQL[:2]
            for statement in statements:
                cursor.execute(statement.replace("crm_contact", "bench_floor"))
        started = time.perf_counter()
        cursor.execute("INSERT INTO bench_floor SELECT * FROM crm_contact")
        rows = cursor.rowcount
    connection.commit() if not connection.get_autocommit() else None
    return {"seconds": time.perf_counter() - started, "rows": rows}


def measure_limit(path: Path) -> dict:
    from django.db import connection  # noqa: PLC0415

    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE bench_plain ({columns})")
        if connection.vendor == "postgresql":
            with (
                path.open("rb") as source,
                cursor.cursor.copy(
                    "COPY bench_plain FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
        else:
            with path.open(encoding="utf-8", newline="") as source:
                reader = csv.reader(source)
                next(reader)
                placeholders = ", ".join(["%s"] * len(HEADER))
                sql = f"INSERT INTO bench_plain VALUES ({placeholders})"  # noqa: S608 - placeholders only
                cursor.executemany(sql, reader)
        cursor.execute("SELECT COUNT(*) FROM bench_plain")
        rows = cursor.fetchone()[0]
    connection.commit() if not connection.get_autocommit() else None
    return {"seconds": time.perf_counter() - started, "rows": rows}


def measure_peer(path: Path, rows: int, bulk: bool) -> dict:
    import tablib  # noqa: PLC0415
    from import_export import fields as ie_fields  # noqa: PLC0415
    from import_export import resources  # noqa: PLC0415

    from kizuna.crm.models import Contact  # noqa: PLC0415

    builtin = {
        "メールアドレス": "email",
        "姓": "family_name",
        "名": "given_name",
        "セイ": "family_name_kana",
        "メイ": "given_name_kana",
        "電話番号": "phone",
        "郵便番号": "postal_code",
        "都道府県": "prefecture",
        "市区町村": "city",
        "住所": "address",
    }

    class ContactResource(resources.ModelResource):
        email = ie_fields.Field(attribute="email", column_name="メールアドレス")

        class Meta:
            model = Contact
            import_id_fields = ["email"]
            fields = list(builtin.values())
            use_bulk = bulk
            skip_diff = bulk
            force_init_instance = bulk
            batch_size = 1000

        def before_import_row(self, row, **kwargs):
            row["custom"] = {key: row.get(label) for key, label, _, _ in CUSTOM_FIELDS}

        def before_save_instance(self, instance, row, **kwargs):
            # bulk_create skips Contact.save(), which keeps the search document up to date:
            # without this the peer's contacts could not be found by the quick search.
            if bulk:
                instance.refresh_search_document(company_name="")

        def import_instance(self, instance, row, **kwargs):
            super().import_instance(instance, row, **kwargs)
            instance.custom = row.get("custom", {})

    for column, attribute in builtin.items():
        if attribute != "email":
            ContactResource.fields[attribute].column_name = column
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        data = tablib.Dataset(headers=header)
        seen = set()
        for cells in reader:
            if len(data) >= rows:
                break
            # Bulk mode with force_init_instance inserts blindly: a repeated email would abort
            # its batch, so it gets the file without repeats (which only makes it faster).
            if bulk and cells[0].lower() in seen:
                continue
            seen.add(cells[0].lower())
            data.append(cells)
    started = time.perf_counter()
    result = ContactResource().import_data(data, dry_run=False, raise_errors=False)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": len(data), "errors": len(result.invalid_rows)}


def child(kind: str, path: str, database_url: str, rows: int) -> None:
    if database_url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(database_url.removeprefix("sqlite://") + suffix).unlink(missing_ok=True)
    setup_django(database_url)
    fresh_database(database_url)
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if kind == "ours":
        figures = measure_ours(Path(path))
        figures["floor"] = measure_floor()
    elif kind == "limit":
        figures = measure_limit(Path(path))
    else:
        figures = measure_peer(Path(path), rows, bulk=kind == "peer_bulk")
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["rss_before_mb"] = before_rss / 1024
    print(json.dumps(figures))


def run_child(kind: str, path: Path, database_url: str, rows: int = 0) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench.import_contacts",
        "--child",
        kind,
        "--file",
        str(path),
        "--database-url",
        database_url,
        "--rows",
        str(rows),
    ]
    # Our own interpreter running this module: no outside input in the command line.
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_database_url(name: str = "kizuna_bench_import") -> tuple[str, str]:
    """The bench database: `name` on PostgreSQL (emptied before each measurement), else a
    temporary SQLite file."""
    return benchdb.bench_database_url(name, Path(tempfile.mkdtemp(prefix="kizuna-bench-")))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--peer-rows", type=int, default=1000, help="rows for the peer's default mode"
    )
    parser.add_argument("--peer-bulk-rows", type=int, default=10_000, help="rows for its bulk mode")
    parser.add_argument(
        "--database",
        default="kizuna_bench_import",
        help="PostgreSQL only: the bench database on DATABASE_URL's server (emptied!)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        child(options.child, options.file, options.database_url, options.rows)
        return
    database_url, engine = bench_database_url(options.database)
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-csv-") as folder:
        path = Path(folder) / "contacts.csv"
        generate(path, options.rows)
        size_mb = path.stat().st_size / 1e6
        ours = run_child("ours", path, database_url)
        limit = run_child("limit", path, database_url)
        peer_rows = min(options.rows, options.peer_rows)
        peer_bulk_rows = min(options.rows, options.peer_bulk_rows)
        peer = run_child("peer", path, database_url, peer_rows)
        peer_bulk = run_child("peer_bulk", path, database_url, peer_bulk_rows)
    floor = ours["floor"]
    rate = {
        name: figures["rows"] / figures["seconds"]
        for name, figures in (
            ("ours", ours),
            ("limit", limit),
            ("floor", floor),
            ("peer", peer),
            ("peer_bulk", peer_bulk),
        )
    }
    print(
        f"Import of {options.rows:,} contacts ({size_mb:.1f} MB CSV, 10 custom fields) on {engine}"
    )
    print(f"{'':42}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'ours ÷ it':>11}")
    for label, name, figures in (
        ("ours (upsert by email, validated)", "ours", ours),
        ("limit (bare COPY / executemany)", "limit", limit),
        ("floor (same rows, crm_contact's indexes)", "floor", floor),
        ("django-import-export, default", "peer", peer),
        ("django-import-export, bulk mode", "peer_bulk", peer_bulk),
    ):
        ratio = rate["ours"] / rate[name]
        print(
            f"{label:42}{figures['rows']:>10,}{figures['seconds']:>10.2f}{rate[name]:>12,.0f}"
            f"{ratio:>11.2f}"
        )
    print(
        "floor: the imported contacts copied by one INSERT … SELECT into a table like "
        "crm_contact (its indexes and the search index), nothing checked or computed"
    )
    print(
        f"ours: {ours['created']:,} created, {ours['rejected']:,} rejected; peak RSS "
        f"{ours['peak_rss_mb']:.0f} MB; longest gap between progress reports "
        f"{ours['max_progress_gap_s']:.2f} s"
    )
    print(
        json.dumps(
            {
                "rows": options.rows,
                "ours_per_s": round(rate["ours"]),
                "limit_per_s": round(rate["limit"]),
                "ratio_limit": round(rate["ours"] / rate["limit"], 3),
                "peer_per_s": round(rate["peer"]),
                "ratio_peer": round(rate["ours"] / rate["peer"], 1),
                "peer_bulk_per_s": round(rate["peer_bulk"]),
                "ratio_peer_bulk": round(rate["ours"] / rate["peer_bulk"], 1),
                "peak_rss_mb": round(ours["peak_rss_mb"]),
            }
        )
    )


if __name__ == "__main__":
    main()
