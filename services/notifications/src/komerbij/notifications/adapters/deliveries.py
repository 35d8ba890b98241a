"""SQL of notices (consumed events), deliveries, their attempts and digest items."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

# LISTENed to by the dispatcher. pg_notify is delivered at commit, so a woken dispatcher finds the row committed, and
# PostgreSQL folds identical notifications of one transaction into one.
CHANNEL = "deliveries"
_DELIVERY_COLUMNS = """d.id, d.event_id, d.event_type, d.kind, d.channel, d.recipient, d.partner_id, d.contact_id,
    d.webhook_id, d.address, d.transactional, d.message_id, d.status, d.attempts, d.next_attempt_at, d.last_error,
    d.created_at, d.updated_at"""


async def add_notice(conn: asyncpg.Connection, *, event_id: str, event_type: str, origin_topic: str | None,
                     occurred_at: datetime, headers: list[list[str]], data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO notices (event_id, event_type, origin_topic, occurred_at, headers, data)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING""",
        event_id, event_type, origin_topic, occurred_at, headers, data,
    )


NoticeRow = tuple[str, str, str | None, datetime, list[list[str]] | str, dict[str, Any] | str]


async def add_notices(conn: asyncpg.Connection, notices: list[NoticeRow]) -> None:
    """`add_notice` for many (event_id, event_type, origin_topic, occurred_at, headers, data) in one statement.

    jsonb goes in as text: headers and data either as JSON text already (the consumer's hot path encodes them with
    pydantic/orjson) or as values for `json.dumps`; a repeated event id keeps its first row.
    """
    if not notices:
        return
    columns = list(zip(*notices, strict=True))
    await conn.execute(
        """INSERT INTO notices (event_id, event_type, origin_topic, occurred_at, headers, data)
           SELECT e, t, o, at, h::jsonb, d::jsonb
           FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[])
                WITH ORDINALITY AS n(e, t, o, at, h, d, i)
           ORDER BY i
           ON CONFLICT (event_id) DO NOTHING""",
        list(columns[0]), list(columns[1]), list(columns[2]), list(columns[3]),
        [h if isinstance(h, str) else json.dumps(h) for h in columns[4]],
        [d if isinstance(d, str) else json.dumps(d) for d in columns[5]],
    )


async def notice(conn: asyncpg.Connection, event_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM notices WHERE event_id = $1", event_id)


def message_id_of(delivery_id: uuid.UUID, channel: str, message_domain: str) -> str:
    """The webhook-id / Message-ID every attempt of the delivery carries; derived from its id, fixed at creation."""
    return f"msg_{delivery_id.hex}" if channel == "webhook" else f"<{delivery_id.hex}@{message_domain}>"


async def add_delivery(
    conn: asyncpg.Connection, *, event_id: str, event_type: str, kind: str, channel: str, recipient: str,
    transactional: bool, due: datetime, partner_id: str | None = None, contact_id: uuid.UUID | None = None,
    webhook_id: uuid.UUID | None = None, address: str | None = None, message_domain: str = "komerbij.nl",
) -> bool:
    """Record one pending delivery and wake the dispatcher; False when (event, recipient, channel) already has one."""
    delivery_id = uuid.uuid4()
    inserted = await conn.fetchrow(
        f"""WITH ins AS (
               INSERT INTO deliveries (id, event_id, event_type, kind, channel, recipient, partner_id, contact_id,
                                       webhook_id, address, transactional, message_id, next_attempt_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (event_id, recipient, channel) DO NOTHING RETURNING 1)
            SELECT pg_notify('{CHANNEL}', '') FROM ins""",
        delivery_id, event_id, event_type, kind, channel, recipient, partner_id, contact_id, webhook_id, address,
        transactional, message_id_of(delivery_id, channel, message_domain), due,
    )
    return inserted is not None


# One pending delivery in `add_deliveries`: id, event_id, event_type, kind, channel, recipient, partner_id,
# contact_id, webhook_id, address, transactional, message_id, next_attempt_at (the columns of `add_delivery`).
DeliveryRow = tuple[uuid.UUID, str, str, str, str, str, str | None, uuid.UUID | None, uuid.UUID | None, str | None,
                    bool, str, datetime]


async def add_deliveries(conn: asyncpg.Connection, rows: list[DeliveryRow]) -> int:
    """`add_delivery` for many rows in one statement (one wake-up for all); returns how many were new.

    Rows go in in list order, so of two with the same (event, recipient, channel) the first stays, as one by one.
    """
    if not rows:
        return 0
    columns = [list(c) for c in zip(*rows, strict=True)]
    return await conn.fetchval(
        f"""WITH ins AS (
               INSERT INTO deliveries (id, event_id, event_type, kind, channel, recipient, partner_id, contact_id,
                                       webhook_id, address, transactional, message_id, next_attempt_at)
               SELECT id, e, t, k, c, r, p, ct, w, a, tr, m, due
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::uuid[], $9::uuid[], $10::text[], $11::bool[], $12::text[], $13::timestamptz[])
                    WITH ORDINALITY AS n(id, e, t, k, c, r, p, ct, w, a, tr, m, due, i)
               ORDER BY i
               ON CONFLICT (event_id, recipient, channel) DO NOTHING RETURNING 1),
                 woken AS (SELECT pg_notify('{CHANNEL}', '') FROM ins LIMIT 1)
            SELECT (SELECT count(*) FROM ins) AS added, (SELECT count(*) FROM woken) AS woken""",
        *columns,
    )


async def wake_dispatcher(conn: asyncpg.Connection) -> None:
    """For work made due by other means than a new delivery (an admin's retry)."""
    await conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")


async def claim_round(conn: asyncpg.Connection, now: datetime, lease_seconds: float,
                      limit: int) -> list[asyncpg.Record]:
    """Claim a round in one statement: due deliveries, and sends whose outcome was never recorded (the sender died).

    Each claimed row is 'sending' with its attempt on record (the returned `attempts` is this attempt's number, and
    the claim's fencing token: only a round whose attempt still holds the row records it) before a byte is sent; an
    earlier attempt still 'sending' was cut off and becomes 'interrupted'. `deferrals` counts the earlier attempts
    the relay would not take (they do not count against the schedule).
    SKIP LOCKED lets several replicas dispatch side by side without taking the same row; the statement commits on
    its own, so the claim holds (as the lease) once it returns. The lease is measured on the database's clock, the
    one clock all replicas share (`now` only says what is due: the service's clock, which set the due times).
    A person's mails go out one at a time in event order: a mail is claimed only when no earlier mail to the same
    mailbox is still open (waiting, retrying or being sent) and none is being sent, so a "cancelled" never overtakes
    the "confirmed" before it, not even while that one waits for a retry.
    """
    return await conn.fetch(
        f"""WITH due AS (
               SELECT d.id FROM deliveries d LEFT JOIN notices n ON n.event_id = d.event_id
               WHERE ((d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $1)
                      OR (d.status = 'sending' AND d.claimed_at < now() - make_interval(secs => $2)))
                 AND (d.channel <> 'email' OR NOT EXISTS (
                        SELECT 1 FROM deliveries e LEFT JOIN notices m ON m.event_id = e.event_id
                        WHERE e.channel = 'email' AND e.status IN ('pending', 'sending', 'retrying')
                          AND mailbox_of(e.recipient, e.address) = mailbox_of(d.recipient, d.address)
                          AND e.id <> d.id
                          AND ((e.status = 'sending' AND e.claimed_at >= now() - make_interval(secs => $2))
                               OR (coalesce(m.occurred_at, e.created_at), e.created_at, e.id)
                                  < (coalesce(n.occurred_at, d.created_at), d.created_at, d.id))))
               ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED),
             claimed AS (
               UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1, claimed_at = now(),
                      updated_at = $1
               FROM due WHERE d.id = due.id
               RETURNING {_DELIVERY_COLUMNS},
                         (SELECT count(*) FROM delivery_attempts a
                          WHERE a.delivery_id = d.id AND a.outcome = 'deferred')::int AS deferrals),
             interrupted AS (
               UPDATE delivery_attempts a SET outcome = 'interrupted', finished_at = $1,
                      error = 'no outcome recorded in time (process stopped, or the lease ran out)'
               FROM due WHERE a.delivery_id = due.id AND a.outcome = 'sending'),
             started AS (
               INSERT INTO delivery_attempts (delivery_id, attempt, started_at) SELECT id, attempts, $1 FROM claimed)
            SELECT * FROM claimed ORDER BY next_attempt_at""",
        now, lease_seconds, limit,
    )


async def notices_of(conn: asyncpg.Connection, event_ids: list[str]) -> dict[str, asyncpg.Record]:
    """`notice` for several events at once; an event without a notice is absent."""
    rows = await conn.fetch("SELECT * FROM notices WHERE event_id = ANY($1::text[])", event_ids)
    return {r["event_id"]: r for r in rows}


# One finished attempt in `finish_attempts`: delivery id, attempt, outcome, http_status, error.
AttemptOutcome = tuple[uuid.UUID, int, str, int | None, str | None]
# One delivery's new state in `set_outcomes`: delivery id, the attempt that decided it (the claim's fencing token),
# status, next_attempt_at (None: unchanged), error, address (None: unchanged).
DeliveryOutcome = tuple[uuid.UUID, int, str, datetime | None, str | None, str | None]


async def finish_attempts(conn: asyncpg.Connection, now: datetime, attempts: list[AttemptOutcome]) -> set[uuid.UUID]:
    """Record how attempts ended, all in one statement; returns the deliveries those attempts still hold (the
    latest attempt, still 'sending'), locked until the caller's transaction ends.

    A delivery not returned lost its lease and was claimed again since: its status and events are that claim's to
    record. How this attempt ended is logged all the same (the next claim had marked it `interrupted`)."""
    if not attempts:
        return set()
    columns = [list(c) for c in zip(*attempts, strict=True)]
    rows = await conn.fetch(
        """WITH u AS (SELECT * FROM unnest($2::uuid[], $3::int[], $4::text[], $5::int[], $6::text[])
                                 AS u(delivery_id, attempt, outcome, http_status, error)),
                finished AS (
                  UPDATE delivery_attempts a SET outcome = u.outcome, finished_at = $1, http_status = u.http_status,
                         error = u.error
                  FROM u WHERE a.delivery_id = u.delivery_id AND a.attempt = u.attempt)
           SELECT d.id FROM deliveries d JOIN u ON d.id = u.delivery_id AND d.attempts = u.attempt
           WHERE d.status = 'sending' FOR UPDATE OF d""",
        now, *columns,
    )
    return {r["id"] for r in rows}


async def set_outcomes(conn: asyncpg.Connection, now: datetime, outcomes: list[DeliveryOutcome]) -> None:
    """`set_outcome` for many deliveries in one statement (a delivery appears once), fenced: only rows their attempt
    still holds ('sending', that attempt the latest) change. A row whose lease ran out and that another dispatcher
    claimed since is that one's to record: writing it here would overwrite its outcome."""
    if not outcomes:
        return
    columns = [list(c) for c in zip(*outcomes, strict=True)]
    await conn.execute(
        """UPDATE deliveries d SET status = u.status, updated_at = $1, claimed_at = NULL, last_error = u.error,
                  next_attempt_at = coalesce(u.next_attempt_at, d.next_attempt_at),
                  address = CASE WHEN u.status IN ('delivered', 'failed', 'skipped') THEN NULL
                                 ELSE coalesce(u.address, d.address) END
           FROM unnest($2::uuid[], $3::int[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
                AS u(id, attempt, status, next_attempt_at, error, address)
           WHERE d.id = u.id AND d.attempts = u.attempt AND d.status = 'sending'""",
        now, *columns,
    )


async def release(conn: asyncpg.Connection, claimed: list[tuple[uuid.UUID, int]]) -> None:
    """Hand back rows a round claimed but did not try (its time ran out, or the service is stopping), as if never
    claimed: the attempt leaves the count and the log, the row is due at once and the dispatchers are woken. Fenced
    like `set_outcomes`: a row another dispatcher holds by now stays its."""
    if not claimed:
        return
    ids, attempts = (list(c) for c in zip(*claimed, strict=True))
    await conn.execute(
        f"""WITH back AS (
               UPDATE deliveries d SET status = CASE WHEN d.attempts > 1 THEN 'retrying' ELSE 'pending' END,
                      attempts = d.attempts - 1, claimed_at = NULL
               FROM unnest($1::uuid[], $2::int[]) AS u(id, attempt)
               WHERE d.id = u.id AND d.attempts = u.attempt AND d.status = 'sending'
               RETURNING d.id, u.attempt),
             untried AS (
               DELETE FROM delivery_attempts a USING back WHERE a.delivery_id = back.id AND a.attempt = back.attempt)
            SELECT pg_notify('{CHANNEL}', '') FROM (SELECT 1 FROM back LIMIT 1) AS any_back""",
        ids, attempts,
    )


async def set_outcome(conn: asyncpg.Connection, delivery_id: uuid.UUID, *, status: str, now: datetime,
                      next_attempt_at: datetime | None = None, error: str | None = None) -> None:
    """Final outcomes drop the stored address: it was only kept to be able to send."""
    await conn.execute(
        """UPDATE deliveries SET status = $2, updated_at = $3, claimed_at = NULL, last_error = $5,
                  next_attempt_at = coalesce($4, next_attempt_at),
                  address = CASE WHEN $2 IN ('delivered', 'failed', 'skipped') THEN NULL ELSE address END
           WHERE id = $1""",
        delivery_id, status, now, next_attempt_at, error,
    )


async def open_for_webhook(conn: asyncpg.Connection, webhook_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM deliveries d
            WHERE d.webhook_id = $1 AND d.status IN ('pending', 'retrying') FOR UPDATE SKIP LOCKED""",
        webhook_id,
    )


async def list_deliveries(conn: asyncpg.Connection, *, partner: str | None, status: str | None,
                          channel: str | None, limit: int, since: datetime | None = None,
                          until: datetime | None = None) -> list[asyncpg.Record]:
    """Newest first; `since` (inclusive) and `until` (exclusive) bound when the delivery was made."""
    return await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM deliveries d
            WHERE ($1::text IS NULL OR d.partner_id = $1) AND ($2::text IS NULL OR d.status = $2)
              AND ($3::text IS NULL OR d.channel = $3)
              AND ($5::timestamptz IS NULL OR d.created_at >= $5) AND ($6::timestamptz IS NULL OR d.created_at < $6)
            ORDER BY d.created_at DESC LIMIT $4""",
        partner, status, channel, limit, since, until,
    )


async def attempts_of(conn: asyncpg.Connection, delivery_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT delivery_id, attempt, started_at, finished_at, outcome, http_status, error
           FROM delivery_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt""",
        delivery_ids,
    )




async def add_digest_items(conn: asyncpg.Connection, items: list[tuple[str, str]], now: datetime) -> None:
    """Events for partners' next digests, (partner_id, event_id) each; one already there is kept."""
    if not items:
        return
    partner_ids, event_ids = (list(c) for c in zip(*items, strict=True))
    await conn.execute(
        """INSERT INTO digest_items (partner_id, event_id, added_at)
           SELECT p, e, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS n(p, e, i) ORDER BY i
           ON CONFLICT DO NOTHING""",
        partner_ids, event_ids, now,
    )


async def partners_with_open_digest(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT partner_id FROM digest_items WHERE digest_event_id IS NULL")
    return [r["partner_id"] for r in rows]


async def close_digest(conn: asyncpg.Connection, partner_id: str, digest_event_id: str) -> int:
    result = await conn.execute(
        """UPDATE digest_items SET digest_event_id = $2 WHERE partner_id = $1 AND digest_event_id IS NULL""",
        partner_id, digest_event_id,
    )
    return int(result.split()[-1])


async def digest_notices(conn: asyncpg.Connection, digest_event_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT n.* FROM digest_items i JOIN notices n ON n.event_id = i.event_id
           WHERE i.digest_event_id = $1 ORDER BY n.occurred_at""",
        digest_event_id,
    )


async def counts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT channel, status, count(*) AS n FROM deliveries GROUP BY channel, status")


async def forget_old_notices(conn: asyncpg.Connection, before: datetime) -> int:
    """Event data (names, addresses of participants) is kept only while a delivery may still need it."""
    result = await conn.execute(
        """UPDATE notices n SET data = NULL, headers = '[]'
           WHERE n.data IS NOT NULL AND n.received_at < $1
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = n.event_id
                             AND d.status IN ('pending', 'sending', 'retrying'))
             AND NOT EXISTS (SELECT 1 FROM digest_items i WHERE i.event_id = n.event_id
                             AND i.digest_event_id IS NULL)""",
        before,
    )
    return int(result.split()[-1])


async def requeue_failed(conn: asyncpg.Connection, delivery_id: uuid.UUID, now: datetime) -> asyncpg.Record | None:
    """A failed delivery due again, with its message id unchanged (a receiver that got it after all dedupes)."""
    return await conn.fetchrow(
        f"""UPDATE deliveries d SET status = 'pending', next_attempt_at = $2, updated_at = $2
            WHERE d.id = $1 AND d.status = 'failed' RETURNING {_DELIVERY_COLUMNS}""",
        delivery_id, now,
    )


async def forget_old_deliveries(conn: asyncpg.Connection, before: datetime) -> int:
    """The delivery log is history with a bound; attempts go with their delivery (ON DELETE CASCADE)."""
    result = await conn.execute(
        """DELETE FROM deliveries WHERE status IN ('delivered', 'failed', 'skipped') AND updated_at < $1""", before
    )
    await conn.execute(
        """DELETE FROM notices n WHERE n.received_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = n.event_id)
           AND NOT EXISTS (SELECT 1 FROM digest_items i WHERE i.event_id = n.event_id AND i.digest_event_id IS NULL)""",
        before,
    )
    await conn.execute("DELETE FROM digest_items WHERE digest_event_id IS NOT NULL AND added_at < $1", before)
    return int(result.split()[-1])
