"""Dead letters: what a consumer could not process, kept on `<topic>.dlq` with the reason, and replayed on demand.

The value and the CloudEvents headers are kept unchanged; `dlq_*` headers add the error class and message, where the
message came from (topic, partition, offset), the consumer group and the number of attempts.

Replay publishes each dead letter back to its origin topic so that it takes effect exactly once:
- A consumer's dead letter keeps its event id. The failing group rolled its inbox row back with the handler, so it
  applies the event now; every other group has the id in its inbox and skips it.
- A dead letter whose effect was partly had already (notifications' failed delivery: the event is in the group's
  inbox, one delivery failed later) names the id its replay must carry in `dlq_replay_id`, fixed when the letter was
  written. The consumer recognises it and redoes just the failed part; a second replay of the letter, or a second
  copy of it (the outbox that wrote it publishes at least once), carries the same id and is skipped by the inbox.
Every replayed message carries `dlq_replay_of` (the original id) and `dlq_replay_from` (where the letter was).

The replayer's own consumer group remembers how far it got. Letters before that point were handled by an earlier
run; their ids are read again so that a later copy of one is reported as already replayed. A run that stops between
publishing and committing publishes those letters again next time: same ids, so the consumers' inboxes skip them.
A letter no replay can mend (not JSON, no CloudEvents headers) is skipped and reported, not sent round again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from komerbij.contracts.topics import dlq_of
from komerbij.runtime.kafka import client_settings, make_producer

log = logging.getLogger(__name__)
PREFIX = "dlq_"
REPLAY_GROUP = "komerbij-dlq-replay"
REPLAY_ID = PREFIX + "replay_id"  # set by the writer of a letter whose replay needs an id of its own
IDLE_TIMEOUT_SECONDS = 30.0  # a partition that yields nothing this long before its end: the broker is away
# The message itself is broken: a replay would only be dead-lettered again for the same reason.
BEYOND_REPAIR = {
    "MalformedJSON": "not JSON: a replay would be dead-lettered again",
    "MissingCloudEventsHeaders": "no valid CloudEvents headers: a replay would be dead-lettered again",
}


def describe(exc: BaseException) -> str:
    """The reason, without echoing input values (a pydantic message would repeat e-mail addresses)."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_input=False)]
        return "; ".join(parts)[:1000]
    return str(exc)[:1000]


def dead_letter_headers(
    record: ConsumerRecord, *, error_class: str, error_message: str, group: str, attempts: int
) -> list[tuple[str, bytes]]:
    original = [(k, v) for k, v in (record.headers or ()) if not k.startswith(PREFIX)]
    extra = {
        "error_class": error_class,
        "error_message": error_message[:1000],
        "topic": record.topic,
        "partition": str(record.partition),
        "offset": str(record.offset),
        "group": group,
        "attempts": str(attempts),
        "at": datetime.now(UTC).isoformat(),
    }
    return original + [(PREFIX + k, v.encode()) for k, v in extra.items()]


def header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None


@dataclass(frozen=True)
class Letter:
    """One dead letter as the report shows it: where it is, which event, and what became of it."""

    partition: int
    offset: int
    event_id: str | None
    event_type: str | None
    group: str | None
    error_class: str | None
    replay_id: str | None = None  # the id the replayed message carries (None when skipped)
    reason: str | None = None  # why it was skipped


@dataclass
class ReplayReport:
    topic: str
    replayed: list[Letter] = field(default_factory=list)
    skipped: list[Letter] = field(default_factory=list)


def _replay_id(headers: Sequence[tuple[str, bytes]]) -> str | None:
    return header(headers, REPLAY_ID) or header(headers, "ce_id")


def _letter(record: ConsumerRecord, **outcome: str | None) -> Letter:
    headers = list(record.headers or ())
    return Letter(record.partition, record.offset, header(headers, "ce_id"), header(headers, "ce_type"),
                  header(headers, PREFIX + "group"), header(headers, PREFIX + "error_class"), **outcome)


def _verdict(headers: Sequence[tuple[str, bytes]], handled: set[str]) -> tuple[str | None, str | None]:
    """(the id to replay with, None) or (None, why the letter is skipped)."""
    error_class = header(headers, PREFIX + "error_class") or ""
    if error_class in BEYOND_REPAIR:
        return None, BEYOND_REPAIR[error_class]
    replay_id = _replay_id(headers)
    if replay_id is None:
        return None, "no event id to replay with"
    if replay_id in handled:
        # A copy of the letter, or another group's letter of the same event: one replay reaches every group.
        return None, f"already replayed: {replay_id} went back to its topic once"
    return replay_id, None


def replayed_message(record: ConsumerRecord, replay_id: str) -> list[tuple[str, bytes]]:
    """The letter's headers as its replay carries them: no `dlq_*` of the letter, the replay's id, its origin."""
    headers = list(record.headers or ())
    original = header(headers, "ce_id") or ""
    clean = [(k, v) for k, v in headers if not k.startswith(PREFIX) and k != "ce_id"]
    return [("ce_id", replay_id.encode()), *clean, (PREFIX + "replay_of", original.encode()),
            (PREFIX + "replay_from", f"{record.topic}/{record.partition}/{record.offset}".encode())]


async def replay(bootstrap: str, topic: str) -> ReplayReport:
    """Publish the dead letters of `topic` not handled by an earlier run back to where they came from."""
    dlq = dlq_of(topic)
    report = ReplayReport(topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False,
                                **client_settings().client_options())
    producer = make_producer(bootstrap, client_id="komerbij-dlq-replay")
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(dlq, p) for p in sorted(await producer.partitions_for(dlq))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp) or 0
            await _replay_partition(consumer, producer, tp, committed, ends[tp], topic, report)
    finally:
        await producer.stop()
        await consumer.stop()
    log.info("dead letters replayed",
             extra={"topic": topic, "count": len(report.replayed), "skipped": len(report.skipped)})
    return report


async def _replay_partition(consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, tp: TopicPartition,
                            committed: int, end: int, topic: str, report: ReplayReport) -> None:
    """Read `tp` from its beginning to `end`: ids before `committed` were handled before; the rest is replayed."""
    handled: set[str] = set()
    position = await consumer.position(tp)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IDLE_TIMEOUT_SECONDS
    while position < end:
        if loop.time() > deadline:
            raise TimeoutError(f"{tp.topic}/{tp.partition}: no records for {IDLE_TIMEOUT_SECONDS:.0f} s at offset "
                               f"{position} of {end}; what was replayed so far is committed")
        batch = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        pending = []
        for record in batch:
            if record.offset >= end:
                break
            headers = list(record.headers or ())
            replay_id, reason = _verdict(headers, handled)
            if record.offset < committed:
                if replay_id is not None:
                    handled.add(replay_id)
                continue
            if replay_id is None:
                report.skipped.append(_letter(record, reason=reason))
                continue
            handled.add(replay_id)
            origin = header(headers, PREFIX + "topic") or topic
            pending.append(await producer.send(
                origin, value=record.value, key=record.key, headers=replayed_message(record, replay_id)))
            report.replayed.append(_letter(record, replay_id=replay_id))
        for sent in pending:
            await sent  # acknowledged (acks=all) before the offset moves past them
        if batch:
            deadline = loop.time() + IDLE_TIMEOUT_SECONDS
            position = min(batch[-1].offset + 1, end)
            if position > committed:
                await consumer.commit({tp: position})
        else:
            position = await consumer.position(tp)
