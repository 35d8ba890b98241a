"""The alert rules and scrape configurations, checked by promtool itself (the machine's `prometheus` package)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from monitoring.catalog import ALL, PROMETHEUS_DIR, metric_names

ALERTS = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
REQUIRED_ALERTS = {
    "KomerbijServiceDown", "KomerbijServiceNotReady", "KomerbijConsumerLagHigh", "KomerbijHandlerErrorRatioHigh",
    "KomerbijDeadLettersGrowing", "KomerbijOutboxStuck", "KomerbijWebhookFailureRatioHigh", "KomerbijFeedFailing",
    "KomerbijStockBelowThreshold",
}


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False)


def alert_blocks() -> dict[str, str]:
    """Each alert's text in alerts.yml (promtool has parsed it already; this only reads names and annotations)."""
    parts = re.split(r"^\s*- alert:\s*", ALERTS.read_text(), flags=re.MULTILINE)[1:]
    return {part.split()[0]: part for part in parts}


def test_alert_rules_are_valid_for_promtool(promtool: Path) -> None:
    result = run(promtool, "check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_blocks())} rules found" in result.stdout


def test_every_alert_fires_on_a_broken_series_and_stays_quiet_on_healthy_ones(promtool: Path) -> None:
    assert RULE_TESTS, "deploy/prometheus/tests/ has no rule tests"
    result = run(promtool, "test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_tests_cover_firing_and_quiet_cases_of_every_alert() -> None:
    """promtool only runs the cases that exist; this makes sure none is missing."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"\s*alertname:\s*(\w+)", line)
            if match:
                expectation = lines[i + 1].strip()
                (quiet if expectation == "exp_alerts: []" else firing).add(match.group(1))
    alerts = set(alert_blocks())
    assert alerts >= REQUIRED_ALERTS
    assert alerts - firing == set(), "alerts never shown to fire"
    assert alerts - quiet == set(), "alerts never shown to stay quiet"


def test_every_alert_explains_itself_and_uses_known_metrics() -> None:
    for name, block in alert_blocks().items():
        for annotation in ("summary:", "description:", "runbook:"):
            assert annotation in block, f"{name} lacks {annotation}"
        expr = block.split("expr:", 1)[1].split("labels:", 1)[0]
        unknown = metric_names(expr) - set(ALL)
        assert not unknown, f"{name} uses metrics not in tests/monitoring/catalog.py: {unknown}"
        assert metric_names(expr), f"{name}: no metric found in its expression"


def test_scrape_configurations_are_valid_and_name_jobs_after_the_services(promtool: Path) -> None:
    for config, host in (("prometheus.yml", "127.0.0.1"), ("prometheus.compose.yml", None)):
        result = run(promtool, "check", "config", PROMETHEUS_DIR / config)
        assert result.returncode == 0, result.stdout + result.stderr
        text = (PROMETHEUS_DIR / config).read_text()
        for service, port in (("registration", 8001), ("materials", 8002), ("media", 8003), ("notifications", 8004)):
            assert f"job_name: {service}\n" in text
            assert f'"{host or service}:{port}"' in text
