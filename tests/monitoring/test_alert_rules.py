"""The alert rules and scrape configurations, checked by promtool itself (the machine's `prometheus` package)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from monitoring.catalog import ALL, PROMETHEUS_DIR, metric_names

ALERTS = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
REQUIRED_ALERTS = {
    "KomerbijServiceDown", "KomerbijServiceNotReady", "KomerbijConsumerLagHigh", "KomerbijHandlerErrorRatioHigh",
    "KomerbijDeadLettersGrowing", "KomerbijOutboxStuck", "KomerbijWebhookFailureRatioHigh", "KomerbijFeedFailing",
    "KomerbijStockBelowThreshold",
}
SERVICES = {"registration": 8001, "materials": 8002, "media": 8003, "notifications": 8004, "dashboard": 8005}


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False)


def alerts() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def test_alert_rules_are_valid_for_promtool(promtool: Path) -> None:
    result = run(promtool, "check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_every_alert_fires_on_a_broken_series_and_stays_quiet_on_healthy_ones(promtool: Path) -> None:
    assert RULE_TESTS, "deploy/prometheus/tests/ has no rule tests"
    result = run(promtool, "test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_tests_cover_firing_and_quiet_cases_of_every_alert() -> None:
    """promtool only runs the cases that exist; this makes sure none is missing."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert set(alerts()) >= REQUIRED_ALERTS
    assert set(alerts()) - firing == set(), "alerts never shown to fire"
    assert set(alerts()) - quiet == set(), "alerts never shown to stay quiet"


def test_every_alert_explains_itself_and_uses_known_metrics() -> None:
    for name, rule in alerts().items():
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        used = metric_names(rule["expr"])
        assert used, f"{name}: no metric found in its expression"
        assert used <= set(ALL), f"{name} uses metrics not in tests/monitoring/catalog.py: {used - set(ALL)}"


def test_scrape_configurations_are_valid_and_name_jobs_after_the_services(promtool: Path) -> None:
    for config, host in (("prometheus.yml", "127.0.0.1"), ("prometheus.compose.yml", None)):
        result = run(promtool, "check", "config", PROMETHEUS_DIR / config)
        assert result.returncode == 0, result.stdout + result.stderr
        jobs = {
            job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
            for job in yaml.safe_load((PROMETHEUS_DIR / config).read_text())["scrape_configs"]
        }
        assert jobs == {service: [f"{host or service}:{port}"] for service, port in SERVICES.items()}
