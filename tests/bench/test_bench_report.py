"""The benchmark's arithmetic (percentiles, target checks, profile reading): cheap, no infrastructure, no timing."""

from __future__ import annotations

import math
from pathlib import Path

from bench.profile import summarise
from bench.stats import check, latency_summary, percentile, result_rows, table


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, shuffled order must not matter
    assert percentile(list(reversed(values)), 50) == 50.5
    assert percentile(values, 99) == 99.01
    assert percentile(values, 0) == 1 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0


def test_no_samples_is_not_fast() -> None:
    assert math.isnan(percentile([], 50))
    assert latency_summary([])["count"] == 0
    assert check("p99 ms", math.nan, "<", 100)["met"] is False


def test_latency_summary_is_in_milliseconds() -> None:
    summary = latency_summary([0.010, 0.020, 0.030])
    assert summary["p50_ms"] == 20.0 and summary["max_ms"] == 30.0 and summary["count"] == 3


def test_targets_become_rows_with_met_or_missed() -> None:
    results = {"a": {"targets": [check("ratio", 0.7, ">=", 0.5), check("p99 ms", 120.0, "<", 100)]},
               "b": {"error": "RuntimeError: broke"}}
    rows = result_rows(results)
    assert [r[-1] for r in rows] == ["met", "MISSED", "MISSED"]
    printed = table(rows, ["scenario", "measured", "target", "result"])
    assert "ratio >= 0.5" in printed and "p99 ms < 100" in printed


def test_profile_summary_counts_self_and_inclusive_time(tmp_path: Path) -> None:
    folded = tmp_path / "p.folded"
    folded.write_text(
        "main (/x/site-packages/uvicorn/main.py:1);handle (/w/src/komerbij/runtime/consumer.py:9);"
        "execute (/x/site-packages/asyncpg/connection.py:3) 3\n"
        "main (/x/site-packages/uvicorn/main.py:1);select (/usr/lib/python3.11/selectors.py:4) 1\n"
    )
    summary = summarise(folded)
    assert summary["samples"] == 4
    assert dict(map(tuple, summary["by_library_self_pct"])) == {"asyncpg": 75.0, "asyncio event loop": 25.0}
    inclusive = dict(map(tuple, summary["top_inclusive_pct"]))
    assert inclusive["main (uvicorn/main.py)"] == 100.0
    assert inclusive["handle (komerbij/runtime/consumer.py)"] == 75.0


def test_a_run_record_becomes_a_markdown_section() -> None:
    from bench.report import section

    contention = {"orders": 10, "stock": 5, "orders_per_s": 50.0, "order_statuses": {"confirmed": 5},
                  "latency": latency_summary([0.1, 0.2]), "oversell": 0, "server_cpu_ms_per_order": 1.0,
                  "postgres_cpu_ms_per_order": 0.5, "targets": [check("oversell", 0, "==", 0)]}
    record = {
        "started_at": "2026-11-22T18:00:00+00:00", "finished_at": "2026-11-22T18:01:00+00:00", "total_seconds": 60,
        "argv": ["--only", "contention"], "note": "", "revision": {"commit": "abc", "dirty_paths": []},
        "machine": {"cores": 2, "cpu_model": "AMD EPYC", "memory_gb": 23.5, "kernel": "6"},
        "versions": {"python": "3.11.7", "kafka": "4.4.0", "postgresql": "15.18", "httpx": "0.28.1"},
        "options": {"signups": 1, "activities": 1, "clients": 1, "rate": 1, "e2e_seconds": 1, "events": 1,
                    "drain_seconds": 1, "orders": 10, "stock": 5},
        "other_load_before": {"loadavg": [0.1, 0.1, 0.1], "busy_processes": []},
        "scenarios": {"contention": contention},
    }
    text = section(record)
    assert text.startswith("### Run 2026-11-22T18:00:00+00:00")
    assert "oversell == 0" in text and "met" in text and "Kafka 4.4.0" in text
