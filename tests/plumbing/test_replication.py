"""Replication from configuration: every topic's replicas, `min.insync.replicas` and partitions come from
KAFKA_REPLICATION_FACTOR / KAFKA_MIN_INSYNC_REPLICAS / KAFKA_TOPIC_PARTITIONS (production and compose: 3 and 2;
`make run` and the tests: one broker, 1 and 1), and on three brokers an acknowledged write survives losing one."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, NotEnoughReplicasError
from pydantic import ValidationError
from support.infra import Infra, make_workdir
from support.kafka import read_topic
from support.services import eventually

from komerbij.contracts import TOPICS, Topic
from komerbij.devtools.kafka import KafkaServer, ensure_jars
from komerbij.devtools.processes import die_with_parent, free_port, wait_until
from komerbij.runtime.kafka import TooFewBrokers, TopicLayout, ensure_topics, make_producer
from komerbij.runtime.settings import TopicSettings, describe_error

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
BROKERS = ["kafka", "kafka-2", "kafka-3"]
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a value set on the topic itself
_SETTINGS_VARIABLES = ("KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS", "KAFKA_TOPIC_PARTITIONS")


def komerbij(bootstrap: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARIABLES}
    return subprocess.run([sys.executable, "-m", "komerbij.devtools.cli", "--bootstrap", bootstrap, "topics",
                           "ensure"], capture_output=True, text=True, timeout=120, env={**clean, **env})


async def describe(bootstrap: str, names: list[str]) -> dict[str, dict]:
    """Per topic: partitions, the smallest replica count, min.insync.replicas and where that value comes from."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async def every_partition_known() -> dict[str, list]:  # a new topic's partitions reach metadata shortly after
            found = {t["topic"]: t["partitions"] for t in await admin.describe_topics(names)}
            return found if all(found.get(n) for n in names) else {}

        topics = await eventually(every_partition_known)
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    insync = {resource[3]: entry for response in responses for resource in response.resources
              for entry in resource[4] if entry[0] == "min.insync.replicas"}
    return {name: {"partitions": len(parts), "replicas": min(len(p["replicas"]) for p in parts),
                   "min_insync": insync[name][1], "min_insync_source": insync[name][3]}
            for name, parts in topics.items()}


def test_topic_settings_are_production_values_unless_told_and_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in _SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    default = TopicSettings()
    assert (default.kafka_replication_factor, default.kafka_min_insync_replicas, default.partitions) == (3, 2, {})
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "media.mentions=6, registration.signups=12")
    assert TopicSettings().partitions == {"media.mentions": 6, "registration.signups": 12}
    for variable, value, says in (
        ("KAFKA_TOPIC_PARTITIONS", "media.mentionz=6", "not a topic of the registry"),
        ("KAFKA_TOPIC_PARTITIONS", "media.mentions=0", "at least 1"),
        ("KAFKA_MIN_INSYNC_REPLICAS", "4", "no write could ever be acknowledged"),
    ):
        with monkeypatch.context() as patched:
            patched.setenv(variable, value)
            with pytest.raises(ValidationError) as raised:
                TopicSettings()
        assert describe_error(raised.value).startswith(f"configuration error: {variable}: ")
        assert says in describe_error(raised.value)


async def test_the_layout_reaches_create_topics_and_more_replicas_than_brokers_is_refused(infra: Infra) -> None:
    name = f"replication-{uuid.uuid4().hex[:8]}"
    layout = TopicLayout(replication_factor=1, min_insync_replicas=1, partitions={name: 4})
    assert await ensure_topics(infra.kafka_bootstrap, [Topic(name, "id", 1, 86_400_000)], layout) == [name]
    described = (await describe(infra.kafka_bootstrap, [name]))[name]
    assert (described["partitions"], described["replicas"], described["min_insync"]) == (4, 1, "1")
    assert described["min_insync_source"] == DYNAMIC_TOPIC_CONFIG  # set on the topic, not the broker's default
    with pytest.raises(TooFewBrokers, match="KAFKA_REPLICATION_FACTOR is 3 but the cluster has 1 broker"):
        await ensure_topics(infra.kafka_bootstrap, [Topic(f"{name}-3", "id", 1, 86_400_000)], TopicLayout(3, 2),
                            broker_wait=0)


def test_topics_ensure_reads_the_layout_from_the_environment_and_reports_existing_topics_that_differ(
    infra: Infra,
) -> None:
    # The tests' broker: the registry's topics exist with 1 replica and min.insync.replicas 1.
    single = komerbij(infra.kafka_bootstrap, KAFKA_REPLICATION_FACTOR="1", KAFKA_MIN_INSYNC_REPLICAS="1")
    assert single.returncode == 0, single.stderr
    assert "replication factor 1, min.insync.replicas 1" in single.stdout and "warning" not in single.stderr
    production = komerbij(infra.kafka_bootstrap)  # nothing set: production's 3 and 2
    assert production.returncode == 0, production.stderr
    assert "created now: none (replication factor 3, min.insync.replicas 2)" in production.stdout
    for name in TOPICS:
        assert f"warning: {name}: replication factor 1, configured 3" in production.stderr
        assert f"warning: {name}: min.insync.replicas 1, configured 2" in production.stderr


def test_compose_runs_three_brokers_and_creates_topics_with_three_replicas_two_in_sync() -> None:
    services = COMPOSE["services"]
    envs = [services[b]["environment"] for b in BROKERS]
    assert [e["KAFKA_NODE_ID"] for e in envs] == [1, 2, 3]
    assert {e["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs} == {"1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert len({e["CLUSTER_ID"] for e in envs}) == 1
    for env in envs:  # Kafka's own topics (consumer offsets above all) are replicated the same way
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 3
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 2
        assert (env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == (3, 2)
    host_ports = sorted(p for b in BROKERS for p in services[b]["ports"])
    assert host_ports == ["127.0.0.1:9092:9092", "127.0.0.1:9094:9092", "127.0.0.1:9095:9092"]
    every_broker = ",".join(f"{b}:19092" for b in BROKERS)
    topics = services["topics"]
    assert topics["environment"] == {"KAFKA_REPLICATION_FACTOR": 3, "KAFKA_MIN_INSYNC_REPLICAS": 2}
    assert topics["command"][:2] == ["--bootstrap", every_broker]
    for name in ("registration", "materials", "media", "notifications", "topics"):
        assert set(BROKERS) <= set(services[name]["depends_on"]), name
    for name in ("registration", "materials", "media", "notifications"):
        assert services[name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == every_broker


class BrokerNode(KafkaServer):
    """A broker-only node joining the cluster whose controller is `controller` (a combined node of KafkaServer)."""

    def __init__(self, data_dir: Path, *, node_id: int, controller: KafkaServer) -> None:
        super().__init__(data_dir, port=free_port(), controller_port=controller.controller_port)
        self.node_id = node_id
        meta = (controller.data_dir / "kraft" / "meta.properties").read_text().splitlines()
        self.cluster_id = next(line.split("=", 1)[1] for line in meta if line.startswith("cluster.id="))

    def _write_config(self) -> Path:
        config = super()._write_config()
        props = dict(line.split("=", 1) for line in config.read_text().splitlines())
        props.update({"process.roles": "broker", "node.id": str(self.node_id),
                      "listeners": f"PLAINTEXT://127.0.0.1:{self.port}"})
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return config

    def launch(self) -> None:
        """Format with the controller's cluster id and start the JVM without waiting for it, so that nodes start
        side by side. From the calling thread: the JVM gets a parent-death signal, which fires when the thread that
        started it ends (a pool's worker thread would take the broker with it)."""
        jars, config = ensure_jars(), self._write_config()
        if not (self.data_dir / "kraft" / "meta.properties").exists():
            subprocess.run(self._java(jars, "kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id}",
                                      "-c", str(config)), check=True, stdout=subprocess.DEVNULL)
        out = open(self.data_dir / "logs" / "stdout.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(self._java(jars, "kafka.Kafka", str(config)), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_until(self._ready, timeout=timeout, what=f"Kafka broker {self.node_id} on port {self.port}")


async def leader_of(bootstrap: str, topic: str, broker: int) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return next(p["partition"] for p in described["partitions"] if p["leader"] == broker)


@pytest.mark.slow
async def test_on_three_brokers_topics_get_three_replicas_and_an_acknowledged_write_survives_its_leader() -> None:
    workdir = make_workdir()  # not tmp_path: several pytest sessions on this machine rotate its base folder
    first = KafkaServer(workdir / "node-1", port=free_port(), controller_port=free_port())
    first.start()  # here, not in a worker thread (see BrokerNode.launch)
    others = [BrokerNode(workdir / f"node-{n}", node_id=n, controller=first) for n in (2, 3)]
    try:
        for node in others:
            node.launch()
        for node in others:
            await asyncio.to_thread(node.wait_ready)
        bootstrap = first.bootstrap
        ensured = await asyncio.to_thread(komerbij, bootstrap, KAFKA_REPLICATION_FACTOR="3",
                                          KAFKA_MIN_INSYNC_REPLICAS="2", KAFKA_TOPIC_PARTITIONS="media.mentions=6")
        assert ensured.returncode == 0, ensured.stderr
        assert "warning" not in ensured.stderr, ensured.stderr
        described = await describe(bootstrap, list(TOPICS))
        assert {n: (d["replicas"], d["min_insync"]) for n, d in described.items()} == dict.fromkeys(TOPICS, (3, "2"))
        assert described["media.mentions"]["partitions"] == 6

        # A write acknowledged (acks=all: on every replica in sync) survives a crash of the broker that took it.
        topic = "registration.activities"
        partition = await leader_of(bootstrap, topic, broker=2)
        producer = make_producer(bootstrap, client_id="replication-test")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"acknowledged", key=b"k", partition=partition)
        finally:
            await producer.stop()
        await asyncio.to_thread(others[0].kill)
        kept = await _read_after_a_crash(bootstrap, topic, until=lambda rs: any(r.value == b"acknowledged" for r in rs))
        assert [r.partition for r in kept if r.value == b"acknowledged"] == [partition]

        await asyncio.to_thread(others[1].stop)
        # With one replica left in sync, acks=all refuses the write instead of trusting a single copy.
        lone = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=3000)
        await lone.start()
        try:
            with pytest.raises(NotEnoughReplicasError):
                await lone.send_and_wait(topic, b"refused", key=b"k", partition=partition)
        finally:
            await lone.stop()
    finally:
        for node in (*others, first):
            await asyncio.to_thread(node.stop)
        shutil.rmtree(workdir, ignore_errors=True)


async def _read_after_a_crash(bootstrap: str, topic: str, until: Any) -> list[Any]:
    """Read the topic once the cluster has noticed the crash: until then a client's metadata may still send it to the
    dead broker (NodeNotReady), which says nothing about the data. Every attempt, and the whole, has a deadline."""
    deadline = asyncio.get_running_loop().time() + 90
    while True:
        try:
            return await read_topic(bootstrap, topic, until=until, timeout=90)
        except (NodeNotReadyError, KafkaConnectionError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)
