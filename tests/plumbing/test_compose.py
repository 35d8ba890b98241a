"""docker-compose.yml cannot run here, so it is kept honest by comparing it with what `make run` does."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from komerbij.devtools import run
from komerbij.devtools.kafka import kafka_version

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = {s.name: s.port for s in run.SERVICES}


def test_compose_has_the_services_of_make_run_and_the_infrastructure() -> None:
    expected = {*SERVICES, "kafka", "kafka-2", "kafka-3", "postgres", "topics", "mailpit", "prometheus", "grafana",
                "frontdoor", "keycloak"}
    assert set(COMPOSE["services"]) == expected


def test_kafka_image_is_the_version_make_run_resolves_from_maven() -> None:
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
    assert "127.0.0.1:9092:9092" in COMPOSE["services"]["kafka"]["ports"]


def test_infrastructure_ports_match_make_run() -> None:
    ports = {name: svc.get("ports", []) for name, svc in COMPOSE["services"].items()}
    assert "127.0.0.1:55432:5432" in ports["postgres"]
    assert "127.0.0.1:1025:1025" in ports["mailpit"]
    assert "127.0.0.1:9090:9090" in ports["prometheus"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_port_database_and_environment_match_make_run(name: str) -> None:
    svc = COMPOSE["services"][name]
    port = SERVICES[name]
    assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert svc["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    assert (ROOT / svc["build"]["dockerfile"]).exists()
    env = svc["environment"]
    assert env["PORT"] == str(port)
    assert env["DATABASE_URL"].endswith(f"/komerbij_{name}")  # the database name `make run` creates
    settings = importlib.import_module(f"komerbij.{name}.settings").Settings
    known = {field.upper() for field in settings.model_fields} | {"PORT", "HOST"}
    assert set(env) <= known, set(env) - known  # no variable the service would silently ignore


def test_every_service_database_is_created_by_the_postgres_init_script() -> None:
    init = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    for name in SERVICES:
        assert f"CREATE DATABASE komerbij_{name};" in init
