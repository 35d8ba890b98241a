"""A real Prometheus scrapes the services running as processes: targets up, counters moving, dead letters seen.

It also loads alerts.yml (every rule evaluates without error, the dead-letter alert fires on the real labels) and
runs every dashboard query, so a PromQL typo in the Grafana JSON shows here.

The poison message goes to a service that consumes events (notifications, once it has handlers); while no service
has handlers yet, the runtime's probe service (tests/probe, consumes StockAdjusted) stands in for one.
"""

from __future__ import annotations

import importlib
import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from support.infra import Infra, run_sync
from support.kafka import start_group_at_end
from support.services import ServiceProcess, eventually, settings_env

from komerbij.contracts import CloudEventAttributes, Event, event_class, to_kafka_headers
from komerbij.contracts.events import EVENT_TYPES
from komerbij.contracts.events.materials import StockAdjusted
from komerbij.devtools.processes import free_port, repo_root
from komerbij.devtools.prometheus import PrometheusServer, scrape_config, write_config
from monitoring.catalog import ALL, GRAFANA_DIR, PROMETHEUS_DIR, metric_names

SERVICES = ["registration", "materials", "media", "notifications"]
HEALTH_CHECKS = 3


def consumer_under_test() -> tuple[str, type[Event]] | None:
    """The first service that handles an event type, and that type (notifications is listed last on purpose)."""
    for service in reversed(SERVICES):
        events = importlib.import_module(f"komerbij.{service}.app").SPEC.events
        for type_name in events.event_types if events is not None else []:
            cls = event_class(type_name)
            if cls is not None:
                return service, cls
    return None


@dataclass
class System:
    processes: dict[str, ServiceProcess]
    consumer: str
    event: type[Event]
    prometheus: PrometheusServer


@pytest.fixture
def system(infra: Infra, tmp_path: Path, prometheus_binary: Path) -> Iterator[System]:
    """Prometheus first (it waits for its targets), then the services as real processes, started side by side."""
    envs = {name: settings_env(infra, infra.new_database(f"e2e_{name}")) for name in SERVICES}
    # A fresh consumer group placed at the end of the shared topics: only this test's poison message to chew on.
    group = f"notifications-e2e-{uuid.uuid4().hex[:6]}"
    envs["notifications"]["CONSUMER_GROUP"] = group
    run_sync(start_group_at_end(infra.kafka_bootstrap, group, sorted({cls.TOPIC for cls in EVENT_TYPES.values()})))
    processes = {name: ServiceProcess(f"komerbij.{name}", envs[name], tmp_path) for name in SERVICES}
    chosen = consumer_under_test()
    if chosen is None:
        env = settings_env(infra, infra.new_database("e2e_probe"), PROBE_GROUP=f"probe-{uuid.uuid4().hex[:6]}")
        env["PYTHONPATH"] = os.pathsep.join([str(repo_root() / "tests"), os.environ.get("PYTHONPATH", "")])
        processes["probe"] = ServiceProcess("probe", env, tmp_path)
        chosen = ("probe", StockAdjusted)
    config = scrape_config(
        {name: [f"127.0.0.1:{p.port}"] for name, p in processes.items()},
        rule_files=[PROMETHEUS_DIR / "alerts.yml"], scrape_interval="1s", evaluation_interval="1s",
    )
    server = PrometheusServer(write_config(tmp_path / "prometheus.yml", config), data_dir=tmp_path / "prometheus",
                              port=free_port())
    with server:
        try:
            with ThreadPoolExecutor(len(processes)) as pool:
                list(pool.map(lambda p: p.start(), processes.values()))
            yield System(processes, *chosen, server)
        finally:
            for process in processes.values():
                if process.proc is not None:
                    process.terminate()


def values(prom: PrometheusServer, promql: str, by: str = "job") -> dict[str, float]:
    return {r["metric"].get(by, ""): float(r["value"][1]) for r in prom.query(promql)}


async def send_poison(bootstrap: str, cls: type[Event]) -> None:
    """Valid CloudEvents headers of a type the consumer handles, and a body that is not JSON."""
    attributes = CloudEventAttributes(id=str(uuid.uuid4()), source="/komerbij/monitoring-test", type=cls.TYPE)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(cls.TOPIC, b"{not json", key=b"poison", headers=to_kafka_headers(attributes))
    finally:
        await producer.stop()


async def test_prometheus_sees_every_service_and_the_dead_letter_of_a_poison_message(
    infra: Infra, system: System
) -> None:
    processes, consumer, event_cls, prometheus = system.processes, system.consumer, system.event, system.prometheus

    async def all_targets_up() -> list[dict[str, Any]] | None:
        targets = prometheus.api("targets")["activeTargets"]
        ok = {t["labels"]["job"] for t in targets if t["health"] == "up"} == set(processes)
        return targets if ok and len(targets) == len(processes) else None

    await eventually(all_targets_up)
    # The runtime creates the series at 0 per topic and error class, so rate() sees the first dead letter.
    before = values(prometheus, f'sum by (topic) (komerbij_dead_letters_total{{job="{consumer}"}})', by="topic")
    assert before and set(before.values()) == {0}

    async with httpx.AsyncClient() as client:
        for process in processes.values():
            for _ in range(HEALTH_CHECKS):
                assert (await client.get(f"{process.url}/healthz")).status_code == 200
            assert (await client.get(f"{process.url}/no-such-page/{uuid.uuid4()}")).status_code == 404
    await send_poison(infra.kafka_bootstrap, event_cls)

    expected_jobs = set(processes)

    async def counters_moved() -> bool:
        health = values(prometheus, 'sum by (job) (komerbij_http_requests_total{route="/healthz"})')
        missing = values(prometheus, 'sum by (job) (komerbij_http_requests_total{route="unmatched", status="404"})')
        return health == dict.fromkeys(expected_jobs, HEALTH_CHECKS) and missing == dict.fromkeys(expected_jobs, 1)

    await eventually(counters_moved)
    assert values(prometheus, "komerbij_service_ready") == dict.fromkeys(expected_jobs, 1)

    async def dead_letter_seen() -> dict[str, float]:
        found = values(prometheus, f'sum by (topic) (komerbij_dead_letters_total{{job="{consumer}"}})', by="topic")
        return {topic: n for topic, n in found.items() if n}

    assert await eventually(dead_letter_seen) == {event_cls.TOPIC: 1}
    received = values(prometheus, f'sum by (handler) (komerbij_received_messages_total{{job="{consumer}"}})',
                      by="handler")
    assert received.get(event_cls.TOPIC, 0) == 1  # its group starts at the end: the poison message is all it got

    async def dead_letter_alert() -> list[dict[str, Any]]:
        return [a for a in prometheus.api("alerts")["alerts"]
                if a["labels"]["alertname"] == "KomerbijDeadLettersGrowing" and a["state"] == "firing"]

    alert = (await eventually(dead_letter_alert))[0]
    assert (alert["labels"]["job"], alert["labels"]["topic"]) == (consumer, event_cls.TOPIC)

    dashboard = json.loads((GRAFANA_DIR / "dashboards" / "komerbij.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            prometheus.query(target["expr"])  # raises on a query Prometheus cannot parse

    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert {r["health"] for r in rules} == {"ok"}, [(r["name"], r.get("lastError")) for r in rules]
    for rule in rules:
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["name"]
        assert metric_names(rule["query"]) <= set(ALL), rule["name"]
