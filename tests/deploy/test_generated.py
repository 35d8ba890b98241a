"""One source of truth: the generated manifests agree with the topic registry, the alert rules, the route table and
the services' code; a committed file that drifted from its source fails here."""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.objects import Doc, each_overlay, named, of_kind
from komerbij.contracts.topics import TOPICS
from komerbij.devtools import k8s_manifests as gen
from komerbij.devtools.processes import repo_root
from komerbij.materials.entrypoints.api.fulfilment import MAX_UPLOAD_BYTES
from komerbij.media.entrypoints.api.models import MAX_IMPORT_BYTES

ROOT = repo_root()
MULTIPART_ROOM = 16 * 1024  # boundary lines and part headers around an uploaded file


def test_committed_generated_files_match_their_sources() -> None:
    stale = gen.stale(ROOT)
    assert not stale, f"run `python -m komerbij.devtools.k8s generate`; out of date: {[str(p) for p in stale]}"


def test_a_drifted_generated_file_is_reported(tmp_path: Path) -> None:
    """The check above can fail: a copy of the repository's sources with one generated file edited by hand."""
    sources = ["deploy/frontdoor/routes.yaml", "deploy/prometheus/alerts.yml", "deploy/keycloak/komerbij-realm.json"]
    for relative in sources:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text((ROOT / relative).read_text())
    gen.write(tmp_path)
    assert gen.stale(tmp_path) == []
    topics = tmp_path / "deploy/k8s/base/generated/kafka-topics.yaml"
    topics.write_text(topics.read_text().replace("partitions: 3", "partitions: 6", 1))
    assert gen.stale(tmp_path) == [Path("deploy/k8s/base/generated/kafka-topics.yaml")]


def test_the_service_list_is_the_services_folder() -> None:
    assert sorted(gen.SERVICES) == sorted(p.name for p in (ROOT / "services").iterdir() if (p / "Dockerfile").exists())


@each_overlay
def test_every_topic_of_the_registry_has_its_kafka_topic(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    topics = {d["spec"]["topicName"]: d for d in of_kind(rendered[overlay], "KafkaTopic")}
    assert set(topics) == set(TOPICS), "KafkaTopics and contracts' TOPICS differ"
    replicas = 3 if overlay == "prod" else 1
    for name, topic in TOPICS.items():
        spec = topics[name]["spec"]
        assert topics[name]["metadata"]["labels"]["strimzi.io/cluster"] == gen.KAFKA_CLUSTER
        assert spec["partitions"] == topic.partitions, name
        assert spec["replicas"] == replicas, name
        assert spec["config"]["retention.ms"] == str(topic.retention_ms), name
        assert spec["config"]["cleanup.policy"] == "delete", name
        assert spec["config"]["min.insync.replicas"] == str(min(2, replicas)), name
    # the dead-letter topics are there too, with the retention of personal data of their origin
    assert topics["registration.signups.dlq"]["spec"]["config"]["retention.ms"] == str(
        TOPICS["registration.signups"].retention_ms)


def test_the_prometheus_rule_is_the_alert_rules_file(prod: list[Doc]) -> None:
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    rule = named(prod, "PrometheusRule", "komerbij-alerts")
    assert rule["spec"]["groups"] == alerts["groups"]


def test_alert_jobs_are_the_service_names_the_pod_monitors_give(prod: list[Doc]) -> None:
    """The rules select `job=~"registration|..."`; a PodMonitor's job would be `<namespace>/<name>` without
    jobLabel, so every alert on `up` would stay silent."""
    alerts = (ROOT / "deploy/prometheus/alerts.yml").read_text()
    assert 'job=~"registration|materials|media|notifications|dashboard"' in alerts
    for service in gen.SERVICES:
        monitor = named(prod, "PodMonitor", service)
        label = monitor["spec"]["jobLabel"]
        deployment = named(prod, "Deployment", service)
        assert deployment["spec"]["template"]["metadata"]["labels"][label] == service
        assert monitor["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"][
            "labels"].items()
        assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"


def test_ingresses_route_the_paths_of_the_route_table(prod: list[Doc]) -> None:
    routes = gen.load_routes(ROOT)
    assert sorted(routes) == sorted(gen.SERVICES)
    for service, route in routes.items():
        api = named(prod, "Ingress", f"{service}-api")
        [rule] = api["spec"]["rules"]
        [path] = rule["http"]["paths"]
        # /api/<service>/x → /x on the service (ingress-nginx regex with the rest captured as $2)
        assert path["path"] == route["api"].rstrip("/") + "(/|$)(.*)"
        assert api["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] == "/$2"
        assert path["backend"]["service"] == {"name": service, "port": {"name": "http"}}
        pages = named(prod, "Ingress", f"{service}-pages")
        [rule] = pages["spec"]["rules"]
        got = [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]
        assert got == [(p, "Exact" if p == "/" else "Prefix") for p in route["pages"]]
        assert {p["backend"]["service"]["name"] for p in rule["http"]["paths"]} == {service}
        for ingress in (api, pages):
            assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == route[
                "max_body"]


def test_no_path_is_routed_twice() -> None:
    routes = gen.load_routes(ROOT)
    paths = [p for route in routes.values() for p in [route["api"], *route["pages"]]]
    assert len(paths) == len(set(paths))


def test_body_limits_let_the_services_answer_too_large_uploads_themselves() -> None:
    routes = gen.load_routes(ROOT)
    assert gen.parse_size(routes["materials"]["max_body"]) >= MAX_UPLOAD_BYTES + MULTIPART_ROOM
    assert gen.parse_size(routes["media"]["max_body"]) >= MAX_IMPORT_BYTES + MULTIPART_ROOM
    for route in routes.values():
        # and nothing absurd gets through to a service that reads JSON
        assert gen.parse_size(route["max_body"]) <= 16 * 1024 * 1024


@each_overlay
def test_the_dev_realm_is_the_pages_realm(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    realms = [d for d in of_kind(rendered[overlay], "ConfigMap") if d["metadata"]["name"].startswith("keycloak-realm")]
    if overlay != "dev":
        assert realms == []
        return
    [realm] = realms
    assert realm["data"]["komerbij-realm.json"] == (ROOT / "deploy/keycloak/komerbij-realm.json").read_text()
