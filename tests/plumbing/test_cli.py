"""The `komerbij` command: development tokens and the idempotent "ensure topics" step."""

from __future__ import annotations

import subprocess
import sys

import jwt
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from support.infra import Infra

from komerbij.contracts import TOPICS
from komerbij.devtools.cli import DEV_SECRET


def komerbij(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "komerbij.devtools.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_token_prints_a_development_token_services_accept() -> None:
    result = komerbij("token", "--role", "organiser", "--municipality", "GM0363")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), DEV_SECRET, algorithms=["HS256"])
    assert (claims["role"], claims["municipality"]) == ("organiser", "GM0363")
    assert komerbij("token", "--role", "emperor").returncode == 2


async def test_topics_ensure_creates_the_registry_with_its_settings_and_is_idempotent(infra: Infra) -> None:
    first = komerbij("--bootstrap", infra.kafka_bootstrap, "topics", "ensure")
    second = komerbij("--bootstrap", infra.kafka_bootstrap, "topics", "ensure")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "created now: none" in second.stdout
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in TOPICS])
    finally:
        await admin.close()
    assert partitions == {name: topic.partitions for name, topic in TOPICS.items()}
    retention = {}
    for response in configs:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            retention[name] = next(int(e[1]) for e in entries if e[0] == "retention.ms")
    assert retention == {name: topic.retention_ms for name, topic in TOPICS.items()}
