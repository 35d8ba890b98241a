"""Issue 18's acceptance on the built overlays: the production shape (3 brokers, 3 PostgreSQL instances per
database, 2+ replicas of every service), resource requests and probes everywhere, a NetworkPolicy for every pod,
and the per-service parts: Deployment, autoscaling, least-privilege Kafka users, their own database."""

from __future__ import annotations

import inspect
import re
from typing import Any
from urllib.parse import urlparse

import pytest

from deploy.objects import Doc, containers, each_overlay, generated_name, named, of_kind
from komerbij.contracts.topics import TOPICS, dlq_of
from komerbij.devtools import k8s_manifests as gen
from komerbij.runtime import service as runtime_service

SERVICES = gen.SERVICES


def env_of(docs: list[Doc], service: str) -> dict[str, str]:
    """The environment a service's container starts with: both ConfigMaps (the service's wins), then `env`."""
    values = {**generated_name(docs, "ConfigMap", "komerbij-common")["data"],
              **generated_name(docs, "ConfigMap", f"{service}-config")["data"]}
    for item in named(docs, "Deployment", service)["spec"]["template"]["spec"]["containers"][0]["env"]:
        values[item["name"]] = item.get("value", "<from secret>")
    return values


def pod_label_sets(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """Every workload that makes pods → the labels its pods carry (operators' conventions for their pods)."""
    out: dict[str, dict[str, str]] = {}
    for d in docs:
        name = d["metadata"]["name"]
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out[f"{d['kind']}/{name}"] = d["spec"]["template"]["metadata"]["labels"]
        elif d["kind"] == "Cluster":
            out[f"Cluster/{name}"] = {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}
        elif d["kind"] == "Pooler":
            out[f"Pooler/{name}"] = {"cnpg.io/poolerName": name}
        elif d["kind"] == "KafkaNodePool":
            cluster = d["metadata"]["labels"]["strimzi.io/cluster"]
            roles = d["spec"]["roles"]
            labels = {"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka", "strimzi.io/pool-name": name}
            if "broker" in roles:
                labels["strimzi.io/broker-role"] = "true"
            out[f"KafkaNodePool/{name}"] = labels
        elif d["kind"] == "Kafka" and "entityOperator" in d["spec"]:
            out[f"Kafka/{name}/entity-operator"] = {"strimzi.io/cluster": name,
                                                    "strimzi.io/name": f"{name}-entity-operator"}
    return out


# --- the production shape -----------------------------------------------------------------------------------------

def test_prod_runs_three_kafka_brokers_and_three_controllers(prod: list[Doc]) -> None:
    pools = of_kind(prod, "KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) == 3
    assert sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"]) == 3
    config = named(prod, "Kafka", gen.KAFKA_CLUSTER)["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False


def test_prod_runs_three_postgres_instances_per_database(prod: list[Doc]) -> None:
    clusters = {d["metadata"]["name"]: d for d in of_kind(prod, "Cluster")}
    assert set(clusters) == {f"{s}-db" for s in SERVICES} | {"keycloak-db"}
    assert {name: c["spec"]["instances"] for name, c in clusters.items()} == dict.fromkeys(clusters, 3)
    assert all(c["spec"]["affinity"]["enablePodAntiAffinity"] for c in clusters.values())


def test_prod_backs_up_every_database_nightly(prod: list[Doc], rendered: dict[str, list[Doc]]) -> None:
    backups = {d["spec"]["cluster"]["name"] for d in of_kind(prod, "ScheduledBackup")}
    assert backups == {d["metadata"]["name"] for d in of_kind(prod, "Cluster")}
    for cluster in of_kind(prod, "Cluster"):
        store = cluster["spec"]["backup"]["barmanObjectStore"]
        assert store["destinationPath"].endswith("/" + cluster["metadata"]["name"])
    assert of_kind(rendered["dev"], "ScheduledBackup") == []


def test_prod_runs_at_least_two_replicas_of_everything_that_serves(prod: list[Doc]) -> None:
    for deployment in of_kind(prod, "Deployment"):
        assert deployment["spec"]["replicas"] >= 2, deployment["metadata"]["name"]
    for scaled in of_kind(prod, "ScaledObject"):
        assert scaled["spec"]["minReplicaCount"] >= 2, scaled["metadata"]["name"]
    for pooler in of_kind(prod, "Pooler"):
        assert pooler["spec"]["instances"] >= 2, pooler["metadata"]["name"]
    for pdb in of_kind(prod, "PodDisruptionBudget"):
        assert pdb["spec"]["maxUnavailable"] == 1


@each_overlay
def test_every_service_has_its_deployment_scaled_object_and_network_policy(
    overlay: str, rendered: dict[str, list[Doc]]
) -> None:
    docs = rendered[overlay]
    for service in SERVICES:
        for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "ScaledObject", "PodMonitor",
                     "NetworkPolicy", "KafkaUser"):
            named(docs, kind, service)
        generated_name(docs, "ConfigMap", f"{service}-config")


# --- every object: requests, probes, network policy ---------------------------------------------------------------

def _requests(resources: dict[str, Any] | None) -> dict[str, Any]:
    return (resources or {}).get("requests", {})


@each_overlay
def test_every_container_requests_cpu_and_memory(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    missing = []
    for d in rendered[overlay]:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "Deployment":
            for c in containers(d["spec"]["template"]["spec"]):
                if not {"cpu", "memory"} <= _requests(c.get("resources")).keys():
                    missing.append(f"{name}/{c['name']}")
        elif d["kind"] == "Pooler":
            for c in d["spec"]["template"]["spec"]["containers"]:
                if not {"cpu", "memory"} <= _requests(c.get("resources")).keys():
                    missing.append(f"{name}/{c['name']}")
        elif d["kind"] in ("Cluster", "KafkaNodePool"):
            if not {"cpu", "memory"} <= _requests(d["spec"].get("resources")).keys():
                missing.append(name)
        elif d["kind"] == "Kafka":
            for operator in ("topicOperator", "userOperator"):
                if not {"cpu", "memory"} <= _requests(d["spec"]["entityOperator"][operator].get("resources")).keys():
                    missing.append(f"{name}/{operator}")
    assert not missing, f"no cpu/memory requests: {missing}"


@each_overlay
def test_every_serving_container_has_liveness_and_readiness_probes(
    overlay: str, rendered: dict[str, list[Doc]]
) -> None:
    for deployment in of_kind(rendered[overlay], "Deployment"):
        for c in deployment["spec"]["template"]["spec"]["containers"]:
            if c.get("ports"):
                assert {"livenessProbe", "readinessProbe"} <= c.keys(), f"{deployment['metadata']['name']}/{c['name']}"
    for service in SERVICES:
        [c] = named(rendered[overlay], "Deployment", service)["spec"]["template"]["spec"]["containers"]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz"


@each_overlay
def test_every_pod_has_a_network_policy_of_its_own_and_the_rest_is_denied(
    overlay: str, rendered: dict[str, list[Doc]]
) -> None:
    policies = of_kind(rendered[overlay], "NetworkPolicy")
    deny = named(rendered[overlay], "NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    specific = [p for p in policies if p["spec"]["podSelector"].get("matchLabels")]
    workloads = pod_label_sets(rendered[overlay])
    assert len(workloads) >= 4 + 5 + 4 + 2 + 2  # services, databases, poolers, node pools, keycloak + operator
    for workload, labels in workloads.items():
        matching = [p["metadata"]["name"] for p in specific
                    if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        assert matching, f"{workload} has no NetworkPolicy of its own"


# --- services -----------------------------------------------------------------------------------------------------

@each_overlay
def test_services_run_as_the_images_non_root_user_with_a_read_only_root(
    overlay: str, rendered: dict[str, list[Doc]]
) -> None:
    for service in SERVICES:
        dockerfile = (gen.repo_root() / "services" / service / "Dockerfile").read_text()
        assert re.search(r"^USER nobody$", dockerfile, re.M)  # nobody is 65534 in the Debian-based image
        pod = named(rendered[overlay], "Deployment", service)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == gen.IMAGE_USER == 65534
        assert pod["automountServiceAccountToken"] is False
        for c in containers(pod):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
        command = re.search(r'^CMD \["python", "-m", "([a-z.]+)"\]$', dockerfile, re.M)
        assert command and command.group(1) == f"komerbij.{service}"


@each_overlay
def test_graceful_termination_outlasts_a_consumer_batch(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    uvicorn = re.search(r"timeout_graceful_shutdown=(\d+)", inspect.getsource(runtime_service.serve))
    assert uvicorn and int(uvicorn.group(1)) == gen.UVICORN_GRACEFUL_SECONDS
    for service in SERVICES:
        env = env_of(rendered[overlay], service)
        pod = named(rendered[overlay], "Deployment", service)["spec"]["template"]["spec"]
        pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
        budget = float(env["CONSUMER_BATCH_TIME_BUDGET_SECONDS"])
        assert pod["terminationGracePeriodSeconds"] > pre_stop + gen.UVICORN_GRACEFUL_SECONDS + budget


@each_overlay
def test_migrations_run_before_a_new_version_serves(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    for service in SERVICES:
        deployment = named(rendered[overlay], "Deployment", service)
        pod = deployment["spec"]["template"]["spec"]
        [migrate] = pod["initContainers"]
        [main] = pod["containers"]
        assert migrate["command"] == ["python", "-m", f"komerbij.{service}", "migrate"]
        assert migrate["image"] == main["image"]
        assert migrate["env"] == main["env"] and migrate["envFrom"] == main["envFrom"]
        # the old version keeps serving until the new one is ready
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@each_overlay
def test_autoscaling_follows_cpu_and_the_consumer_groups_lag(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    docs = rendered[overlay]
    assert of_kind(docs, "HorizontalPodAutoscaler") == [], "KEDA owns the HPA; a second one would fight it"
    for service in SERVICES:
        svc = gen.load_service(service)
        scaled = named(docs, "ScaledObject", service)["spec"]
        assert scaled["scaleTargetRef"]["name"] == service
        assert scaled["advanced"]["horizontalPodAutoscalerConfig"]["name"] == service
        triggers = scaled["triggers"]
        assert [t["type"] for t in triggers if t["type"] == "cpu"] == ["cpu"], "the HTTP side scales on CPU"
        lag = [t for t in triggers if t["type"] == "kafka"]
        assert sorted(t["metadata"]["topic"] for t in lag) == sorted(svc.consumes)
        if not svc.consumes:
            continue
        env = env_of(docs, service)
        for trigger in lag:
            meta = trigger["metadata"]
            assert meta["consumerGroup"] == env["CONSUMER_GROUP"] == svc.group
            assert meta["bootstrapServers"] == env["KAFKA_BOOTSTRAP_SERVERS"]
            assert meta["allowIdleConsumers"] == "false"
            assert meta["offsetResetPolicy"] == "earliest"
        # never more consumers than the largest consumed topic has partitions
        assert scaled["maxReplicaCount"] <= max(TOPICS[t].partitions for t in svc.consumes)
        auth = named(docs, "TriggerAuthentication", lag[0]["authenticationRef"]["name"])["spec"]
        assert {r["parameter"]: r["name"] for r in auth["secretTargetRef"]}["password"] == service
        [username] = auth["configMapTargetRef"]
        assert generated_name(docs, "ConfigMap", f"{service}-config")["metadata"]["name"] == username["name"]
    assert any(gen.load_service(s).consumes for s in SERVICES), "no service consumes: the lag side is untested"


def test_kafka_users_write_only_their_own_topics_and_read_only_what_they_consume(prod: list[Doc]) -> None:
    topics = {d["spec"]["topicName"] for d in of_kind(prod, "KafkaTopic")}
    for service in SERVICES:
        svc = gen.load_service(service)
        acls = named(prod, "KafkaUser", service)["spec"]["authorization"]["acls"]
        assert all(a["resource"]["patternType"] == "literal" for a in acls), "no wildcard or prefix"
        writes = {a["resource"]["name"] for a in acls if "Write" in a["operations"]}
        reads = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic" and "Read" in a["operations"]}
        groups = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "group"}
        own = {t for t in TOPICS if t.split(".")[0] == service and not t.endswith(".dlq")}
        assert set(svc.publishes) <= own, f"{service} publishes to another service's topic"
        assert writes == set(svc.publishes) | {dlq_of(t) for t in svc.consumes}
        assert reads == set(svc.consumes)
        assert groups == ({svc.group} if svc.group else set())
        assert (writes | reads) <= topics
        for acl in acls:
            assert not {"All", "Alter", "Delete", "Create", "AlterConfigs", "ClusterAction"} & set(acl["operations"])
        env = env_of(prod, service)
        assert env["KAFKA_SASL_USERNAME"] == service
        [secret] = [e for e in named(prod, "Deployment", service)["spec"]["template"]["spec"]["containers"][0]["env"]
                    if e["name"] == "KAFKA_SASL_PASSWORD"]
        assert secret["valueFrom"]["secretKeyRef"] == {"name": service, "key": "password"}


@each_overlay
def test_each_service_reaches_only_its_own_database_through_a_session_pooler(
    overlay: str, rendered: dict[str, list[Doc]]
) -> None:
    docs = rendered[overlay]
    for service in SERVICES:
        svc = gen.load_service(service)
        url = urlparse(env_of(docs, service)["DATABASE_URL"])
        assert url.password == "$(DB_PASSWORD)", "the password is a Secret, expanded by the kubelet"
        assert url.hostname == svc.pooler and url.path == f"/{svc.database}"
        pooler = named(docs, "Pooler", svc.pooler)["spec"]
        assert pooler["cluster"]["name"] == svc.db_cluster
        assert pooler["type"] == "rw"
        # LISTEN/NOTIFY and session advisory locks need session pooling
        assert pooler["pgbouncer"]["poolMode"] == "session"
        assert named(docs, "Cluster", svc.db_cluster)["spec"]["bootstrap"]["initdb"]["database"] == svc.database
        egress = named(docs, "NetworkPolicy", service)["spec"]["egress"]
        to_postgres = [rule for rule in egress if {"port": 5432, "protocol": "TCP"} in rule["ports"]]
        pooler_pods = {"podSelector": {"matchLabels": {"cnpg.io/poolerName": svc.pooler}}}
        assert [r["to"] for r in to_postgres] == [[pooler_pods]]
        ingress = named(docs, "NetworkPolicy", svc.pooler)["spec"]["ingress"]
        assert ingress[0]["from"] == [{"podSelector": {"matchLabels": svc.selector()}}]


@each_overlay
def test_session_pooling_has_a_server_connection_for_every_client_connection(
    overlay: str, rendered: dict[str, list[Doc]]
) -> None:
    docs = rendered[overlay]
    for service in SERVICES:
        svc = gen.load_service(service)
        env = env_of(docs, service)
        replicas = named(docs, "ScaledObject", service)["spec"]["maxReplicaCount"]
        needed = replicas * (int(env["DB_POOL_MAX_SIZE"]) + gen.LISTEN_CONNECTIONS[service])
        params = named(docs, "Pooler", svc.pooler)["spec"]["pgbouncer"]["parameters"]
        assert int(params["default_pool_size"]) >= needed
        assert int(params["max_client_conn"]) >= needed
        max_connections = int(named(docs, "Cluster", svc.db_cluster)["spec"]["postgresql"]["parameters"][
            "max_connections"])
        assert max_connections > int(params["default_pool_size"])


@each_overlay
def test_each_service_reaches_kafka_its_idp_and_only_media_and_notifications_the_internet(
    overlay: str, rendered: dict[str, list[Doc]]
) -> None:
    for service in SERVICES:
        egress = named(rendered[overlay], "NetworkPolicy", service)["spec"]["egress"]
        selectors = [peer.get("podSelector", {}).get("matchLabels", {}) for rule in egress for peer in rule["to"]]
        assert {"strimzi.io/cluster": gen.KAFKA_CLUSTER, "strimzi.io/broker-role": "true"} in selectors
        assert {"app.kubernetes.io/name": "keycloak"} in selectors
        blocks = [(peer["ipBlock"], [p["port"] for p in rule["ports"]])
                  for rule in egress for peer in rule["to"] if "ipBlock" in peer]
        if service not in ("media", "notifications"):
            assert blocks == [], f"{service} may not leave the cluster"
            continue
        ports = {port for _, ports in blocks for port in ports}
        assert {80, 443} <= ports
        assert ports <= {80, 443, *gen.SMTP_PORTS}
        for block, _ in blocks:
            assert block["cidr"] == "0.0.0.0/0"
            assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(block["except"])
        assert all(set(rule) == {"to", "ports"} for rule in egress), "every egress rule names its ports"


@each_overlay
def test_hosts_issuer_and_namespace_agree(overlay: str, rendered: dict[str, list[Doc]]) -> None:
    docs = rendered[overlay]
    common = generated_name(docs, "ConfigMap", "komerbij-common")["data"]
    site = urlparse(common["PUBLIC_BASE_URL"]).hostname
    issuer = urlparse(common["JWT_ISSUER"])
    for ingress in of_kind(docs, "Ingress"):
        [rule] = ingress["spec"]["rules"]
        [tls] = ingress["spec"]["tls"]
        assert tls["hosts"] == [rule["host"]] and tls["secretName"]
        expected = issuer.hostname if ingress["metadata"]["name"] == "keycloak" else site
        assert rule["host"] == expected, ingress["metadata"]["name"]
    assert "example" not in site or overlay == "dev"
    [keycloak] = named(docs, "Deployment", "keycloak")["spec"]["template"]["spec"]["containers"]
    kc_hostname = {e["name"]: e.get("value") for e in keycloak["env"]}["KC_HOSTNAME"]
    assert f"{kc_hostname}/realms/{gen.REALM}" == common["JWT_ISSUER"]
    namespaces = {d["metadata"].get("namespace") for d in docs}
    assert namespaces == {gen.NAMESPACE}, "the bootstrap and JWKS addresses name this namespace"
    assert f".{gen.NAMESPACE}.svc:" in common["KAFKA_BOOTSTRAP_SERVERS"]
    assert f".{gen.NAMESPACE}.svc:" in common["JWT_JWKS_URL"]


@pytest.mark.parametrize("service", SERVICES)
def test_the_pooler_and_database_names_follow_the_service(service: str) -> None:
    svc = gen.load_service(service)
    assert (svc.db_cluster, svc.pooler, svc.database) == (f"{service}-db", f"{service}-db-pooler",
                                                          f"komerbij_{service}")
