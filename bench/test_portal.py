"""The portal benchmark runs once at a tiny size in the suite, so it never rots."""

import json
import math
import os

from bench import benchdb, portal

KEYS = ("mypage_per_s", "limit_per_s", "ratio", "p99_ms", "queries")
TINY = [
    "--seconds", "1", "--round-seconds", "0.5", "--warmup", "0.2", "--connections", "4",
    "--workers", "1", "--threads", "2",
    "--events", "300", "--records", "20", "--consents", "5", "--members", "20",
    "--other-events", "1000",
]  # fmt: skip


def test_the_portal_benchmark_prints_my_page_against_the_limit_as_json(capsys):
    # A database of this run's own on PostgreSQL: another run at the same time never empties it.
    database = f"kizuna_bench_portal_{os.getpid()}"
    try:
        portal.main([*TINY, "--database", database])
    finally:
        benchdb.drop_bench_database(database)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in KEYS:
        assert figures[key] > 0, key
    assert math.isclose(
        figures["ratio"], figures["mypage_per_s"] / figures["limit_per_s"], abs_tol=0.002
    )
    # A fixed number of queries whatever the member has; the limit touches no database.
    assert figures["queries"] == figures["queries_little"]
    assert figures["limit_queries"] == 0
    assert figures["member_events"] == 300 and figures["page_bytes"] > 1000
    assert any(line.startswith("My Page (GET /mypage/") for line in lines)
    assert not any(line.startswith(("WARNING", "N+1")) for line in lines)
