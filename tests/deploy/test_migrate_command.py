"""The migration step of a deployment: `python -m komerbij.<service> migrate` applies the schema and exits, so a
Deployment's init container can run it before the new version serves (deploy/k8s: the `migrate` init container).
Against a real PostgreSQL; Kafka is deliberately unreachable, since migrating must not need it."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources

import pytest
from support.infra import Infra, fetch, run_sync

from komerbij.devtools import k8s_manifests as gen
from komerbij.devtools.processes import free_port

TIMEOUT = 120


def _env(dsn: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "JWT_SECRET": "migrate-test-secret",
        "PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }


def _migration_files(package: str) -> set[str]:
    return {entry.name for entry in resources.files(package).iterdir() if entry.name.endswith(".sql")}


@pytest.mark.parametrize("service", gen.SERVICES)
def test_migrate_applies_the_schema_and_exits(service: str, infra: Infra) -> None:
    dsn = infra.new_database(f"migrate_{service}")
    first = subprocess.run([sys.executable, "-m", f"komerbij.{service}", "migrate"], env=_env(dsn),
                           capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    rows = run_sync(fetch(dsn, "SELECT component, name, applied_at FROM schema_migrations"))
    assert {(r["component"], r["name"]) for r in rows} == (
        {("runtime", n) for n in _migration_files("komerbij.runtime.migrations")}
        | {(service, n) for n in _migration_files(f"komerbij.{service}.migrations")}
    )
    assert run_sync(fetch(dsn, "SELECT to_regclass('outbox') IS NOT NULL AS there"))[0]["there"]



def test_replicas_migrating_at_once_apply_each_migration_once(infra: Infra) -> None:
    """Two new pods' init containers start together: the advisory lock lets one apply, the others find it done."""
    dsn = infra.new_database("migrate_race")
    command = [sys.executable, "-m", "komerbij.registration", "migrate"]
    procs = [subprocess.Popen(command, env=_env(dsn), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=TIMEOUT)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    rows = run_sync(fetch(dsn, "SELECT component, version, count(*) AS n FROM schema_migrations "
                               "GROUP BY component, version"))
    assert rows and all(r["n"] == 1 for r in rows)


def test_an_unknown_argument_is_refused(infra: Infra) -> None:
    dsn = infra.new_database("migrate_usage")
    result = subprocess.run([sys.executable, "-m", "komerbij.media", "migrat"], env=_env(dsn),
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 2
    assert "usage: python -m komerbij.media [migrate]" in result.stderr
    assert run_sync(fetch(dsn, "SELECT to_regclass('schema_migrations') IS NULL AS empty"))[0]["empty"]
