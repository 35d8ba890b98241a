"""What a rebuild forgets and what it keeps: rows whose events the topics still hold are made again by the replay;
a row whose latest event retention has deleted is kept (no event left could replace it); the consumer's inbox goes,
another consumer's stays. And the command itself, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
from support.infra import Infra, run_sync
from support.kafka import start_group_at_end
from support.services import settings_env

from komerbij.dashboard.adapters import model
from komerbij.dashboard.app import SPEC
from komerbij.dashboard.domain.entities import OrderRow, SignupRow, Version
from komerbij.dashboard.settings import Settings
from komerbij.runtime.service import migrate_only

TOPICS = ["materials.orders", "media.mentions", "registration.activities", "registration.signups"]
WHEN = datetime(2027, 9, 1, tzinfo=UTC)


async def test_a_rebuild_forgets_what_the_topics_can_give_back_and_keeps_what_retention_took(infra: Infra) -> None:
    dsn = infra.new_database("dashboard_rebuild")
    await migrate_only(SPEC, Settings(database_url=dsn, kafka_bootstrap_servers=infra.kafka_bootstrap,
                                      jwt_secret="x" * 40))
    conn = await asyncpg.connect(dsn)
    try:
        await model.apply(conn, [
            (SignupRow("s-expired", "a", "confirmed", 2), Version(1, WHEN, 0, 40)),  # before partition 0's start
            (SignupRow("s-held", "a", "confirmed", 3), Version(1, WHEN, 0, 100)),  # at the start: still held
            (SignupRow("s-other-partition", "b", "waitlisted", 1), Version(0, WHEN, 1, 5)),
            (OrderRow("o-expired", "GM0363", 2027, "delivered", 12), Version(4, WHEN, 2, 7)),
            (OrderRow("o-held", "GM0363", 2027, "placed", 1), Version(0, WHEN, 2, 9)),
        ])
        await conn.executemany("INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, 't')",
                               [("dashboard", "e1"), ("dashboard", "e2"), ("someone-else", "e1")])
        starts = {"registration.signups": {0: 100, 1: 0}, "materials.orders": {2: 8}}
        async with conn.transaction():
            forgotten = await model.forget(conn, "dashboard", starts)
        assert forgotten == 3
        assert {r["signup_id"] for r in await conn.fetch("SELECT signup_id FROM signups")} == {"s-expired"}
        assert {r["order_id"] for r in await conn.fetch("SELECT order_id FROM orders")} == {"o-expired"}
        assert [tuple(r) for r in await conn.fetch("SELECT consumer, event_id FROM inbox")] == [("someone-else", "e1")]
        async with conn.transaction():
            assert await model.forget(conn, "dashboard", None) == 2  # --from-scratch: the kept ones too
        assert await model.row_counts(conn) == {"activities": 0, "signups": 0, "orders": 0, "mentions": 0}
    finally:
        await conn.close()


def test_the_rebuild_command_resets_the_group_and_says_what_it_did(infra: Infra) -> None:
    group = f"dashboard-cli-{uuid.uuid4().hex[:8]}"
    run_sync(start_group_at_end(infra.kafka_bootstrap, group, TOPICS))
    env = {**os.environ, **settings_env(infra, infra.new_database("dashboard_cli"), CONSUMER_GROUP=group)}
    done = subprocess.run([sys.executable, "-m", "komerbij.dashboard", "rebuild"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "read model reset: 0 rows will be made again from the topics" in done.stdout
    assert "registration.signups[0]@" in done.stdout and "Start the dashboard to replay." in done.stdout
