"""The transactional outbox: nothing lost while Kafka is away, order per key, and a crash after publish is harmless."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import asyncpg
import httpx
import pytest
from probe import spec
from support.drain import drain
from support.infra import Infra, fetch, own_kafka
from support.kafka import data, header, read_topic, start_group_at_end
from support.services import ServiceProcess, eventually, running, settings_env

from komerbij.contracts.events.materials import StockAdjusted
from komerbij.runtime import db
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.outbox import OutboxRelay, add_event
from komerbij.runtime.service import UnitOfWork
from komerbij.runtime.wakeup import Wakeup

TOPIC = "materials.stock"


def first_occurrences(records: list, run: str) -> dict[str, list[int]]:
    """Per key, the `n` values in the order their first copy arrived (duplicates from republishing ignored)."""
    seen: set[str] = set()
    order: dict[str, list[int]] = defaultdict(list)
    for r in records:
        body = data(r)
        if body["reason"] != run or header(r, "ce_id") in seen:
            continue
        seen.add(header(r, "ce_id"))
        order[body["sku"]].append(body["stock_on_hand"])
    return order


def of_run(run: str):
    return lambda r: data(r).get("reason") == run


@pytest.mark.slow
async def test_events_committed_while_kafka_is_down_all_arrive_in_order_per_key(infra: Infra) -> None:
    run = f"down-{uuid.uuid4().hex[:6]}"
    with own_kafka(infra.workdir) as kafka:
        env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=f"g-{run}",
                           KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap)
        async with running(spec(env["PROBE_GROUP"]), env) as svc:
            await asyncio.to_thread(kafka.stop)
            for i in range(100):
                r = await svc.client.post("/probe/adjust", json={"key": f"key-{i % 5}", "n": i, "run": run})
                assert r.status_code == 201
            unsent = await fetch(env["DATABASE_URL"], "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
            assert unsent[0]["n"] == 100  # nothing could be published, nothing was dropped
            await asyncio.to_thread(kafka.start)
            records = await read_topic(
                kafka.bootstrap, TOPIC, keep=of_run(run),
                until=lambda rs: sum(map(len, first_occurrences(rs, run).values())) >= 100, timeout=90,
            )
    order = first_occurrences(records, run)
    assert {k: len(v) for k, v in order.items()} == {f"key-{k}": 20 for k in range(5)}
    for key, values in order.items():
        assert values == sorted(values), key


async def test_two_relays_on_one_outbox_keep_order_per_key(infra: Infra) -> None:
    run = f"replicas-{uuid.uuid4().hex[:6]}"
    dsn = infra.new_database("outbox")
    pool = await db.create_pool(dsn)
    await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations"))
    relays = [
        OutboxRelay(pool, dsn=dsn, bootstrap=infra.kafka_bootstrap, service="probe", metrics=Metrics("probe"),
                    batch_size=7, poll_interval=0.05)
        for _ in range(2)
    ]
    try:
        for relay in relays:
            await relay.start()
        for i in range(300):
            async with pool.acquire() as conn, conn.transaction():
                await add_event(conn, StockAdjusted(sku=f"k{i % 4}", name="probe", stock_on_hand=i, reserved=0,
                                                    delta=1, reason=run), source="/tests")
        records = await read_topic(
            infra.kafka_bootstrap, TOPIC, keep=of_run(run),
            until=lambda rs: sum(map(len, first_occurrences(rs, run).values())) >= 300,
        )
    finally:
        for relay in relays:
            await relay.stop()
        await pool.close()
    for key, values in first_occurrences(records, run).items():
        assert len(values) == 75
        assert values == sorted(values), key


async def test_relay_is_woken_by_the_commit_and_listens_again_after_losing_its_connection(infra: Infra) -> None:
    run = f"wake-{uuid.uuid4().hex[:6]}"
    dsn = infra.new_database("outbox")
    pool = await db.create_pool(dsn)
    await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations"))
    # A poll an hour away: only the NOTIFY sent at commit can make these events go out within the test.
    relay = OutboxRelay(pool, dsn=dsn, bootstrap=infra.kafka_bootstrap, service="probe", metrics=Metrics("probe"),
                        poll_interval=3600)
    idle = asyncio.Event()  # set while the relay is suspended in its wait: nothing left to do but the hour or a NOTIFY
    wakeup, real_wait = relay._wakeup, relay._wakeup.wait

    async def observed_wait(timeout: float) -> bool:
        idle.set()  # a wait with a wake-up already pending returns without suspending: nobody sees this then
        try:
            return await real_wait(timeout)
        finally:
            idle.clear()

    wakeup.wait = observed_wait  # type: ignore[method-assign]

    async def is_idle() -> bool:
        return idle.is_set()

    async def commit(n: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await add_event(conn, StockAdjusted(sku="k", name="probe", stock_on_hand=n, reserved=0, delta=1,
                                                reason=run), source="/tests")

    async def listeners() -> list[int]:
        rows = await fetch(dsn, "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = "
                                "current_database()")
        return [r["pid"] for r in rows]

    try:
        await relay.start()
        await eventually(is_idle)  # the first round (the one any start makes) is over: now it waits the hour
        await commit(1)
        await read_topic(infra.kafka_bootstrap, TOPIC, keep=of_run(run), until=lambda rs: len(rs) >= 1, timeout=15)
        [cut] = await listeners()
        await fetch(dsn, "SELECT pg_terminate_backend($1)", cut)

        async def listening_again() -> list[int]:
            pids = await listeners()
            return pids if pids and cut not in pids else []  # not the very backend just terminated

        await eventually(listening_again)  # the wait the lost connection ended is over, so `idle` is fresh
        await eventually(is_idle)  # the look a reconnect makes for what it may have missed is over too
        await commit(2)
        records = await read_topic(infra.kafka_bootstrap, TOPIC, keep=of_run(run),
                                   until=lambda rs: len(rs) >= 2, timeout=15)
    finally:
        await relay.stop()
        await pool.close()
    assert [data(r)["stock_on_hand"] for r in records] == [1, 2]


@pytest.mark.slow
async def test_relay_killed_between_publish_and_mark_sent_loses_nothing_and_applies_once(
    infra: Infra, tmp_path
) -> None:
    run = f"kill-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    dsn = infra.new_database("probe")
    env = settings_env(infra, dsn, PROBE_GROUP=group, PYTHONPATH="tests")
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    first = ServiceProcess("probe", env, tmp_path).start()
    admin = await asyncpg.connect(dsn)
    try:
        # Hold every mark-sent: the relay publishes, then hangs in this trigger until we kill it.
        await admin.execute("""
            CREATE FUNCTION hold_mark_sent() RETURNS trigger AS $$
            BEGIN PERFORM pg_sleep(600); RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER hold BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION hold_mark_sent();""")
        async with httpx.AsyncClient(base_url=first.url) as client:
            for i in range(10):
                r = await client.post("/probe/adjust", json={"key": "k", "n": i, "run": run})
                assert r.status_code == 201
        await read_topic(infra.kafka_bootstrap, TOPIC, keep=of_run(run), until=lambda rs: len(rs) >= 1)
        await eventually(lambda: admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'UPDATE outbox SET sent_at%'"))
        first.kill()  # SIGKILL: published, not marked sent
        await admin.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                               WHERE datname = current_database() AND query LIKE 'UPDATE outbox SET sent_at%'""")
        await admin.execute("DROP TRIGGER hold ON outbox")
        assert await admin.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 10
    finally:
        await admin.close()
    second = ServiceProcess("probe", env, tmp_path).start()
    try:
        records = await read_topic(
            infra.kafka_bootstrap, TOPIC, keep=of_run(run),
            until=lambda rs: len(first_occurrences(rs, run)["k"]) >= 10,
        )
        ids = [header(r, "ce_id") for r in records]
        assert len(ids) > len(set(ids))  # the crash did republish: the scenario really happened

        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]}, outboxes=[dsn])
        rows = await fetch(dsn, "SELECT event_id, count(*) AS n FROM effects WHERE run = $1 GROUP BY 1", run)
        assert len(rows) == 10 and all(r["n"] == 1 for r in rows)
        assert first_occurrences(records, run)["k"] == list(range(10))
    finally:
        second.terminate()


async def test_unit_of_work_rolls_back_on_error_and_returns_its_connection_when_cancelled(infra: Infra) -> None:
    dsn = infra.new_database("uow")
    pool = await db.create_pool(dsn, max_size=1)
    await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations"))
    try:
        with pytest.raises(RuntimeError):
            async with UnitOfWork(pool, "/tests") as uow:
                await uow.emit(StockAdjusted(sku="k", name="x", stock_on_hand=1, reserved=0, delta=1, reason="r"))
                raise RuntimeError("use case failed")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 0  # the event went with the rollback
        # Cancel a unit of work while it waits for the (only) connection: it must not keep it afterwards.
        async with pool.acquire():
            waiting = asyncio.create_task(UnitOfWork(pool, "/tests").__aenter__())
            await asyncio.sleep(0.2)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        async with UnitOfWork(pool, "/tests") as uow:
            await uow.emit(StockAdjusted(sku="k", name="x", stock_on_hand=2, reserved=0, delta=1, reason="r"))
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await asyncio.wait_for(pool.close(), timeout=10)  # hangs if a connection leaked


async def test_a_change_and_its_event_in_one_statement_are_written_both_or_neither(infra: Infra) -> None:
    """`emit_after` saves a round trip by sending the change and the outbox row as one statement; it must keep the
    unit of work's promise: a change that fails leaves no event, and a rollback takes both."""
    dsn = infra.new_database("uow")
    pool = await db.create_pool(dsn, max_size=1)
    await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations"))
    change = "INSERT INTO stock (sku, n) VALUES ($1, $2)"
    try:
        await pool.execute("CREATE TABLE stock (sku text PRIMARY KEY, n int NOT NULL)")
        async with UnitOfWork(pool, "/tests") as uow:
            event_id = await uow.emit_after(change, ("k", 1), StockAdjusted(
                sku="k", name="x", stock_on_hand=1, reserved=0, delta=1, reason="r"))
        with pytest.raises(asyncpg.UniqueViolationError):
            async with UnitOfWork(pool, "/tests") as uow:
                await uow.emit_after(change, ("k", 2), StockAdjusted(
                    sku="k", name="x", stock_on_hand=2, reserved=0, delta=1, reason="r"))
        with pytest.raises(RuntimeError):
            async with UnitOfWork(pool, "/tests") as uow:
                await uow.emit_after(change, ("m", 3), StockAdjusted(
                    sku="m", name="x", stock_on_hand=3, reserved=0, delta=1, reason="r"))
                raise RuntimeError("use case failed after its last write")
        async with pool.acquire() as conn:
            assert [tuple(r) for r in await conn.fetch("SELECT sku, n FROM stock")] == [("k", 1)]
            rows = await conn.fetch("SELECT id, topic, key, payload FROM outbox")
        assert [(str(r["id"]), r["topic"], r["key"]) for r in rows] == [(event_id, StockAdjusted.TOPIC, "k")]
        assert StockAdjusted.model_validate_json(rows[0]["payload"]).stock_on_hand == 1
    finally:
        await asyncio.wait_for(pool.close(), timeout=10)


class _SmallBatches:
    """A stand-in producer whose batches hold two messages and whose first send to partition 0 fails."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, list[bytes]]] = []
        self.failed_once = False

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future:
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        if partition == 0 and not self.failed_once:
            self.failed_once = True
            done.set_exception(TimeoutError("batch expired"))
        else:
            self.sent.append((partition, batch.values))
            done.set_result(None)
        return done


class _Batch:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, *, timestamp: None, key: bytes, value: bytes, headers: list) -> object | None:
        if len(self.values) == 2:
            return None
        self.values.append(value)
        return object()


async def test_a_failed_batch_stops_the_later_batches_of_its_partition() -> None:
    """Unit test of the relay's publishing order (the stand-in fails on purpose; real Kafka is in the tests above)."""
    from aiokafka.partitioner import DefaultPartitioner

    from komerbij.runtime.outbox import publish_in_order

    key = next(k for k in (f"k{i}" for i in range(100)) if DefaultPartitioner()(k.encode(), [0, 1, 2], [0, 1, 2]) == 0)
    rows = [{"topic": "t", "key": key, "payload": f"{i}".encode(), "headers": []} for i in range(5)]
    producer = _SmallBatches()
    outcome = await publish_in_order(producer, rows)  # type: ignore[arg-type]
    assert producer.sent == []  # messages 2..4 were not sent ahead of 0..1
    assert set(outcome) == {0, 1} and all(isinstance(e, TimeoutError) for e in outcome.values())  # 2..4: not tried


async def test_a_batch_the_real_broker_refuses_stops_the_later_batches_of_its_partition(infra: Infra) -> None:
    """The same guarantee against Kafka itself: the first batch is larger than the topic accepts, so the broker
    refuses it; the rows after it (each its own batch, which the broker does accept, as the end shows) stay unsent."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError

    from komerbij.runtime.kafka import make_producer
    from komerbij.runtime.outbox import publish_in_order

    topic, limit = f"t-refused-{uuid.uuid4().hex[:6]}", 12_000
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": str(limit)})])
    finally:
        await admin.close()
    # 9 kB rows: two never share the producer's 16 kB batch, so each row is a batch of its own.
    rows = [{"topic": topic, "key": "k", "payload": bytes([65 + i]) * (13_000 if i == 0 else 9_000),
             "headers": [["n", str(i)]]} for i in range(5)]

    async def publish(batch_rows: list[dict]) -> dict[int, BaseException | None]:
        producer = make_producer(infra.kafka_bootstrap, client_id="komerbij-tests")
        await producer.start()
        try:
            return await publish_in_order(producer, batch_rows)  # type: ignore[arg-type]
        finally:
            await producer.stop()

    refused = await publish(rows)
    # The first row is refused by the broker and named; the rows after it in its partition were not even tried.
    assert set(refused) == {0} and isinstance(refused[0], KafkaError)
    assert await read_topic(infra.kafka_bootstrap, topic, until=lambda rs: True, to_end=True) == []
    assert await publish(rows[1:]) == dict.fromkeys(range(4))  # alone, the rows are fine: they go out, in order
    landed = await read_topic(infra.kafka_bootstrap, topic, until=lambda rs: True, to_end=True)
    assert [header(r, "n") for r in landed] == ["1", "2", "3", "4"]


async def test_a_wake_up_that_comes_with_the_stop_does_not_keep_the_loop_running() -> None:
    """The relay's (and the dispatcher's) loop must end when cancelled, even if a NOTIFY lands in the same instant;
    `asyncio.wait_for` on Python 3.11 could swallow that cancellation and hang the service's shutdown."""
    wakeup = Wakeup("postgresql://unused", "outbox")

    async def loop() -> None:
        while True:
            await wakeup.wait(60)

    for _ in range(20):
        task = asyncio.create_task(loop())
        await asyncio.sleep(0)  # the loop now waits
        wakeup._notified()  # a notification...
        task.cancel()  # ...and the stop, in the same tick
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done and task.cancelled()
