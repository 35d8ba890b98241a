"""The read model's own gauges, refreshed from its database: how fresh it is and how much it holds. How far behind
the topics it is in messages is the runtime's `komerbij_consumer_lag_messages` for the dashboard's group."""

from __future__ import annotations

from prometheus_client import Gauge

from komerbij.dashboard.adapters import model
from komerbij.runtime.service import Runtime

NEWEST = "komerbij_read_model_newest_event_timestamp_seconds"
ROWS = "komerbij_read_model_rows"


def _gauges(rt: Runtime) -> tuple[Gauge, Gauge]:
    newest = rt.metrics.gauge(
        NEWEST, "Producer's time (Unix seconds) of the newest event the read model applied, per topic; "
        "time() minus it is the model's age while events flow", ["topic"])
    rows = rt.metrics.gauge(ROWS, "Rows of the read model, per table (activities, signups, orders, mentions)",
                            ["table"])
    return newest, rows


async def register(rt: Runtime) -> None:
    """Exported from the start, before the first refresh (rows at 0)."""
    _, rows = _gauges(rt)
    for table in model.TABLES.values():
        rows.labels(table).set(0)


async def refresh(rt: Runtime) -> None:
    newest, rows = _gauges(rt)
    async with rt.pool.acquire() as conn:
        progress = await model.progress(conn)
        counts = await model.row_counts(conn)
    for topic, when in progress.items():
        newest.labels(topic).set(when.timestamp())
    for table, n in counts.items():
        rows.labels(table).set(n)
