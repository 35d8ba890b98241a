"""The metric names ops can rely on: what alerts and dashboards may use, and where each name comes from.

Names are metric families as Prometheus stores them (counters with `_total`; histograms without `_bucket`/`_sum`/
`_count`). `RUNTIME` and `FASTSTREAM` are exported by every service today, and a test proves it; `BUSINESS` are the
services' own gauges and counters; a test proves each service exports its own.
"""

from __future__ import annotations

import re

from komerbij.devtools.processes import repo_root

PROMETHEUS_DIR = repo_root() / "deploy" / "prometheus"
GRAFANA_DIR = repo_root() / "deploy" / "grafana"

RUNTIME = {
    "komerbij_http_requests_total": "counter",
    "komerbij_http_request_duration_seconds": "histogram",
    "komerbij_outbox_backlog_events": "gauge",
    "komerbij_outbox_oldest_event_age_seconds": "gauge",
    "komerbij_outbox_parked_events": "gauge",  # rows Kafka refused for good, waiting for `komerbij outbox`
    "komerbij_outbox_published_total": "counter",
    "komerbij_outbox_publish_errors_total": "counter",
    "komerbij_consumer_lag_messages": "gauge",
    "komerbij_dead_letters_total": "counter",
    "komerbij_consumer_retries_total": "counter",
    "komerbij_inbox_duplicates_total": "counter",
    "komerbij_consumer_ignored_total": "counter",
    "komerbij_consumer_batches_total": "counter",
    "komerbij_consumer_batches_handed_back_total": "counter",
    "komerbij_consumer_infrastructure_errors_total": "counter",  # {error_class}: batches held back, no attempt
    "komerbij_consumer_waiting_for_database": "gauge",  # 1 while the consumer waits for PostgreSQL to answer
    "komerbij_consumer_database_wait_seconds_total": "counter",
    "komerbij_db_pool_connections": "gauge",
    "komerbij_job_runs_total": "counter",
    "komerbij_service_info": "gauge",
    "komerbij_service_ready": "gauge",  # 1 when /readyz would answer 200, refreshed between probes
}

# FastStream's KafkaPrometheusMiddleware with metrics_prefix="komerbij" (faststream/prometheus/container.py).
FASTSTREAM = {
    "komerbij_received_messages_total": "counter",
    "komerbij_received_messages_size_bytes": "histogram",
    "komerbij_received_messages_in_process": "gauge",
    "komerbij_received_processed_messages_total": "counter",
    "komerbij_received_processed_messages_duration_seconds": "histogram",
    "komerbij_received_processed_messages_exceptions_total": "counter",
    "komerbij_published_messages_total": "counter",
    "komerbij_published_messages_duration_seconds": "histogram",
    "komerbij_published_messages_exceptions_total": "counter",
}

# Each service's own metrics, by the service that exports them.
BUSINESS_BY_SERVICE = {
    "registration": {
        "komerbij_activities": "gauge",  # {status}
        "komerbij_signups": "gauge",  # {status}
    },
    "materials": {
        "komerbij_orders": "gauge",  # {status}
        "komerbij_stock_on_hand_items": "gauge",  # {sku}: free stock, reserved items already taken out
        "komerbij_stock_reserved_items": "gauge",  # {sku}
        "komerbij_stock_shipped_items": "gauge",  # {sku}
        "komerbij_stock_low_threshold_items": "gauge",  # {sku}: the SKU's low-stock threshold
    },
    "media": {
        "komerbij_mentions": "gauge",  # {medium, scope}
        "komerbij_feed_polls_total": "counter",  # {outcome}
        "komerbij_feed_items_irrelevant_total": "counter",
        "komerbij_feeds_failing": "gauge",  # feeds whose last poll failed
    },
    "notifications": {
        "komerbij_deliveries_total": "counter",  # {channel, status}: one per attempt outcome
        "komerbij_deliveries_current": "gauge",  # {channel, status}: deliveries now in each status
    },
    "dashboard": {
        "komerbij_read_model_newest_event_timestamp_seconds": "gauge",  # {topic}: producer's time of the newest
        "komerbij_read_model_rows": "gauge",  # {table}
    },
}
BUSINESS = {name: kind for names in BUSINESS_BY_SERVICE.values() for name, kind in names.items()}

PROMETHEUS = {"up": "gauge"}  # set by Prometheus itself for every scrape target

ALL = {**RUNTIME, **FASTSTREAM, **BUSINESS, **PROMETHEUS}

_NAME = re.compile(r"(?<![\w:])(komerbij_[a-z0-9_]+|up)(?![\w(])")
_NAME_MATCHER = re.compile(r'__name__\s*=~?\s*"([^"]*)"')  # {__name__=~"a_total|b_total"}
_HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def metric_names(promql: str) -> set[str]:
    """Metric families a PromQL expression reads (our names all start with komerbij_, plus Prometheus' `up`).

    Label values are dropped first, so a quoted string such as route="/up" is not read as a metric; a
    `__name__` matcher's alternatives count as names.
    """
    by_regex = [n for m in _NAME_MATCHER.findall(promql) for n in m.split("|")]
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)
    names = set()
    for name in [*_NAME.findall(without_strings), *by_regex]:
        for part in _HISTOGRAM_PARTS:
            if name.endswith(part) and name.removesuffix(part) in ALL:
                name = name.removesuffix(part)
        names.add(name)
    return names
