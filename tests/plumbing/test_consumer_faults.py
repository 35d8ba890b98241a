"""The batch consumer under ordinary faults: a database outage, records Kafka allows but nobody expects, a slow first
event, a failing commit. Every record is applied once or dead-lettered once, never skipped and never both."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from urllib.parse import urlparse

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from probe import effects, spec
from support.infra import Infra
from support.kafka import cloudevent, partitions_of, read_topic, start_group_at_end
from support.services import RunningService, eventually, running, settings_env

from komerbij.contracts.events.materials import StockAdjusted
from komerbij.contracts.topics import DAY_MS, Topic, dlq_of
from komerbij.runtime import consumer
from komerbij.runtime.consumer import EventContext, EventRouter, PoisonMessage
from komerbij.runtime.kafka import ensure_topics
from komerbij.runtime.service import ServiceSpec

# A topic of these tests' own: other tests read the shared topics from the start (some decode every header, some
# count every failing probe event), so the odd records and failing events here must not land there.
OWN_TOPIC = Topic("tests.consumer-faults", "sku", 1, DAY_MS)
TOPIC, DLQ = OWN_TOPIC.name, dlq_of(OWN_TOPIC.name)
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]


class Probed(StockAdjusted):
    """The probe's event, on this file's own topic."""

    TYPE: ClassVar[str] = "nl.komerbij.tests.consumer-faults.v1"
    TOPIC: ClassVar[str] = OWN_TOPIC.name


def probe_service(group: str, delay: float = 0.0) -> ServiceSpec:
    """The probe service (tests/probe) consuming `Probed` events the way it consumes its own: each event's effect is a
    row in `effects`, an event whose reason starts with "fail" fails while `flags.broken` is set, one whose reason
    starts with "poison" is refused as a `PoisonMessage`, `delay` slows every attempt."""
    events = EventRouter(group)

    @events.on(Probed)
    async def apply(event: Probed, ctx: EventContext) -> None:
        if delay:
            await asyncio.sleep(delay)
        if event.reason.startswith("fail") and await ctx.conn.fetchval("SELECT broken FROM flags"):
            raise RuntimeError("probe handler is broken")
        if event.reason.startswith("poison"):
            raise PoisonMessage("RefusedByHandler", "the probe refuses this one")
        await ctx.conn.execute("INSERT INTO effects (event_id, key, n, run) VALUES ($1, $2, $3, $4)",
                               ctx.attributes.id, event.sku, event.stock_on_hand, event.reason)

    return dataclasses.replace(spec(group), events=events)


@pytest.fixture
async def infra(infra: Infra) -> Infra:
    """The session's infrastructure, with this file's own topic."""
    await ensure_topics(infra.kafka_bootstrap, [OWN_TOPIC, dataclasses.replace(OWN_TOPIC, name=DLQ)])

    async def described() -> bool:  # a topic just created takes a moment to show in the metadata
        try:
            return bool(await partitions_of(infra.kafka_bootstrap, [TOPIC, DLQ]))
        except AssertionError:
            return False

    await eventually(described)
    return infra


def message(n: int, run: str, key: str = "k") -> Message:
    value, headers = cloudevent(Probed(sku=key, name="probe", stock_on_hand=n, reserved=0, delta=1, reason=run))
    return key.encode(), value, headers


def header(record: ConsumerRecord, name: str) -> bytes | None:
    """The raw value (None for a null header or none at all): the records here carry values that do not decode."""
    return next((value for key, value in record.headers or () if key == name), None)


def text(record: ConsumerRecord, name: str) -> str:
    value = header(record, name)
    return value.decode() if value is not None else ""


def event_id(msg: Message) -> str:
    return next(v.decode() for k, v in msg[2] if k == "ce_id" and v is not None)


def origin(record: ConsumerRecord) -> tuple[int, int]:
    """Where a dead letter came from: (partition, offset) of the original record."""
    return int(text(record, "dlq_partition")), int(text(record, "dlq_offset"))


async def produce(bootstrap: str, topic: str, messages: list[Message]) -> list[tuple[int, int]]:
    """Send in order, wait for all acks; returns each record's (partition, offset) to find it on the DLQ later."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages]
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in sent]


async def applied(svc: RunningService, run: str, count: int) -> list[int]:
    ns = [n for _, _, n in await effects(svc.runtime, run)]
    return ns if len(ns) >= count else []


async def dead_letters_of(bootstrap: str, origins: set[tuple[int, int]], count: int) -> list[ConsumerRecord]:
    """The DLQ records whose originals are `origins`, read to the DLQ's end once `count` of them are there."""
    return await read_topic(
        bootstrap, DLQ, keep=lambda r: text(r, "dlq_topic") == TOPIC and origin(r) in origins,
        until=lambda rs: len(rs) >= count, to_end=True, timeout=45,
    )


def value_of(metric: Any) -> float:
    return metric._value.get()


def infrastructure_errors(svc: RunningService) -> float:
    family = getattr(svc.runtime.metrics, "consumer_infrastructure_errors", None)
    if family is None:  # the code before this metric existed
        return 0.0
    return sum(sample.value for metric in family.collect() for sample in metric.samples
               if sample.name.endswith("_total"))


@asynccontextmanager
async def database_refusing_connections(admin_dsn: str, database: str) -> AsyncIterator[None]:
    """What a failover looks like to a client: its sessions are cut and new ones refused until the database is back."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


async def group_members(bootstrap: str, group: str) -> set[str]:
    """Member ids of a consumer group: a consumer dropped for exceeding max.poll.interval.ms rejoins under a new one."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    groups = [g for response in responses for g in response.to_object()["groups"]]
    return {member["member_id"] for g in groups for member in g["members"]}


OUTAGE_SECONDS = 25.0
MAX_POLL_INTERVAL_MS = 10_000  # the test's own, so that an outage of 2.5 times it fits a test


async def test_events_consumed_during_a_database_outage_are_all_applied_once_in_order_and_none_dead_lettered(
    infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failover cuts the consumer's sessions and refuses new ones for 25 s, 2.5 times max.poll.interval.ms.

    Nothing is charged to an event: no retry, no dead letter; /readyz says not ready while PostgreSQL is away; the
    consumer stays in its group all along (the same member id before and after), and once PostgreSQL is back every
    event is applied, once, in the partition's order.
    """
    monkeypatch.setattr(consumer, "MAX_POLL_INTERVAL_MS", MAX_POLL_INTERVAL_MS, raising=False)
    run = f"outage-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    dsn = infra.new_database("probe")
    env = settings_env(infra, dsn, PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3", METRICS_REFRESH_SECONDS="0.5",
                       CONSUMER_BATCH_TIME_BUDGET_SECONDS="2", CONSUMER_BATCH_MAX_RECORDS="20")
    before = [message(n, run, key=f"k{n % 3}") for n in range(5)]
    during = [message(n, run, key=f"k{n % 3}") for n in range(5, 125)]
    ids = {event_id(m) for m in before + during}
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(probe_service(group), env) as svc:
        metrics = svc.runtime.metrics
        await produce(infra.kafka_bootstrap, TOPIC, before)
        assert await eventually(lambda: applied(svc, run, 5)) == list(range(5))
        members = await group_members(infra.kafka_bootstrap, group)
        assert len(members) == 1

        async with database_refusing_connections(infra.admin_dsn, urlparse(dsn).path.lstrip("/")):
            started = time.monotonic()
            await produce(infra.kafka_bootstrap, TOPIC, during)

            async def not_ready() -> dict | None:
                answer = await svc.client.get("/readyz")
                return answer.json() if answer.status_code == 503 and value_of(metrics.ready) == 0 else None

            checks = (await eventually(not_ready, timeout=OUTAGE_SECONDS / 2))["checks"]
            assert checks["postgres"] != "ok"
            await asyncio.sleep(max(OUTAGE_SECONDS - (time.monotonic() - started), 0))  # the outage itself
            dead_meanwhile = await read_topic(infra.kafka_bootstrap, DLQ, keep=lambda r: text(r, "ce_id") in ids,
                                              until=lambda rs: True, to_end=True)
            assert dead_meanwhile == [], f"{len(dead_meanwhile)} events dead-lettered during the outage"
            assert infrastructure_errors(svc) > 0  # the consumer did meet the outage
            assert value_of(metrics.consumer_waiting_for_database) == 1

        rows = await eventually(lambda: applied(svc, run, 125), timeout=60)

        async def ready_again() -> bool:
            return (await svc.client.get("/readyz")).status_code == 200

        async def ready_gauge_back() -> bool:
            return value_of(metrics.ready) == 1

        await eventually(ready_again)
        await eventually(ready_gauge_back)
        assert value_of(metrics.consumer_waiting_for_database) == 0
        retries = value_of(metrics.retries.labels(TOPIC))
        members_after = await group_members(infra.kafka_bootstrap, group)
    dead = await read_topic(infra.kafka_bootstrap, DLQ, keep=lambda r: text(r, "ce_id") in ids,
                            until=lambda rs: True, to_end=True)
    assert dead == []
    assert retries == 0  # an outage is no attempt of any event
    assert sorted(rows) == list(range(125)) and len(rows) == 125  # each once
    for key in range(3):  # in the partition's order, so in order per key
        ns = [n for n in rows if n % 3 == key]
        assert ns == sorted(ns)
    assert rows == list(range(125))  # one partition: one order
    assert members_after == members  # never dropped from the group, though the outage outlasted max.poll.interval


def _with_header(msg: Message, name: str, value: bytes | None) -> Message:
    key, body, headers = msg
    return key, body, [(k, v) for k, v in headers if k != name] + [(name, value)]


def _replace_header(msg: Message, name: str, value: bytes | None) -> Message:
    key, body, headers = msg
    return key, body, [(k, value if k == name else v) for k, v in headers]


def _body(msg: Message, value: bytes | None) -> Message:
    return msg[0], value, msg[2]


def _huge_integer(msg: Message) -> Message:
    body = json.loads(msg[1] or b"")
    return _body(msg, json.dumps(body).replace('"stock_on_hand": 1', '"stock_on_hand": 1' + "0" * 4999).encode())


# name: (how the middle record is spoilt, its expected dead-letter class or None when it must be applied)
ODD_RECORDS: dict[str, tuple[Callable[[Message], Message], str | None]] = {
    "null-ce-id-header": (lambda m: _replace_header(m, "ce_id", None), "MissingCloudEventsHeaders"),
    "non-utf8-ce-type-header": (lambda m: _replace_header(m, "ce_type", b"\xff\xfeStockAdjusted"),
                                "MissingCloudEventsHeaders"),
    "null-foreign-header": (lambda m: _with_header(m, "traceparent", None), None),
    "non-utf8-foreign-header": (lambda m: _with_header(m, "x-trace-bin", b"\xff\x00\xfe"), None),
    "no-key": (lambda m: (None, m[1], m[2]), None),
    "empty-value": (lambda m: _body(m, b""), "MalformedJSON"),
    "null-value": (lambda m: _body(m, None), "MalformedJSON"),
    "5000-digit-integer": (_huge_integer, "MalformedJSON"),
    "100000-deep-nesting": (lambda m: _body(m, b"[" * 100_000 + b"]" * 100_000), "MalformedJSON"),
}


@pytest.mark.parametrize("case", list(ODD_RECORDS))
async def test_an_odd_record_between_two_events_is_applied_or_dead_lettered_once_and_the_batch_goes_on(
    infra: Infra, case: str
) -> None:
    """Kafka allows null and non-UTF-8 header values, empty and null values, records without a key; JSON allows
    numbers and nesting Python refuses. None of them may cost the events around it, nor stop the consumer."""
    spoil, dead_class = ODD_RECORDS[case]
    run = f"odd-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group)
    batch = [message(0, run), spoil(message(1, run)), message(2, run)]
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    origins = await produce(infra.kafka_bootstrap, TOPIC, batch)  # before the consumer starts: one fetch, one batch
    async with running(probe_service(group), env) as svc:
        expected = [0, 2] if dead_class else [0, 1, 2]
        assert await eventually(lambda: applied(svc, run, len(expected))) == expected
        dead = await dead_letters_of(infra.kafka_bootstrap, set(origins), 1 if dead_class else 0)
        await produce(infra.kafka_bootstrap, TOPIC, [message(3, run)])  # and the consumer goes on
        rows = await eventually(lambda: applied(svc, run, len(expected) + 1))
    assert rows == [*expected, 3]  # each once, in order
    if dead_class is None:
        assert dead == []
        return
    assert [origin(r) for r in dead] == [origins[1]]  # the odd one, exactly once
    (letter,) = dead
    assert text(letter, "dlq_error_class") == dead_class
    assert text(letter, "dlq_error_message")  # with the reason
    assert text(letter, "dlq_attempts") == "1"
    assert letter.value == batch[1][1] and letter.key == batch[1][0]  # kept as it came
    assert [(k, v) for k, v in letter.headers if not k.startswith("dlq_")] == batch[1][2]


async def test_a_first_event_failing_slower_than_the_time_budget_gets_all_its_attempts_and_the_batch_goes_on(
    infra: Infra,
) -> None:
    """Each attempt of the first event outlasts the whole batch budget; it must still be retried to the end."""
    run = f"slow-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3",
                       CONSUMER_BATCH_TIME_BUDGET_SECONDS="0.2")
    batch = [message(0, f"fail-{run}"), message(1, run), message(2, run)]
    failing = event_id(batch[0])
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    origins = await produce(infra.kafka_bootstrap, TOPIC, batch)
    async with running(probe_service(group, delay=0.3), env) as svc:  # every attempt of every event takes 0.3 s
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("UPDATE flags SET broken = true")
        dead = await dead_letters_of(infra.kafka_bootstrap, {origins[0]}, 1)
        rows = await eventually(lambda: applied(svc, run, 2))
        retries = value_of(svc.runtime.metrics.retries.labels(TOPIC))
    assert [text(r, "ce_id") for r in dead] == [failing]  # dead-lettered exactly once
    assert text(dead[0], "dlq_attempts") == "3"
    assert retries == 2
    assert rows == [1, 2]


async def test_a_handler_refusing_an_event_as_poison_dead_letters_it_at_once(infra: Infra) -> None:
    """`raise PoisonMessage(...)` in a handler means no retry can fix the event (docs/SERVICE-GUIDE.md)."""
    run = f"refused-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3")
    batch = [message(0, run), message(1, f"poison-{run}"), message(2, run)]
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    origins = await produce(infra.kafka_bootstrap, TOPIC, batch)
    async with running(probe_service(group), env) as svc:
        dead = await dead_letters_of(infra.kafka_bootstrap, {origins[1]}, 1)
        rows = await eventually(lambda: applied(svc, run, 2))
        retries = value_of(svc.runtime.metrics.retries.labels(TOPIC))
    assert [origin(r) for r in dead] == [origins[1]]
    assert text(dead[0], "dlq_error_class") == "RefusedByHandler"
    assert text(dead[0], "dlq_attempts") == "1" and retries == 0
    assert rows == [0, 2]


# fault: (the trigger's timing, what it does to the transaction that inserts an effect of the run)
TRANSIENT_FAULTS = {
    "session-terminated-at-commit": ("AFTER INSERT ON effects DEFERRABLE INITIALLY DEFERRED",
                                     "PERFORM pg_terminate_backend(pg_backend_pid());"),
    "serialization-failure": ("AFTER INSERT ON effects",
                              "RAISE EXCEPTION 'could not serialize' USING ERRCODE = 'serialization_failure';"),
    "deadlock": ("AFTER INSERT ON effects", "RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected';"),
}


async def _inject(svc: RunningService, run: str, fault: str, times: int) -> None:
    """A constraint trigger that spoils the first `times` transactions applying an event of `run` (a sequence counts
    them: it is not rolled back with the transaction). Deferred, it acts at COMMIT."""
    timing, action = TRANSIENT_FAULTS[fault]
    async with svc.runtime.pool.acquire() as conn:
        await conn.execute(f"""
            CREATE SEQUENCE faults;
            CREATE FUNCTION spoil() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.run = '{run}' AND nextval('faults') <= {times} THEN
                    {action}
                END IF;
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER spoil {timing} FOR EACH ROW EXECUTE FUNCTION spoil();
        """)


@pytest.mark.parametrize("fault", list(TRANSIENT_FAULTS))
async def test_a_transaction_failing_on_the_database_not_the_event_is_retried_and_charged_to_no_event(
    infra: Infra, fault: str
) -> None:
    """The fault strikes more often than an event has attempts: still nothing is retried as an event's attempt, nothing
    is dead-lettered, and every event is applied once, in order."""
    run = f"txn-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3")
    batch = [message(n, run) for n in range(5)]
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(probe_service(group), env) as svc:
        await _inject(svc, run, fault, times=5)
        origins = await produce(infra.kafka_bootstrap, TOPIC, batch)
        rows = await eventually(lambda: applied(svc, run, 5), timeout=45)
        faults = await svc.runtime.pool.fetchval("SELECT last_value FROM faults")
        retries = value_of(svc.runtime.metrics.retries.labels(TOPIC))
        infra_errors = infrastructure_errors(svc)
    dead = await dead_letters_of(infra.kafka_bootstrap, set(origins), 0)
    assert dead == []
    assert faults >= 5  # the fault really happened, more often than an event has attempts
    assert retries == 0 and infra_errors >= 5
    assert rows == list(range(5))  # each once, in order


async def test_a_deferred_constraint_failing_at_commit_dead_letters_only_the_event_that_violates_it(
    infra: Infra,
) -> None:
    """A commit that fails on data (not on the connection) is not the first event's fault: the batch is split to find
    the event whose own commit fails; that one is retried and dead-lettered, the others apply once, in order."""
    run = f"deferred-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3")
    batch = [message(n, run) for n in range(5)]
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(probe_service(group), env) as svc:
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute(f"""
                CREATE FUNCTION refuse_three() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.run = '{run}' AND NEW.n = 3 THEN
                        RAISE EXCEPTION 'three is not allowed' USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE CONSTRAINT TRIGGER refuse_three AFTER INSERT ON effects
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_three();
            """)
        origins = await produce(infra.kafka_bootstrap, TOPIC, batch)
        dead = await dead_letters_of(infra.kafka_bootstrap, set(origins), 1)
        rows = await eventually(lambda: applied(svc, run, 4))
    assert [origin(r) for r in dead] == [origins[3]]
    assert text(dead[0], "dlq_error_class") == "CheckViolationError"
    assert text(dead[0], "dlq_attempts") == "3"
    assert rows == [0, 1, 2, 4]


# --- the two judgements the consumer rests on, without Kafka or PostgreSQL ---------------------------------------


def _sqlstate_error(cls: type[asyncpg.PostgresError]) -> asyncpg.PostgresError:
    return cls("from the server")


@pytest.mark.parametrize(("error", "infrastructure"), [
    (_sqlstate_error(asyncpg.SerializationError), True),  # 40001
    (_sqlstate_error(asyncpg.DeadlockDetectedError), True),  # 40P01
    (_sqlstate_error(asyncpg.AdminShutdownError), True),  # 57P01: pg_terminate_backend, a failover
    (_sqlstate_error(asyncpg.CannotConnectNowError), True),  # 57P03: starting up, in recovery
    (_sqlstate_error(asyncpg.TooManyConnectionsError), True),  # 53300
    (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError(), True),  # pool acquire, connect, command timeout
    (_sqlstate_error(asyncpg.CheckViolationError), False),  # the event's data
    (_sqlstate_error(asyncpg.UniqueViolationError), False),
    (_sqlstate_error(asyncpg.QueryCanceledError), False),  # statement_timeout: may be this event every time
    (RuntimeError("handler bug"), False),
    (FileNotFoundError("template"), False),  # an OSError, but not the way to the database
], ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v))
def test_infrastructure_failures_are_told_from_event_failures(error: BaseException, infrastructure: bool) -> None:
    assert consumer.is_infrastructure(error) is infrastructure


def test_a_database_error_wrapped_by_a_handler_is_still_infrastructure() -> None:
    try:
        try:
            raise asyncpg.SerializationError("could not serialize access")
        except asyncpg.PostgresError as exc:
            raise RuntimeError("could not record the delivery") from exc
    except RuntimeError as wrapped:
        assert consumer.is_infrastructure(wrapped)


def test_cloudevents_headers_tolerate_what_kafka_allows_and_refuse_what_would_be_guessed() -> None:
    from komerbij.contracts import from_kafka_headers

    _, headers = message(1, "unit")[1:]
    foreign = [("traceparent", None), ("x-bin", b"\xff\x00"), ("ce_extension", None)]
    assert from_kafka_headers(headers + foreign).type == Probed.TYPE
    for spoilt, reason in ((None, "null"), (b"\xff\xfe", "not UTF-8"), (b"a\x00b", "NUL")):
        with pytest.raises(ValueError, match=f"ce_id \\({reason}"):
            from_kafka_headers([(k, spoilt if k == "ce_id" else v) for k, v in headers])
