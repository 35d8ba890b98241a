"""Percentiles, summaries and the printed table: pure functions, so they are cheap to test."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), so p99 of 20,000 samples is not one sample.

    `values` need not be sorted; an empty sequence gives NaN (a scenario that produced nothing must not look fast).
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Iterable[float]) -> dict[str, float | int]:
    """Milliseconds, because every target in issue 9 is stated in milliseconds."""
    values = [s * 1000 for s in seconds]
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2) if values else math.nan,
        "mean_ms": round(sum(values) / len(values), 2) if values else math.nan,
    }


def check(name: str, value: float, op: str, limit: float) -> dict[str, Any]:
    """One target: NaN (nothing measured) never counts as met."""
    ops = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "==": lambda a, b: a == b}
    met = not (isinstance(value, float) and math.isnan(value)) and ops[op](value, limit)
    return {"target": f"{name} {op} {limit:g}", "value": value, "met": bool(met)}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 1 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain fixed-width table for the terminal, also pasted as-is into BENCHMARKS.md's code blocks."""
    cells = [header, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def result_rows(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """One row per target of each scenario: scenario, measured, target, met/missed."""
    rows: list[list[Any]] = []
    for name, result in results.items():
        if "error" in result:
            rows.append([name, "error", result["error"][:60], "MISSED"])
            continue
        for t in result.get("targets", []):
            rows.append([name, t["value"], t["target"], "met" if t["met"] else "MISSED"])
    return rows
