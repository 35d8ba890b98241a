"""Prometheus metrics every service exports at `/metrics`, on a registry of its own.

Names follow Prometheus conventions (`komerbij_` prefix, base units, `_total` counters, `_seconds` histograms).
Labels hold only bounded values: route templates, status codes, topics, error classes, never ids or addresses.
Business gauges are refreshed from the database by the service's own refresh functions (see `service.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _PoolCollector(Collector):
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "komerbij_db_pool_connections", "Database pool connections by state", labels=["state"]
        )
        if self.pool is not None:
            size = self.pool.get_size()
            family.add_metric(["open"], size)
            family.add_metric(["in_use"], size - self.pool.get_idle_size())
            family.add_metric(["max"], self.pool.get_max_size())
        yield family


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "komerbij_http_requests_total", "HTTP requests handled", ["method", "route", "status"], registry=r
        )
        self.http_duration = Histogram(
            "komerbij_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.outbox_backlog = Gauge(
            "komerbij_outbox_backlog_events", "Outbox rows not yet published (parked ones apart)", registry=r
        )
        self.outbox_parked = Gauge(
            "komerbij_outbox_parked_events",
            "Outbox rows Kafka refused for a reason no retry fixes, parked until an operator retries or drops them",
            registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "komerbij_outbox_oldest_event_age_seconds", "Age of the oldest unpublished outbox row", registry=r
        )
        self.outbox_published = Counter(
            "komerbij_outbox_published_total", "Events published by the outbox relay", registry=r
        )
        self.outbox_publish_errors = Counter(
            "komerbij_outbox_publish_errors_total",
            "Outbox relay rounds that failed (Kafka or database away) or in which Kafka refused rows",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "komerbij_consumer_lag_messages", "High watermark minus committed offset",
            ["group", "topic", "partition"], registry=r,
        )
        self.dead_letters = Counter(
            "komerbij_dead_letters_total", "Messages sent to a dead-letter topic", ["topic", "error_class"],
            registry=r,
        )
        self.retries = Counter("komerbij_consumer_retries_total", "Handler retries after an error", ["topic"],
                               registry=r)
        self.duplicates = Counter(
            "komerbij_inbox_duplicates_total", "Redelivered events skipped by the inbox", ["topic"], registry=r
        )
        self.consumer_batches = Counter(
            "komerbij_consumer_batches_total", "Fetched batches processed (events per batch = received / batches)",
            registry=r,
        )
        self.consumer_batches_handed_back = Counter(
            "komerbij_consumer_batches_handed_back_total",
            "Batches whose time budget ran out: the done part committed, the rest sought back", registry=r,
        )
        self.consumer_infrastructure_errors = Counter(
            "komerbij_consumer_infrastructure_errors_total",
            "Batches held back because PostgreSQL (or Kafka, for a dead letter) failed; no event attempt is counted",
            ["error_class"], registry=r,
        )
        self.consumer_waiting_for_database = Gauge(
            "komerbij_consumer_waiting_for_database",
            "1 while the consumer holds its batches back until PostgreSQL answers again", registry=r,
        )
        self.consumer_database_wait = Counter(
            "komerbij_consumer_database_wait_seconds_total",
            "Time the consumer spent waiting for PostgreSQL to answer again", registry=r,
        )
        self.ignored = Counter(
            "komerbij_consumer_ignored_total", "Events of types this service does not handle", ["topic"],
            registry=r,
        )
        self.job_runs = Counter("komerbij_job_runs_total", "Scheduled job runs", ["job", "outcome"], registry=r)
        self.up_info = Gauge("komerbij_service_info", "Always 1; the service label names the service",
                             ["service"], registry=r)
        self.up_info.labels(service).set(1)
        self.ready = Gauge("komerbij_service_ready", "1 when Kafka and PostgreSQL answer and migrations are applied",
                           registry=r)
        self._custom: dict[str, Gauge | Counter] = {}
        self._pool_collector = _PoolCollector()
        r.register(self._pool_collector)

    def watch_pool(self, pool: asyncpg.Pool) -> None:
        self._pool_collector.pool = pool

    def gauge(self, name: str, documentation: str, labels: list[str]) -> Gauge:
        """A business gauge of this service (refreshed from its database); asking twice gives the same one."""
        if name not in self._custom:
            self._custom[name] = Gauge(name, documentation, labels, registry=self.registry)
        return self._custom[name]  # type: ignore[return-value]

    def counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        if name not in self._custom:
            self._custom[name] = Counter(name, documentation, labels, registry=self.registry)
        return self._custom[name]  # type: ignore[return-value]
