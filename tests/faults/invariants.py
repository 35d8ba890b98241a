"""What must hold after every fault, read from the services' databases, the topics and the far ends of the wires.

Only after the drain barrier: the notifications consumer group at the end of every topic it reads (lag 0), every
outbox empty, no delivery waiting to be sent or retried. Then, for everything the case's load set in motion (the
events written since the case began):

- every accepted request left its row in its service's database;
- every event notifications consumes is in its inbox (consumed), or it is counted lost, with the DLQ's reason if
  it was dead-lettered;
- every sign-up has exactly one confirmation delivery to its participant; every order event one to its orderer;
  every published activity, mention and confirmed sign-up of Amsterdam one webhook delivery and one mail to the
  Amsterdam partner; each of them delivered;
- each delivered mail arrived at the SMTP server with its Message-ID, each webhook was taken by the receiver with
  its webhook-id; a second copy with the same id is a resend, counted apart (explained where the fault cut the
  sender off from its outcome, else a duplicate);
- no business fact became two events (one SignupConfirmed per sign-up, one OrderPlaced per order, ...);
- nothing but the injected poison records in any dead-letter topic, and each poison record there exactly once;
- stock conserved: on hand + reserved + shipped = everything adjusted in, reservations matching the live orders.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from komerbij.contracts import EVENT_TYPES, dlq_of

from .load import Load
from .system import MUNICIPALITY, System

# What the load's events are expected to cause: (channel, who) per event class, see `expected_deliveries`.
PARTNER_FOLLOWS = ("ActivityPublished", "MentionRecorded", "SignupConfirmed")
EXAMPLES = 5  # per kind of problem, how many ids the report names


@dataclass(frozen=True)
class Poison:
    topic: str
    key: bytes
    kind: str


@dataclass
class Window:
    """Where the case began: the database clock, and the end of every dead-letter topic."""

    label: str
    since: datetime
    dlq_offsets: dict[str, int]
    consumed: list[str]
    poison: list[Poison] = field(default_factory=list)


@dataclass
class Outcome:
    lost: Counter[str] = field(default_factory=Counter)
    duplicated: Counter[str] = field(default_factory=Counter)
    resent: Counter[str] = field(default_factory=Counter)  # same Message-ID / webhook-id arriving again
    broken: list[str] = field(default_factory=list)  # invariants that are not about one effect (stock, DLQ)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)  # the routed events of the window, per class

    def note(self, bucket: Counter[str], what: str, example: str) -> None:
        bucket[what] += 1
        if len(self.examples[what]) < EXAMPLES:
            self.examples[what].append(example)

    def describe(self) -> str:
        parts = []
        for title, bucket in (("lost", self.lost), ("duplicated", self.duplicated), ("resent", self.resent)):
            for what, n in sorted(bucket.items()):
                parts.append(f"{title}: {n} × {what} (e.g. {', '.join(self.examples[what])})")
        parts += [f"broken: {b}" for b in self.broken]
        return "\n".join(parts) or "all invariants hold"


async def window_start(system: System, label: str, consumed: list[str]) -> Window:
    conn = await asyncpg.connect(system.pg.dsn())
    try:
        since = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    return Window(label, since, await _dlq_ends(system, consumed), consumed)


async def _dlq_ends(system: System, consumed: list[str]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=system.kafka.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(dlq_of(t), 0) for t in consumed]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.topic: offset for tp, offset in ends.items()}


async def dead_letters_since(system: System, window: Window) -> list[Any]:
    """Every record put on a dead-letter topic since the window began (each DLQ has one partition)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=system.kafka.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, 0) for topic in window.dlq_offsets]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        for tp in partitions:
            consumer.seek(tp, window.dlq_offsets[tp.topic])
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(r for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)])
        return records
    finally:
        await consumer.stop()


async def _fetch(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def _places(name: str, data: dict[str, Any]) -> set[str]:
    if name == "MentionRecorded":
        return set(data.get("municipalities") or ())
    return {c for c in (data.get("municipality"), data.get("owner_municipality")) if c}


def expected_deliveries(name: str, data: dict[str, Any]) -> set[tuple[str, str]]:
    """(channel, who) this event must reach, written out from the product's rules independently of the code."""
    wanted: set[tuple[str, str]] = set()
    if name.startswith("Signup") and data.get("email"):
        wanted.add(("email", "participant"))
    if name.startswith("Order") and data.get("contact_email"):
        wanted.add(("email", "orderer"))
    if name == "StockLow":
        wanted.add(("email", "admins"))
    if name in PARTNER_FOLLOWS and MUNICIPALITY in _places(name, data):
        wanted |= {("webhook", "partner"), ("email", "partner")}
    return wanted


def _who(recipient: str) -> str:
    return "partner" if recipient.startswith(("webhook:", "contact:")) else recipient


def _entity(data: dict[str, Any]) -> str | None:
    for name in ("signup_id", "order_id", "mention_id", "activity_id"):
        if data.get(name):
            return str(data[name])
    return None


async def check(system: System, window: Window, load: Load, *, resend_explained: bool) -> Outcome:
    out = Outcome()
    since = window.since
    registration, materials, media, notifications = (system.dsn[n] for n in
                                                     ("registration", "materials", "media", "notifications"))

    # 1. Accepted requests left their rows.
    present = {
        "signup": {str(r["id"]) for r in await _fetch(registration, "SELECT id FROM signups WHERE created_at >= $1",
                                                      since)},
        "activity": {str(r["id"]) for r in await _fetch(registration,
                                                        "SELECT id FROM activities WHERE created_at >= $1", since)},
        "order": {str(r["id"]) for r in await _fetch(materials, "SELECT id FROM orders WHERE created_at >= $1", since)},
        "mention": {str(r["id"]) for r in await _fetch(media, "SELECT id FROM mentions WHERE created_at >= $1", since)},
    }
    for kind, ids in present.items():
        out.counts[f"{kind}s"] = len(ids)
        for accepted in load.accepted(kind):
            if accepted not in ids:
                out.note(out.lost, f"accepted {kind} not in its database", accepted)

    # 2. Events written since the window began, and what became of them.
    events: list[tuple[str, str, str, dict[str, Any]]] = []  # (event id, class name, topic, data)
    for dsn in (registration, materials, media):
        for r in await _fetch(dsn, "SELECT id, type, topic, payload FROM outbox WHERE created_at >= $1 ORDER BY seq",
                              since):
            cls = EVENT_TYPES.get(r["type"])
            events.append((str(r["id"]), cls.__name__ if cls else r["type"], r["topic"], json.loads(r["payload"])))
    routed = [e for e in events if e[2] in window.consumed and e[1] in _consumed_names()]
    out.counts["events"] = len(routed)
    out.by_type = dict(sorted(Counter(name for _, name, _, _ in routed).items()))

    ids = [e[0] for e in routed]
    inbox = {r["event_id"] for r in await _fetch(notifications,
                                                 "SELECT event_id FROM inbox WHERE event_id = ANY($1::text[])", ids)}
    rows = await _fetch(notifications, """SELECT event_id, channel, recipient, status, message_id, attempts, last_error
                                         FROM deliveries WHERE event_id = ANY($1::text[])""", ids)
    by_event: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        by_event[r["event_id"]].append(r)

    letters = await dead_letters_since(system, window)
    healthy_letters = {_header(r, "ce_id"): _header(r, "dlq_error_class") for r in letters
                       if not (r.key or b"").startswith(b"poison-")}

    mails = Counter(m.message_id for m in system.mailbox.snapshot())
    taken = Counter(c.webhook_id for c in system.receiver.snapshot() if c.processed)

    facts = Counter((name, _entity(data)) for _, name, _, data in routed if name != "StockLow")
    for (name, entity), n in facts.items():
        if n > 1:
            out.note(out.duplicated, f"{name} written more than once for one business fact", str(entity))

    for event_id, name, _topic, data in routed:
        if event_id not in inbox:
            reason = f"dead-lettered ({healthy_letters[event_id]})" if event_id in healthy_letters else "not consumed"
            out.note(out.lost, f"{name} {reason}", event_id)
            continue
        wanted = expected_deliveries(name, data)
        got: dict[tuple[str, str], list[asyncpg.Record]] = defaultdict(list)
        for r in by_event.get(event_id, []):
            got[(r["channel"], _who(r["recipient"]))].append(r)
        for target in sorted(wanted):
            found = got.get(target, [])
            what = f"{name} → {target[0]} to {target[1]}"
            if not found:
                out.note(out.lost, f"{what}: no delivery row", event_id)
                continue
            if len(found) > 1:
                out.note(out.duplicated, f"{what}: {len(found)} delivery rows", event_id)
            for r in found:
                if r["status"] != "delivered":
                    out.note(out.lost, f"{what}: {r['status']}", f"{event_id} ({r['last_error'] or '-'})"[:200])
                    continue
                arrived = (mails if r["channel"] == "email" else taken)[r["message_id"]]
                if arrived == 0:
                    out.note(out.lost, f"{what}: delivered but never arrived", r["message_id"])
                elif arrived > 1:
                    bucket = out.resent if resend_explained else out.duplicated
                    out.note(bucket, f"{what}: arrived {arrived} times with one id", r["message_id"])
        for target in sorted(set(got) - wanted):
            out.note(out.duplicated, f"{name} → {target[0]} to {target[1]}: not expected at all", event_id)

    # 3. Sign-ups, the first invariant by name: each has its confirmation event (a missing or extra delivery
    # of that event is counted above).
    confirmations = Counter(data["signup_id"] for _, name, _, data in routed
                            if name in ("SignupConfirmed", "SignupWaitlisted"))
    for signup in sorted(present["signup"]):
        if confirmations[signup] == 0:
            out.note(out.lost, "sign-up without its confirmation event", signup)

    # 4. Dead letters: the poison, each once; nothing else.
    if healthy_letters:
        classes = Counter(healthy_letters.values())
        out.broken.append(f"{len(healthy_letters)} records of healthy producers in dead-letter topics ("
                          + ", ".join(f"{n} × {c}" for c, n in classes.most_common()) + ")")
    # Each poison once in notifications' letters; other groups that read the topic (media reads the agenda for the
    # nieuwsflits) write their own letter of it, which the replay treats as the same event.
    lettered = Counter((r.topic, r.key) for r in letters if _header(r, "dlq_group") == "notifications")
    unexplained = [r for r in letters if (r.key or b"").startswith(b"poison-") and not _header(r, "dlq_error_class")]
    if unexplained:
        out.broken.append(f"{len(unexplained)} poison dead letters without their reason (dlq_error_class)")
    for poison in window.poison:
        n = lettered[(dlq_of(poison.topic), poison.key)]
        if n != 1:
            out.note(out.lost if n == 0 else out.duplicated,
                     f"poison ({poison.kind}) on {poison.topic} in its DLQ {n} times", poison.key.decode())
    poisoned = await _fetch(notifications, "SELECT count(*) AS n FROM deliveries WHERE address LIKE 'poison-%'")
    if poisoned[0]["n"]:
        out.broken.append(f"{poisoned[0]['n']} deliveries made from poison records")

    # 5. Stock conserved (the whole history, not just this window: it must always hold).
    out.broken += await stock_problems(materials)
    return out


def _consumed_names() -> set[str]:
    from komerbij.notifications.entrypoints.events import ROUTED

    return {cls.__name__ for cls in ROUTED}


def _header(record: Any, name: str) -> str:
    for key, value in record.headers or ():
        if key == name and value is not None:
            return value.decode(errors="replace")
    return ""


async def stock_problems(materials: str) -> list[str]:
    rows = await _fetch(materials, """
        SELECT s.sku, s.on_hand, s.reserved, s.shipped,
               (SELECT coalesce(sum(delta), 0) FROM stock_adjustments a WHERE a.sku = s.sku) AS adjusted,
               (SELECT coalesce(sum(r.quantity), 0) FROM order_reservations r JOIN orders o ON o.id = r.order_id
                WHERE r.sku = s.sku AND o.status IN ('confirmed', 'picking')) AS held,
               (SELECT coalesce(sum(r.quantity), 0) FROM order_reservations r JOIN orders o ON o.id = r.order_id
                WHERE r.sku = s.sku AND o.status IN ('shipped', 'delivered')) AS sent
        FROM skus s WHERE NOT s.is_bundle ORDER BY s.sku""")
    problems = []
    for r in rows:
        if r["on_hand"] + r["reserved"] + r["shipped"] != r["adjusted"] or r["reserved"] != r["held"] \
                or r["shipped"] != r["sent"]:
            problems.append(f"stock of {r['sku']} not conserved: {dict(r)}")
    return problems
