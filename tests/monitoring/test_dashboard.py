"""The Grafana dashboard reads only metrics that exist (or are listed for the services to add), row by row."""

from __future__ import annotations

import json
from typing import Any

from monitoring.catalog import ALL, GRAFANA_DIR, metric_names

DASHBOARD = GRAFANA_DIR / "dashboards" / "komerbij.json"
SERVICE_ROW_NEEDS = {
    "traffic": "komerbij_http_requests_total",
    "errors": "komerbij_dead_letters_total",
    "latency": "komerbij_http_request_duration_seconds",
    "lag": "komerbij_consumer_lag_messages",
    "outbox": "komerbij_outbox_oldest_event_age_seconds",
    "dlq": "komerbij_dead_letters_total",
}
BUSINESS_ROW_NEEDS = {"komerbij_signups", "komerbij_orders", "komerbij_stock_on_hand_items", "komerbij_mentions",
                      "komerbij_deliveries_total"}


def rows(dashboard: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Panels grouped under the row panel above them (Grafana's flat layout of uncollapsed rows)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            grouped[current] = list(panel.get("panels", []))
        else:
            grouped.setdefault(current, []).append(panel)
    return grouped


def exprs(panels: list[dict[str, Any]]) -> list[str]:
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def test_every_panel_query_uses_known_metrics_only() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for expr in exprs([panel]):
            names = metric_names(expr)
            assert names, f"{panel['title']}: no metric in {expr}"
            assert names <= set(ALL), f"{panel['title']}: unknown metrics {names - set(ALL)}"


def test_one_row_per_service_with_traffic_errors_latency_lag_outbox_and_dead_letters() -> None:
    grouped = rows(json.loads(DASHBOARD.read_text()))
    for service in ("registration", "materials", "media", "notifications"):
        queries = exprs(grouped[service])
        assert all(f'job="{service}"' in q for q in queries), f"{service} row shows another service's data"
        used = set().union(*(metric_names(q) for q in queries))
        missing = {what for what, name in SERVICE_ROW_NEEDS.items() if name not in used}
        assert not missing, f"{service} row lacks {missing}"
    business = set().union(*(metric_names(q) for q in exprs(grouped["Business"])))
    assert business >= BUSINESS_ROW_NEEDS


def test_dashboard_is_provisioned_from_the_datasource_grafana_gets() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    datasource = (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    uids = {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p}
    assert len(uids) == 1 and f"uid: {uids.pop()}" in datasource
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    provider = (GRAFANA_DIR / "provisioning" / "dashboards" / "komerbij.yml").read_text()
    assert "path: /var/lib/grafana/dashboards" in provider

