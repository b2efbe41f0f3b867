"""The segments benchmark runs once at a tiny size in the suite, so it never rots."""

import json
import os

from bench import benchdb, segments

KEYS = {
    "contacts", "events", "filters", "median_ratio", "worst_ratio", "speedup_vs_peer",
    "matches_one_ms", "refresh_all_s", "speedup_vs_peer_estimated",
}  # fmt: skip
TINY = [
    "--contacts", "300", "--events", "3000", "--repeat", "1", "--matches", "5",
    "--peer-seconds", "5", "--timeout", "20",
]  # fmt: skip


def test_the_segments_benchmark_matches_the_hand_written_sql_for_every_filter(capsys):
    # A database of this run's own on PostgreSQL: another run at the same time never empties it.
    database = f"kizuna_bench_segments_{os.getpid()}"
    try:
        segments.main([*TINY, "--database", database])
    finally:
        benchdb.drop_bench_database(database)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) == KEYS
    assert (figures["contacts"], figures["events"]) == (300, 3000)
    assert [f["name"] for f in figures["filters"]] == [name for name, _, _ in segments.SUITE]
    for entry in figures["filters"]:
        assert entry["identical"] is True, entry["name"]
        assert not entry["timed_out"], entry["name"]
        assert entry["ours_ms"] > 0 and entry["sql_ms"] > 0, entry["name"]
        # The printed milliseconds are rounded: at this size they have 2-3 significant digits.
        rounding = 0.005 / entry["sql_ms"] * (1 + entry["ratio"])
        assert abs(entry["ratio"] - entry["ours_ms"] / entry["sql_ms"]) <= rounding + 0.01
    assert sum(entry["count"] for entry in figures["filters"]) > 0
    assert figures["worst_ratio"] >= figures["median_ratio"] > 0
    assert figures["speedup_vs_peer_estimated"] >= figures["speedup_vs_peer"] > 0
    assert figures["matches_one_ms"] > 0 and figures["refresh_all_s"] > 0
    assert not any(line.startswith("MISMATCH") for line in lines)
    assert any(line.startswith("loyal_customers") for line in lines)
