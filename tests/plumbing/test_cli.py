"""The `komerbij` command: development tokens and the idempotent "ensure topics" step."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import jwt
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from support.infra import Infra, own_kafka

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


@pytest.mark.slow
async def test_topics_ensure_creates_the_registry_with_its_settings_and_is_idempotent(infra: Infra) -> None:
    # A broker without any of the registry's topics: the session's already has them all, so nothing would be created.
    with own_kafka(infra.workdir, topics=False) as kafka:
        first = await asyncio.to_thread(komerbij, "--bootstrap", kafka.bootstrap, "topics", "ensure")
        second = await asyncio.to_thread(komerbij, "--bootstrap", kafka.bootstrap, "topics", "ensure")
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        created = first.stdout.strip().rpartition("created now: ")[2].split(", ")
        assert sorted(created) == sorted(TOPICS)
        assert "created now: none" in second.stdout
        partitions, retention = await _described(kafka.bootstrap)
    assert partitions == {name: topic.partitions for name, topic in TOPICS.items()}
    assert retention == {name: topic.retention_ms for name, topic in TOPICS.items()}


async def _described(bootstrap: str) -> tuple[dict[str, int], dict[str, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in TOPICS])
    finally:
        await admin.close()
    retention = {}
    for response in configs:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            retention[name] = next(int(e[1]) for e in entries if e[0] == "retention.ms")
    return partitions, retention
