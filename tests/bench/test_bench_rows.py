"""The printed rows of issue 19's scenarios (contention with its baseline, the open loop, idle RSS): every number the
targets are judged on reaches the table, and records made before the contention baseline existed still print."""

from __future__ import annotations

from bench.__main__ import details
from bench.stats import latency_summary


def _open(rate: float) -> dict[str, object]:
    return {"achieved_rate_per_s": rate, "latency": latency_summary([0.002, 0.004, 0.09]), "ok": 3, "requests": 3,
            "statuses": {"201": 3}, "server_cpu_ms_per_request": 2.0, "postgres_cpu_ms_per_request": 1.2,
            "client_cpu_ms_per_request": 0.3, "send_lateness": latency_summary([0.001])}


def test_contention_prints_service_and_baseline_with_the_ratio() -> None:
    base = {"orders_per_s": 1000.0, "latency": latency_summary([0.5, 0.6]), "order_statuses": {"confirmed": 100},
            "sold": 100, "server_cpu_ms_per_order": 0.5, "postgres_cpu_ms_per_order": 0.1}
    service = {**base, "oversell": 0, "orders_per_s": 300.0, "baseline": base, "ratio": 0.3}
    rows = details({"contention": service})
    assert [r[0] for r in rows] == ["contention/service", "contention/baseline"]
    assert rows[0][1] == "300/s" and rows[1][1] == "1000/s" and "ratio 0.3" in rows[1][-1] and "sold 100" in rows[1][-1]
    old = {k: v for k, v in service.items() if k not in ("baseline", "ratio")}
    assert [r[0] for r in details({"contention": old})] == ["contention/service"]


def test_open_loop_and_idle_rows() -> None:
    rows = details({
        "signup_open_loop": {"rate_per_s": 300, "service": _open(299.0), "baseline": _open(300.0)},
        "idle": {"idle_seconds": 10, "services": {"registration": {"rss_mb": 97.3, "peak_rss_mb": 98.0}}},
    })
    assert [r[0] for r in rows] == ["signup_open_loop/service", "signup_open_loop/baseline", "idle/registration"]
    assert rows[0][4] == latency_summary([0.002, 0.004, 0.09])["p99_ms"] and "at 300/s" in rows[0][-1]
    assert "RSS 97.3 MB" in rows[2][-1]
