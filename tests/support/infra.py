"""Real Kafka and PostgreSQL for the test run.

Order of preference:
1. `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` are set: use those (a database per test is created through them).
2. A Docker engine answers: testcontainers starts `apache/kafka` and `postgres` (the path users with Docker take).
3. Otherwise start our own: Kafka from the Maven jars and PostgreSQL from the machine's binaries, on free ports and
   in a temporary folder, so a running `make run` is never touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg

from komerbij.devtools.kafka import KafkaServer
from komerbij.devtools.postgres import PostgresServer, ensure_database
from komerbij.devtools.processes import free_port
from komerbij.runtime.kafka import ensure_topics


@dataclass
class Infra:
    kafka_bootstrap: str
    admin_dsn: str
    kafka: KafkaServer | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its DSN."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        run_sync(ensure_database(self.admin_dsn, name))
        parts = urlparse(self.admin_dsn)
        return urlunparse(parts._replace(path=f"/{name}"))


def run_sync(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, also when called inside a running event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def make_workdir() -> Path:
    base = Path(tempfile.mkdtemp(prefix="komerbij-test-"))
    base.chmod(0o755)  # the postgres user must be able to reach its data dir below
    return base


@contextmanager
def start_infra() -> Iterator[Infra]:
    workdir = make_workdir()
    with ExitStack() as stack:
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"):
            infra = Infra(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"], workdir=workdir)
        elif _docker_answers():  # pragma: no cover - no Docker engine on the project's machines
            from testcontainers.kafka import KafkaContainer
            from testcontainers.postgres import PostgresContainer

            kafka = stack.enter_context(KafkaContainer("apache/kafka:4.4.0").with_kraft())
            pg = stack.enter_context(PostgresContainer("postgres:15", driver=None))
            infra = Infra(kafka.get_bootstrap_server(), pg.get_connection_url(), workdir=workdir)
        else:
            pg = PostgresServer(workdir / "pg", port=free_port(), fast=True)
            kafka = KafkaServer(workdir / "kafka", port=free_port(), controller_port=free_port())
            pg.start()
            stack.callback(pg.stop)
            kafka.start()
            stack.callback(kafka.stop)
            infra = Infra(kafka.bootstrap, pg.dsn(), kafka=kafka, workdir=workdir)
        asyncio.run(ensure_topics(infra.kafka_bootstrap))
        yield infra
    shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def own_kafka(workdir: Path) -> Iterator[KafkaServer]:
    """A broker of the test's own, for tests that stop and restart it."""
    server = KafkaServer(workdir / f"kafka-{uuid.uuid4().hex[:6]}", port=free_port(), controller_port=free_port())
    server.start()
    try:
        run_sync(ensure_topics(server.bootstrap))
        yield server
    finally:
        server.stop()


async def fetch(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()
