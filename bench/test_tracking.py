"""The tracking benchmark runs once at a tiny size in the suite, so it never rots."""

import json
import math
import os
import re

from bench import benchdb, tracking

KEYS = (
    "collect_per_s",
    "limit_per_s",
    "ratio_limit",
    "peer_per_s",
    "ratio_peer",
    "p99_ms",
    "visible_p95_ms",
    "identify_p99_ms",
)
TINY = [
    "--seconds", "2", "--round-seconds", "1", "--warmup", "0.3", "--connections", "4",
    "--workers", "1", "--threads", "2",
    "--identify-events", "10,100", "--identify-repeats", "20",
    "--events", "3000", "--contact-events", "300",
]  # fmt: skip


def test_the_tracking_benchmark_prints_its_figures_as_json(capsys):
    # A database of this run's own on PostgreSQL: another run at the same time never empties it.
    database = f"kizuna_bench_tracking_{os.getpid()}"
    try:
        tracking.main([*TINY, "--database", database])
    finally:
        benchdb.drop_bench_database(database)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in KEYS:
        assert figures[key] > 0, key
    assert all(value > 0 for value in figures.values())
    assert math.isclose(
        figures["ratio_limit"], figures["collect_per_s"] / figures["limit_per_s"], abs_tol=0.002
    )
    assert math.isclose(
        figures["ratio_peer"], figures["collect_per_s"] / figures["peer_per_s"], abs_tol=0.06
    )
    # Every event the collector accepted reached tracking_event.
    counts = re.search(r"ours: ([\d,]+) events accepted \(.*?\), ([\d,]+) stored", "\n".join(lines))
    accepted, stored = counts.groups()
    assert accepted == stored
    assert any(line.startswith("ours (kizuna.wsgi") for line in lines)
