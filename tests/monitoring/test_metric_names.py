"""Every service's `/metrics` follows the naming rules of issue 8 and exports the names alerts rely on."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import subprocess
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.infra import Infra
from support.kafka import start_group_at_end
from support.services import eventually, running, settings_env

from monitoring.catalog import ALL, BUSINESS_BY_SERVICE, FASTSTREAM, RUNTIME
from monitoring.naming import naming_problems

SERVICES = ["registration", "materials", "media", "notifications", "dashboard"]
# Problems reported to the platform lead and not fixed yet. A new problem fails the test; a fixed one may go.
KNOWN_PROBLEMS: dict[str, set[str]] = {}

BAD_EXPOSITION = """\
# HELP signups_total Sign-ups
# TYPE signups_total counter
signups_total{email="ans@example.nl"} 1.0
# HELP komerbij_poll_duration_ms How long a poll took
# TYPE komerbij_poll_duration_ms histogram
komerbij_poll_duration_ms_bucket{le="+Inf"} 1.0
komerbij_poll_duration_ms_count 1.0
komerbij_poll_duration_ms_sum 3.0
# HELP komerbij_orders_total Orders
# TYPE komerbij_orders_total gauge
komerbij_orders_total{order_id="123"} 1.0
# HELP komerbij_http_requests_total Requests
# TYPE komerbij_http_requests_total counter
komerbij_http_requests_total{route="/activities/7d1c4a36-5b0e-4f1e-9a51-6a2f1c3e8b90",status="200"} 1.0
# HELP komerbij_http_requests Requests now open
# TYPE komerbij_http_requests gauge
komerbij_http_requests 1.0
"""


def exported_names(exposition: str) -> dict[str, str]:
    """Metric names as Prometheus stores them (counters with _total) and their types."""
    return {f"{f.name}_total" if f.type == "counter" else f.name: f.type
            for f in text_string_to_metric_families(exposition)}


def test_naming_rules_catch_what_they_are_meant_to_catch() -> None:
    problems = "\n".join(naming_problems(BAD_EXPOSITION))
    assert "signups_total: our metrics start with komerbij_" in problems
    assert "label 'email' invites ids or personal data" in problems
    assert "komerbij_poll_duration_ms: time is measured in seconds" in problems
    assert "komerbij_orders_total: only counters end in _total" in problems
    assert "label 'order_id' invites ids" in problems
    assert "7d1c4a36-5b0e-4f1e-9a51-6a2f1c3e8b90" in problems
    assert "komerbij_http_requests: a gauge named like the counter komerbij_http_requests_total" in problems


@pytest.mark.parametrize("service", SERVICES)
async def test_service_metrics_follow_the_naming_rules(service: str, infra: Infra, promtool: Path) -> None:
    spec = importlib.import_module(f"komerbij.{service}.app").SPEC
    if spec.events is not None:  # a consumer of its own, placed after the other tests' events on the shared topics
        group = f"{service}-metrics-{uuid.uuid4().hex[:6]}"
        spec = dataclasses.replace(spec, events=spec.events.with_consumer(group))
        await start_group_at_end(infra.kafka_bootstrap, group, spec.events.topics)
    async with running(spec, settings_env(infra, infra.new_database(f"mon_{service}"))) as svc:
        # Traffic that would leak an id into a label if routes were counted by raw path.
        for path in ("/healthz", "/readyz", f"/activities/{uuid.uuid4()}", "/no-such-page?email=ans@example.nl"):
            await svc.client.get(path)

        async def business_metrics_registered() -> str | None:
            # business gauges appear with the first refresh from the database, shortly after start
            text = (await svc.client.get("/metrics")).text
            return text if set(BUSINESS_BY_SERVICE[service]) <= set(exported_names(text)) else None

        exposition = await eventually(business_metrics_registered)

    assert set(naming_problems(exposition)) - KNOWN_PROBLEMS.get(service, set()) == set()
    lint = await asyncio.to_thread(subprocess.run, [str(promtool), "check", "metrics"], input=exposition,
                                   capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    exported = exported_names(exposition)
    expected = {**RUNTIME, **FASTSTREAM, **BUSINESS_BY_SERVICE[service]}
    assert {n: exported.get(n) for n in expected} == expected
    routes = {s.labels["route"] for f in text_string_to_metric_families(exposition) for s in f.samples
              if f.name == "komerbij_http_requests"}
    assert "/healthz" in routes


def test_catalog_names_can_live_side_by_side_in_one_registry() -> None:
    """A gauge named like a counter without `_total` clashes with that counter's family (DuplicateTimeseries)."""
    counter_families = {name.removesuffix("_total") for name, kind in ALL.items() if kind == "counter"}
    clashing = {name for name, kind in ALL.items() if kind != "counter" and name in counter_families}
    assert clashing == set()
    assert all(name.endswith("_total") for name, kind in ALL.items() if kind == "counter")
