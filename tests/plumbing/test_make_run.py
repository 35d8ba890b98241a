"""`make run` as a new user meets it: everything ready, data kept across runs, nothing left behind after Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from support.infra import make_workdir, run_sync

from komerbij.devtools.processes import free_port


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "komerbij.devtools.cli", "run"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 240, times: int = 1) -> None:
    """Until `text` is in the log `times` times (the log is shared by both runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text().count(text) >= times:
            return
        assert proc.poll() is None, log.read_text()
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} ({times}×) within {timeout}s:\n{log.read_text()}")


def leftovers(run_dir: Path, ports: list[int]) -> list[str]:
    found = []
    for p in psutil.process_iter(["cmdline", "pid"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if str(run_dir) in cmd or any(f"PORT={port}" in cmd for port in ports):
            found.append(f"{p.info['pid']}: {cmd[:120]}")
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port in ports:
            found.append(f"listening on {conn.laddr.port}")
    return found


@pytest.mark.slow
@pytest.mark.timeout(600)  # two full starts, Keycloak's JVM among them, on two cores
def test_make_run_starts_everything_keeps_data_and_leaves_nothing_behind() -> None:
    workdir = make_workdir()
    run_dir = workdir / "run"
    ports = {name: free_port() for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "POSTGRES_PORT", "SMTP_PORT",
                                            "REGISTRATION_PORT", "MATERIALS_PORT", "MEDIA_PORT",
                                            "NOTIFICATIONS_PORT", "PROMETHEUS_PORT", "FRONTDOOR_PORT",
                                            "KEYCLOAK_PORT", "KEYCLOAK_MANAGEMENT_PORT")}
    # As on a fresh machine: not the test run's own broker and database, which the suite may have been given.
    outer = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env = {**outer, "KOMERBIJ_RUN_DIR": str(run_dir), **{k: str(v) for k, v in ports.items()}}
    service_ports = [ports[f"{s}_PORT"] for s in ("REGISTRATION", "MATERIALS", "MEDIA", "NOTIFICATIONS")]
    log = workdir / "run.log"

    first = start(env, log)
    try:
        wait_for(log, "ready in", first)
        for port in service_ports:
            assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
            assert "komerbij_http_requests_total" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        front_door = f"http://127.0.0.1:{ports['FRONTDOOR_PORT']}"
        assert f"komerbij is running at {front_door}" in log.read_text()  # the pages' address comes first
        assert 'lang="nl"' in httpx.get(f"{front_door}/", timeout=10).text
        assert httpx.get(f"{front_door}/api/media/healthz", timeout=10).json()["service"] == "media"
        dsn = f"postgresql://postgres@127.0.0.1:{ports['POSTGRES_PORT']}/komerbij_materials"
        run_sync(_execute(dsn, "CREATE TABLE kept_across_runs (x int); INSERT INTO kept_across_runs VALUES (1)"))
    finally:
        first.send_signal(signal.SIGINT)  # what Ctrl-C sends
        first.wait(timeout=120)
    assert "komerbij: stopped" in log.read_text()
    assert leftovers(run_dir, list(ports.values())) == []
    assert list((run_dir / "logs").glob("*.log"))

    second = start(env, log)
    try:
        wait_for(log, "topics ensured (0 created)", second)
        wait_for(log, "ready in", second, times=2)
        assert run_sync(_fetchval(dsn, "SELECT x FROM kept_across_runs")) == 1
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=120)
    assert leftovers(run_dir, list(ports.values())) == []


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute(sql)
    await conn.close()


async def _fetchval(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
