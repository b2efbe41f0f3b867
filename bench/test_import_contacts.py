"""The import benchmark runs once at a tiny size in the suite, so it never rots."""

import json
import os

from bench import benchdb, import_contacts


def test_the_import_benchmark_prints_its_figures_as_json(capsys):
    # A database of this run's own on PostgreSQL: another run at the same time never empties it.
    database = f"kizuna_bench_import_{os.getpid()}"
    try:
        import_contacts.main(
            ["--rows", "300", "--peer-rows", "30", "--peer-bulk-rows", "100"]
            + ["--database", database]
        )
    finally:
        benchdb.drop_bench_database(database)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["rows"] == 300
    for key in ("ours_per_s", "limit_per_s", "peer_per_s", "peer_bulk_per_s", "peak_rss_mb"):
        assert figures[key] > 0
    assert figures["ratio_limit"] == round(figures["ours_per_s"] / figures["limit_per_s"], 3) or (
        abs(figures["ratio_limit"] - figures["ours_per_s"] / figures["limit_per_s"]) < 0.01
    )
    assert any(line.startswith("ours (upsert by email") for line in lines)
