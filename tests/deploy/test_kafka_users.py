"""The KafkaUsers of deploy/k8s against a real broker that enforces them: SCRAM-SHA-512 logins and the ACLs exactly as
generated. Each service's own clients (configured only through the KAFKA_* variables the Deployments set) can do its
work — produce its events, consume as its group, dead-letter what it cannot read — and nothing else.

The broker is one of our own (Kafka from the Maven jars, as everywhere in the tests) with a SASL listener for the
users and a plain one that only the test's admin steps use (topics, ACLs, reading back). TLS is left out here: it is
the same client settings with KAFKA_SECURITY_PROTOCOL=SASL_SSL and the cluster CA (test_config checks those).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from aiokafka.protocol.admin import CreateAclsRequest
from aiokafka.structs import RecordMetadata
from support.infra import Infra, run_sync
from support.kafka import read_topic, start_group_at_end
from support.services import JWT_SECRET, ServiceProcess

from komerbij.contracts.topics import TOPICS, dlq_of
from komerbij.devtools import k8s_manifests as gen
from komerbij.devtools.kafka import KafkaServer, ensure_jars
from komerbij.devtools.processes import die_with_parent, free_port, repo_root, wait_until
from komerbij.runtime.deadletters import replay
from komerbij.runtime.kafka import ensure_topics, make_producer

GENERATED = repo_root() / "deploy" / "k8s" / "base" / "generated"
# Kafka's protocol codes (org.apache.kafka.common.acl / resource)
RESOURCE = {"topic": 2, "group": 3, "cluster": 4, "transactionalId": 5}
PATTERN = {"literal": 3, "prefix": 4}
OPERATION = {"Read": 3, "Write": 4, "Create": 5, "Delete": 6, "Alter": 7, "Describe": 8, "ClusterAction": 9,
             "DescribeConfigs": 10, "AlterConfigs": 11, "IdempotentWrite": 12}
ALLOW = 3


def committed_users() -> dict[str, dict[str, Any]]:
    """The KafkaUsers as committed (what a cluster gets), by name."""
    users = {}
    for path in GENERATED.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "KafkaUser":
                users[doc["metadata"]["name"]] = doc
    return users


class ScramKafka(KafkaServer):
    """Our test broker with SCRAM-SHA-512 logins on its client port and ACLs enforced (StandardAuthorizer)."""

    def __init__(self, data_dir: Path, passwords: dict[str, str]) -> None:
        super().__init__(data_dir, port=free_port(), controller_port=free_port(), heap="384m")
        self.internal_port = free_port()
        self.passwords = passwords

    @property
    def internal(self) -> str:
        return f"127.0.0.1:{self.internal_port}"

    def _write_config(self) -> Path:
        config = super()._write_config()
        props = dict(line.split("=", 1) for line in config.read_text().splitlines() if line)
        props.update({
            "listeners": f"CLIENT://127.0.0.1:{self.port},INTERNAL://127.0.0.1:{self.internal_port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{self.port},INTERNAL://127.0.0.1:{self.internal_port}",
            "listener.security.protocol.map": "CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "INTERNAL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.client.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # the unauthenticated listeners (controller, and the test's own admin steps) are the super user
            "super.users": "User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        })
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return config

    def start(self, *, timeout: float = 120.0) -> None:
        jars = ensure_jars()
        config = self._write_config()
        scram = [arg for name, password in self.passwords.items()
                 for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")]
        subprocess.run(
            self._java(jars, "kafka.tools.StorageTool", "format", f"--cluster-id={secrets.token_urlsafe(16)[:22]}",
                       "-c", str(config), "--standalone", *scram),
            check=True, stdout=subprocess.DEVNULL,
        )
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        out = open(self.data_dir / "logs" / "stdout.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(self._java(jars, "kafka.Kafka", str(config)), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
        wait_until(self._ready, timeout=timeout, what=f"SASL Kafka on port {self.port}")


async def create_acls(bootstrap: str, user: dict[str, Any]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-acls")
    await admin.start()
    try:
        principal = f"User:{user['metadata']['name']}"
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            for operation in acl["operations"]:
                request = CreateAclsRequest(RESOURCE[resource["type"]], resource["name"],
                                            PATTERN[resource.get("patternType", "literal")], principal,
                                            acl.get("host", "*"), OPERATION[operation], ALLOW)
                response = await admin._send_request(request)
                errors = [(code, message) for code, message in response.creation_responses if code]
                assert not errors, f"{principal} {operation} {resource}: {errors}"
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def users() -> dict[str, dict[str, Any]]:
    return committed_users()


@pytest.fixture(scope="module")
def passwords(users: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: secrets.token_hex(16) for name in users}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, users: dict[str, dict[str, Any]],
           passwords: dict[str, str]) -> Iterator[ScramKafka]:
    server = ScramKafka(tmp_path_factory.mktemp("scram-kafka"), passwords)
    server.start()
    try:
        run_sync(ensure_topics(server.internal))
        for user in users.values():
            run_sync(create_acls(server.internal, user))
        yield server
    finally:
        server.stop()


@contextmanager
def as_user(name: str, password: str) -> Iterator[None]:
    """The environment a Deployment gives its container (KAFKA_* as in deploy/k8s), without TLS."""
    with mock.patch.dict(os.environ, {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                                      "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                                      "KAFKA_SASL_USERNAME": name, "KAFKA_SASL_PASSWORD": password}):
        yield


async def send(bootstrap: str, topic: str, value: bytes = b"{}") -> RecordMetadata:
    producer = make_producer(bootstrap, client_id="test-acl-producer")
    try:
        await producer.start()
        return await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


def test_every_service_and_the_operators_have_a_user(users: dict[str, dict[str, Any]]) -> None:
    assert set(users) == {*gen.SERVICES, "komerbij-ops"}


@pytest.mark.parametrize("service", gen.SERVICES)
def test_a_service_writes_its_own_topics_and_no_other(service: str, broker: ScramKafka,
                                                      passwords: dict[str, str]) -> None:
    svc = gen.load_service(service)
    with as_user(service, passwords[service]):
        for topic in svc.writes:
            run_sync(send(broker.bootstrap, topic))  # idempotent producer, acks=all: as the outbox relay sends
        others = sorted(set(TOPICS) - set(svc.writes))
        assert others
        for topic in others:
            with pytest.raises(TopicAuthorizationFailedError):
                run_sync(send(broker.bootstrap, topic))


async def _consume(bootstrap: str, topic: str, group: str) -> None:
    from komerbij.runtime.kafka import client_settings

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", **client_settings().client_options())
    try:
        await consumer.start()
        consumer.subscribe([topic])
        await consumer.getmany(timeout_ms=3000)
        if not consumer.assignment():  # a topic it may not even describe: the broker showed it no partition
            raise TopicAuthorizationFailedError(f"no partition of {topic} assigned")
        await consumer.commit({tp: await consumer.position(tp) for tp in consumer.assignment()})
    finally:
        await consumer.stop()


@pytest.mark.parametrize("service", gen.SERVICES)
def test_a_service_reads_only_what_it_consumes_and_only_as_its_group(service: str, broker: ScramKafka,
                                                                      passwords: dict[str, str]) -> None:
    svc = gen.load_service(service)
    with as_user(service, passwords[service]):
        for topic in svc.consumes:
            run_sync(_consume(broker.bootstrap, topic, str(svc.group)))
        not_consumed = sorted(t for t in TOPICS if t not in svc.consumes)[:3]
        for topic in not_consumed:
            with pytest.raises(KafkaError):
                run_sync(asyncio.wait_for(_consume(broker.bootstrap, topic, str(svc.group or service)), 30))
        if svc.consumes:
            with pytest.raises(KafkaError):  # not as another group
                run_sync(asyncio.wait_for(_consume(broker.bootstrap, svc.consumes[0], "someone-else"), 30))


def test_a_wrong_password_is_refused(broker: ScramKafka) -> None:
    with as_user("registration", "not-the-password"), pytest.raises(KafkaError):
        run_sync(asyncio.wait_for(send(broker.bootstrap, "registration.signups"), 30))


def test_notifications_runs_as_its_kafka_user(broker: ScramKafka, passwords: dict[str, str], infra: Infra,
                                              tmp_path: Path) -> None:
    """The real service process with only its user's rights: ready (Kafka reachable), consumes as its group, and
    dead-letters an unreadable message; then the operators' user replays it."""
    env = {
        "DATABASE_URL": infra.new_database("kafka_users"),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_USERNAME": "notifications",
        "KAFKA_SASL_PASSWORD": passwords["notifications"],
        "JWT_SECRET": JWT_SECRET,
        "UNSUBSCRIBE_SECRET": "unsubscribe-key-for-komerbij-tests-only",
        "RETRY_MAX_ATTEMPTS": "1",
        "METRICS_REFRESH_SECONDS": "1",
    }
    # The module's other tests write `{}` to these topics (as each service may); the service starts after them, so the
    # one record it cannot read is this test's.
    run_sync(start_group_at_end(broker.internal, "notifications", list(gen.load_service("notifications").consumes)))
    service = ServiceProcess("komerbij.notifications", env, tmp_path).start(timeout=120)
    try:
        with as_user("registration", passwords["registration"]):
            poison = run_sync(send(broker.bootstrap, "registration.signups", b"not json at all"))
        dead = run_sync(read_topic(broker.internal, dlq_of("registration.signups"),
                                   until=lambda rs: any(r.value == b"not json at all" for r in rs), timeout=90))
        assert dead
        # The dead letter is written before the offset is committed: wait for the commit, do not race it.
        where = TopicPartition("registration.signups", poison.partition)
        wait_until(lambda: run_sync(_committed(broker.internal, "notifications")).get(where, -1) > poison.offset,
                   timeout=60, what="the notifications group committed past the poison record")
    finally:
        service.terminate()
    assert '"service stopped"' in service.logs(), service.logs()[-3000:]
    with as_user("komerbij-ops", passwords["komerbij-ops"]):
        report = run_sync(replay(broker.bootstrap, "registration.signups"))
    # The operators' user reads the dead letters; a record without CloudEvents headers is beyond repair, not sent back.
    ours = [letter for letter in report.skipped if letter.group == "notifications"]
    assert [letter.error_class for letter in ours] == ["MissingCloudEventsHeaders"], report


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()
