"""The services' configuration in the cluster: ConfigMaps made from the settings classes, Secrets by reference only.

pydantic-settings ignores variables it does not know (`extra="ignore"`), so a misspelt key in a ConfigMap would
silently leave the default in place; these tests load every service's settings from exactly what its container
gets, and refuse keys no setting reads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest

from deploy.objects import Doc, containers, each_overlay, generated_name, named, of_kind
from komerbij.devtools import k8s_manifests as gen
from komerbij.devtools.processes import repo_root
from komerbij.runtime.kafka import KafkaClientSettings
from komerbij.runtime.settings import check_startup

SERVICES = gen.SERVICES
# What the Secrets give at start (values here are stand-ins; the names are what matters).
SECRET_STAND_INS = {"DB_USER": "registration", "DB_PASSWORD": "secret", "KAFKA_SASL_PASSWORD": "secret",
                    "UNSUBSCRIBE_SECRET": "unsubscribe-stand-in-key-0123456789", "SMTP_USERNAME": "relay",
                    "SMTP_PASSWORD": "secret", "SESSION_SECRET": "session-stand-in-key-0123456789abcdef",
                    "OIDC_CLIENT_SECRET": "client-secret", "CANCEL_LINK_SECRET": "cancel-link-stand-in-key-0123456789"}


def container_env(docs: list[Doc], service: str) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom in order, then env with $(VAR) expanded."""
    [main] = named(docs, "Deployment", service)["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    configmaps = {d["metadata"]["name"]: d["data"] for d in of_kind(docs, "ConfigMap")}
    for source in main["envFrom"]:
        env.update(configmaps[source["configMapRef"]["name"]])
    for item in main["env"]:
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], item["value"])
        else:
            env[item["name"]] = SECRET_STAND_INS[item["name"]]
    return env


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    with mock.patch.dict(os.environ, values, clear=True):
        yield


@each_overlay
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_starts_with_the_configuration_it_gets(
    overlay: str, service: str, rendered: dict[str, list[Doc]]
) -> None:
    svc = gen.load_service(service)
    env = container_env(rendered[overlay], service)
    with environment(env):
        settings = svc.settings()  # raises on a missing or invalid value, as the service would at start
        check_startup(settings)  # and on secrets fit only for development
        kafka = KafkaClientSettings()
    assert settings.database_url.startswith(f"postgresql://registration:secret@{svc.pooler}:5432/")
    assert settings.jwt_jwks_url and settings.jwt_secret is None, "tokens are checked against Keycloak"
    assert kafka.security_protocol == "SASL_SSL" and kafka.sasl_username == service
    assert env["PORT"] == str(svc.port)
    assert env["HOST"] == "0.0.0.0"


@each_overlay
@pytest.mark.parametrize("service", SERVICES)
def test_every_configured_variable_is_read_by_the_service(
    overlay: str, service: str, rendered: dict[str, list[Doc]]
) -> None:
    svc = gen.load_service(service)
    known = ({name.upper() for name in svc.settings.model_fields} | gen.PROCESS_VARIABLES
             | {f"KAFKA_{name.upper()}" for name in KafkaClientSettings.model_fields} | {"DB_USER", "DB_PASSWORD"})
    env = container_env(rendered[overlay], service)
    assert set(env) - known == set(), "no setting reads these variables"


def test_a_misspelt_variable_is_caught(rendered: dict[str, list[Doc]]) -> None:
    """The check above can fail: the same environment with one key misspelt."""
    svc = gen.load_service("notifications")
    env = container_env(rendered["prod"], "notifications")
    env["SMTP_STARTTLSS"] = env.pop("SMTP_STARTTLS")
    known = {name.upper() for name in svc.settings.model_fields}
    assert "SMTP_STARTTLSS" in set(env) - known
    with environment(env):
        assert svc.settings().smtp_starttls is False  # what it would silently have done


@each_overlay
def test_no_secret_value_is_in_the_manifests(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    docs = rendered[overlay]
    assert of_kind(docs, "Secret") == [], "Secrets are created in the cluster (docs/DEPLOY.md), never committed"
    secret_variables = {name.upper() for name in gen.SECRET_SETTINGS} | {"KAFKA_SASL_PASSWORD", "DB_PASSWORD"}
    for configmap in of_kind(docs, "ConfigMap"):
        assert not secret_variables & set(configmap.get("data", {})), configmap["metadata"]["name"]
    for deployment in of_kind(docs, "Deployment"):
        for c in containers(deployment["spec"]["template"]["spec"]):
            for item in c.get("env", []):
                if re.search(r"SECRET|PASSWORD", item["name"]):
                    assert "valueFrom" in item, f"{deployment['metadata']['name']}: {item['name']} has a value"


def referenced_secrets(docs: list[Doc]) -> set[str]:
    names: set[str] = set()
    for d in docs:
        if d["kind"] == "Deployment":
            pod = d["spec"]["template"]["spec"]
            for c in containers(pod):
                names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", [])
                          if "secretKeyRef" in e.get("valueFrom", {})}
            names |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        elif d["kind"] == "TriggerAuthentication":
            names |= {r["name"] for r in d["spec"].get("secretTargetRef", [])}
        elif d["kind"] == "Ingress":
            names |= {t["secretName"] for t in d["spec"].get("tls", [])}
        elif d["kind"] == "Cluster" and "backup" in d["spec"]:
            creds = d["spec"]["backup"]["barmanObjectStore"]["s3Credentials"]
            names |= {creds["accessKeyId"]["name"], creds["secretAccessKey"]["name"]}
    return names


@each_overlay
def test_every_secret_is_made_by_an_operator_or_documented(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    docs = rendered[overlay]
    by_operators = ({f"{d['metadata']['name']}-app" for d in of_kind(docs, "Cluster")}  # CloudNativePG
                    | {d["metadata"]["name"] for d in of_kind(docs, "KafkaUser")}  # Strimzi's User Operator
                    | {f"{gen.KAFKA_CLUSTER}-cluster-ca-cert"})  # Strimzi's Cluster Operator
    ours = referenced_secrets(docs) - by_operators
    assert ours, "expected Secrets the operators create by hand"
    guide = (repo_root() / "docs" / "DEPLOY.md").read_text()
    undocumented = sorted(name for name in ours if f"`{name}`" not in guide)
    assert not undocumented, f"docs/DEPLOY.md does not say how to create {undocumented}"


@each_overlay
def test_every_config_map_reference_resolves(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    """kustomize renames generated ConfigMaps (content hash); a reference it did not rewrite points at nothing."""
    docs = rendered[overlay]
    configmaps = {d["metadata"]["name"] for d in of_kind(docs, "ConfigMap")}
    references: list[str] = []
    for d in docs:
        if d["kind"] == "Deployment":
            pod = d["spec"]["template"]["spec"]
            for c in containers(pod):
                references += [s["configMapRef"]["name"] for s in c.get("envFrom", []) if "configMapRef" in s]
            references += [v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v]
        elif d["kind"] == "TriggerAuthentication":
            references += [r["name"] for r in d["spec"].get("configMapTargetRef", [])]
    assert references
    assert set(references) <= configmaps, set(references) - configmaps
    assert generated_name(docs, "ConfigMap", "komerbij-common")


def test_kafka_client_settings_give_sasl_over_tls_with_the_cluster_ca() -> None:
    import ssl

    import certifi

    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "notifications",
           "KAFKA_SASL_PASSWORD": "secret", "KAFKA_SSL_CAFILE": certifi.where()}
    with environment(env):
        settings = KafkaClientSettings()
    options = settings.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("notifications", "secret")
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert options["ssl_context"].get_ca_certs() or options["ssl_context"].cert_store_stats()["x509_ca"] > 0
    security = settings.broker_security()
    assert security is not None and security.use_ssl


def test_kafka_client_settings_refuse_sasl_without_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    from komerbij.runtime.kafka import client_settings

    with environment({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}), pytest.raises(SystemExit):
        client_settings()
    assert "KAFKA_SASL_USERNAME" in capsys.readouterr().err
    with environment({}):
        assert client_settings().client_options() == {"security_protocol": "PLAINTEXT"}
