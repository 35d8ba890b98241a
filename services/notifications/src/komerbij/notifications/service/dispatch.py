"""Use case: send the deliveries that are due, exactly one message per delivery as far as a receiver can tell.

Per round: (1) one statement claims the due rows (`FOR UPDATE SKIP LOCKED`) and records their attempts; (2) the
messages go out, each carrying the `webhook-id` / `Message-ID` fixed when its row was created; (3) one transaction
records every outcome, the next retries or the failures, and the `NotificationDelivered` / `NotificationFailed`
events (outbox). What a round reads (notices, contacts, webhooks) is one query per table, so PostgreSQL is asked a
few times per round, not per delivery.

What that guarantees: a row is never sent by two dispatchers at once, and a redelivered event never makes a second
row. If the process dies between (1) and (3), nobody knows whether the receiver got the message; once the lease
expires the row is sent again with the same id. So the transport is at-least-once and a receiver that dedupes by
`webhook-id` (as Standard Webhooks asks) or `Message-ID` processes each delivery exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
import asyncpg
import httpx

from komerbij.contracts.events import BY_NAME
from komerbij.contracts.events.notifications import NotificationDelivered, NotificationFailed
from komerbij.notifications.adapters import deliveries, partners
from komerbij.notifications.adapters.deadletters import add_dead_letter
from komerbij.notifications.adapters.mail import Mailer, MailSession, compose
from komerbij.notifications.adapters.webhooks import post
from komerbij.notifications.domain.retries import retry_delay
from komerbij.notifications.domain.routing import partner_view
from komerbij.notifications.domain.signatures import unsubscribe_token, webhook_headers
from komerbij.notifications.settings import Settings
from komerbij.runtime.outbound import OutboundPolicy
from komerbij.runtime.outbox import OutboxRows, add_event

log = logging.getLogger(__name__)


@dataclass
class Dispatcher:
    pool: asyncpg.Pool
    settings: Settings
    mailer: Mailer
    source: str
    clock: Callable[[], datetime]
    rand: random.Random | None = None
    # Webhook connections go through it (public addresses only). The service always passes the runtime's;
    # None (no guard) is only for tests that drive a Dispatcher against a local receiver without a service.
    outbound: OutboundPolicy | None = None


@dataclass(frozen=True)
class Outcome:
    channel: str
    status: str  # delivered | retrying | failed | skipped


@dataclass(frozen=True)
class _Result:
    status: str  # delivered | error | skipped | final (an error no retry can fix)
    http_status: int | None = None
    error: str | None = None


Send = Callable[[], Awaitable[_Result]]
# Loading the CA bundle costs ~40 ms of CPU; made once, not per dispatch round (it blocked the event loop each time).
_TLS = ssl.create_default_context()
RECORDING_SHARE = 0.1  # of the lease (at most half of what a mail leaves), kept free for recording the round
MAILS_PER_CONNECTION = 8  # a round opens another SMTP connection (up to SMTP_CONNECTIONS) per this many deliveries


async def dispatch_due(d: Dispatcher, now: datetime) -> list[Outcome]:
    """One round: claim (one statement), read what the messages need (a query per table), send, record (one
    transaction). PostgreSQL is asked a few times per round whatever its size, not a few times per delivery."""
    lease_expired_before = now - timedelta(seconds=d.settings.delivery_lease_seconds)
    claimed = asyncio.get_running_loop().time()
    async with d.pool.acquire() as conn:
        rows = await deliveries.claim_round(conn, now, lease_expired_before, d.settings.dispatch_batch_size)
        if not rows:
            return []
        # Claimed and committed: should a read fail from here on, the lease brings the rows back.
        notices = await deliveries.notices_of(conn, sorted({r["event_id"] for r in rows}))
        contact_ids = sorted({r["contact_id"] for r in rows if r["contact_id"] is not None})
        contacts = await partners.contacts_by_id(conn, contact_ids) if contact_ids else {}
        webhook_ids = sorted({r["webhook_id"] for r in rows if r["webhook_id"] is not None})
        hooks = await partners.webhooks_by_id(conn, webhook_ids) if webhook_ids else {}
    # A mail is not started once it could not finish, and the round be recorded, before the claim's lease ends (the
    # timeout bounds one mail): past the lease another dispatcher may claim the row and send it again.
    lease, timeout = d.settings.delivery_lease_seconds, d.mailer.timeout
    deadline = claimed + lease - timeout - min(RECORDING_SHARE * lease, (lease - timeout) / 2)
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            d.outbound.client(verify=_TLS, follow_redirects=False) if d.outbound is not None
            else httpx.AsyncClient(follow_redirects=False, verify=_TLS))
        # Mails go one after the other on a connection; a few connections let the next mail be composed and sent
        # while the relay answers the previous one. Opening one costs a connect, EHLO and QUIT, so a small round
        # (the usual one, woken by each consumed batch) keeps to one connection.
        lanes = [await stack.enter_async_context(d.mailer.session(deadline=deadline))
                 for _ in range(min(d.settings.smtp_connections, -(-len(rows) // MAILS_PER_CONNECTION)))]
        results = await asyncio.gather(
            *(_deliver(d, client, lanes[i % len(lanes)], row, notices.get(row["event_id"]), contacts, hooks)
              for i, row in enumerate(rows)))
    return await _record_round(d, [_Sent(row, result, notices.get(row["event_id"]))
                                   for row, result in zip(rows, results, strict=True)])


@dataclass(frozen=True)
class _Sent:
    row: asyncpg.Record  # as claimed: `attempts` is the number of this attempt
    result: _Result
    notice: asyncpg.Record | None


async def _deliver(d: Dispatcher, client: httpx.AsyncClient, mail: MailSession, row: asyncpg.Record,
                   notice: asyncpg.Record | None, contacts: dict[uuid.UUID, asyncpg.Record],
                   hooks: dict[uuid.UUID, asyncpg.Record]) -> _Result:
    try:
        if notice is None or notice["data"] is None:
            prepared: _Result | Send = _Result("final", error="event data no longer available")
        elif row["channel"] == "webhook":
            prepared = _prepare_webhook(d, client, row, notice, hooks)
        else:
            prepared = _prepare_mail(d, mail, row, notice, contacts)
        return prepared if isinstance(prepared, _Result) else await prepared()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug: recorded as an error, so the delivery is retried
        log.exception("delivery attempt crashed", extra={"delivery_id": str(row["id"])})
        return _Result("error", error=type(exc).__name__)


def _prepare_webhook(d: Dispatcher, client: httpx.AsyncClient, row: asyncpg.Record, notice: asyncpg.Record,
                     hooks: dict[uuid.UUID, asyncpg.Record]) -> _Result | Send:
    hook = hooks.get(row["webhook_id"]) if row["webhook_id"] else None
    if hook is None or hook["disabled_at"] is not None:
        return _Result("final", error="endpoint disabled")
    cls = BY_NAME[notice["event_type"]]
    body = json.dumps(
        {"id": notice["event_id"], "type": cls.TYPE, "event": notice["event_type"],
         "time": notice["occurred_at"].isoformat(), "data": partner_view(cls.model_validate(notice["data"]))},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode()
    url, secret = hook["url"], hook["secret"]

    async def send() -> _Result:
        timestamp = int(d.clock().timestamp())
        headers = webhook_headers(secret, row["message_id"], timestamp, body)
        sent = await post(client, url, body, headers, d.settings.webhook_timeout_seconds)
        return _Result("delivered" if sent.ok else "error", sent.status, sent.error)

    return send


def _prepare_mail(d: Dispatcher, mail: MailSession, row: asyncpg.Record, notice: asyncpg.Record,
                  contacts: dict[uuid.UUID, asyncpg.Record]) -> _Result | Send:
    data: dict[str, Any] = dict(notice["data"])
    unsubscribe_url = None
    greeting: str | None = None
    if row["contact_id"] is not None:
        contact = contacts.get(row["contact_id"])
        if contact is None or (contact["unsubscribed_at"] is not None and not row["transactional"]):
            return _Result("skipped", error="recipient unsubscribed or erased")
        to, greeting = contact["email"], contact["name"]
        if not row["transactional"]:
            token = unsubscribe_token(d.settings.signing_secret, str(contact["id"]), now=d.clock().timestamp())
            unsubscribe_url = f"{d.settings.public_base_url.rstrip('/')}/unsubscribe/{token}"
    elif row["recipient"] == "admins":
        if not d.settings.admin_addresses:
            return _Result("skipped", error="no ADMIN_EMAILS configured")
        to, greeting = ", ".join(d.settings.admin_addresses), "beheerder"
    elif row["address"]:
        to = row["address"]
        greeting = data.get("name") or data.get("organisation")
    else:
        return _Result("skipped", error="no address")
    if row["kind"] in ("signup", "activity", "mention") and not row["transactional"]:
        data = partner_view(BY_NAME[notice["event_type"]].model_validate(data))
    message = compose(
        kind=row["kind"], event_name=notice["event_type"], data=data, to=to, greeting_name=greeting,
        message_id=row["message_id"], sender=d.settings.mail_from, unsubscribe_url=unsubscribe_url,
        partner=not row["transactional"],
    )

    async def send() -> _Result:
        try:
            await mail.send(message)
        except aiosmtplib.SMTPResponseException as exc:
            # The SMTP text may echo the address; keep only the code.
            return _Result("final" if 500 <= exc.code < 600 else "error", exc.code, f"SMTP {exc.code}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return _Result("error", error=type(exc).__name__)
        return _Result("delivered")

    return send


async def _record_round(d: Dispatcher, sent: list[_Sent]) -> list[Outcome]:
    """The outcomes of a round in one transaction; should it fail, each delivery in a transaction of its own, so
    that one bad row does not keep the others from being recorded. An outcome not recorded leaves its row claimed
    ('sending'): once the lease expires the row is sent again, with the same webhook-id / Message-ID."""
    try:
        async with d.pool.acquire() as conn, conn.transaction():
            outbox = OutboxRows()
            outcomes = await _record(d, conn, outbox, sent)
            await outbox.write(conn)
        return outcomes
    except asyncio.CancelledError:
        raise
    except Exception:
        if len(sent) == 1:
            log.exception("recording a delivery outcome failed", extra={"delivery_id": str(sent[0].row["id"])})
            return []
        log.exception("recording a dispatch round failed; recording its deliveries one by one")
    outcomes = []
    for one in sent:
        try:
            async with d.pool.acquire() as conn, conn.transaction():
                outcomes += await _record(d, conn, conn, [one])
        except asyncio.CancelledError:
            raise
        except Exception:  # the lease brings the row back
            log.exception("recording a delivery outcome failed", extra={"delivery_id": str(one.row["id"])})
    return outcomes


async def _record(d: Dispatcher, conn: asyncpg.Connection, outbox: asyncpg.Connection | OutboxRows,
                  sent: list[_Sent]) -> list[Outcome]:
    """Attempts and statuses with one statement each for the whole round; the events go to `outbox` (the connection,
    or the runtime's `OutboxRows` collecting them for one write); only a webhook failure's bookkeeping is per
    delivery."""
    now = d.clock()
    attempts: list[deliveries.AttemptOutcome] = []
    states: list[deliveries.DeliveryOutcome] = []
    outcomes: list[Outcome] = []
    succeeded: list[uuid.UUID] = []
    failed: list[_Sent] = []
    webhook_failures: list[asyncpg.Record] = []
    for one in sent:
        row, result, attempt = one.row, one.result, one.row["attempts"]
        channel = row["channel"]
        outcome = {"delivered": "delivered", "skipped": "skipped"}.get(result.status, "error")
        attempts.append((row["id"], attempt, outcome, result.http_status, result.error))
        if result.status == "delivered":
            states.append((row["id"], "delivered", None, None))
            await add_event(outbox, _delivery_event(NotificationDelivered, row, attempt, now), source=d.source)
            if row["webhook_id"]:
                succeeded.append(row["webhook_id"])
            outcomes.append(Outcome(channel, "delivered"))
            continue
        if result.status == "skipped":
            states.append((row["id"], "skipped", None, result.error))
            outcomes.append(Outcome(channel, "skipped"))
            continue
        schedule = d.settings.webhook_schedule if channel == "webhook" else d.settings.mail_schedule
        delay = None if result.status == "final" else retry_delay(schedule, attempt, d.settings.retry_jitter, d.rand)
        if delay is not None:
            states.append((row["id"], "retrying", now + delay, result.error))
            outcomes.append(Outcome(channel, "retrying"))
        else:
            states.append((row["id"], "failed", None, result.error or "failed"))
            failed.append(one)
            outcomes.append(Outcome(channel, "failed"))
        if row["webhook_id"] and result.error != "endpoint disabled":
            webhook_failures.append(row)
    await deliveries.finish_attempts(conn, now, attempts)
    await deliveries.set_outcomes(conn, now, states)
    for one in failed:
        await _failed(d, outbox, one.row, one.row["attempts"], one.result.error or "failed", one.notice, now)
    await partners.webhooks_succeeded(conn, sorted(set(succeeded)))
    if webhook_failures:
        failing_since = await partners.webhooks_failed(conn, sorted({r["webhook_id"] for r in webhook_failures}), now)
        for row in webhook_failures:
            since = failing_since.get(row["webhook_id"])
            if since is not None and now - since >= d.settings.disable_after:
                outcomes += await _disable_webhook(d, conn, outbox, row, since, now)
    return outcomes


async def _failed(d: Dispatcher, outbox: asyncpg.Connection | OutboxRows, row: asyncpg.Record, attempt: int, error: str,
                  notice: asyncpg.Record | None, now: datetime) -> None:
    """Failed for good (the status set by the caller): the event and the dead letter, in the same transaction."""
    log.warning("delivery failed", extra={"delivery_id": str(row["id"]), "channel": row["channel"],
                                          "attempts": attempt, "error": error})
    await add_event(outbox, _delivery_event(NotificationFailed, row, attempt, now, error=error), source=d.source)
    cls = BY_NAME.get(notice["event_type"]) if notice is not None else None
    if notice is None or notice["origin_topic"] is None or notice["data"] is None or cls is None:
        return  # digests and service notices have no origin topic to dead-letter to
    await add_dead_letter(
        outbox, origin_topic=notice["origin_topic"], key=str(notice["data"].get(cls.KEY_FIELD, "")),
        headers=notice["headers"], payload=cls.model_validate(notice["data"]).model_dump_json().encode(),
        error_class="NotificationDeliveryFailed", error_message=error, group=d.settings.consumer_group,
        attempts=attempt, at=now,
        extra={"delivery_id": str(row["id"]), "channel": row["channel"], "message_id": row["message_id"]},
    )


async def _disable_webhook(d: Dispatcher, conn: asyncpg.Connection, outbox: asyncpg.Connection | OutboxRows,
                           row: asyncpg.Record, since: datetime, now: datetime) -> list[Outcome]:
    """Failures spanning WEBHOOK_DISABLE_AFTER disable the endpoint and tell the partner's contacts by mail."""
    if not await partners.disable_webhook(conn, row["webhook_id"], now):
        return []
    hook = await partners.webhook(conn, row["webhook_id"])
    log.warning("webhook disabled", extra={"webhook_id": str(row["webhook_id"]), "partner_id": row["partner_id"]})
    notice_id = f"webhook-disabled:{row['webhook_id']}"
    await deliveries.add_notice(conn, event_id=notice_id, event_type="WebhookDisabled", origin_topic=None,
                                occurred_at=now, headers=[],
                                data={"url": hook["url"], "failing_since": since.isoformat()})
    for contact in await partners.contacts_of(conn, hook["partner_id"], subscribed_only=True):
        await deliveries.add_delivery(
            conn, event_id=notice_id, event_type="WebhookDisabled", kind="webhook_disabled", channel="email",
            recipient=f"contact:{contact['id']}", partner_id=hook["partner_id"], contact_id=contact["id"],
            transactional=True, due=now,
        )
    others = await deliveries.open_for_webhook(conn, row["webhook_id"])
    notices = await deliveries.notices_of(conn, sorted({o["event_id"] for o in others})) if others else {}
    failed = []
    for other in others:
        await deliveries.set_outcome(conn, other["id"], status="failed", now=now, error="endpoint disabled")
        await _failed(d, outbox, other, other["attempts"], "endpoint disabled", notices.get(other["event_id"]), now)
        failed.append(Outcome("webhook", "failed"))
    return failed


def _delivery_event(cls: type[NotificationDelivered] | type[NotificationFailed], row: asyncpg.Record, attempt: int,
                    now: datetime, **extra: str) -> NotificationDelivered | NotificationFailed:
    return cls(delivery_id=str(row["id"]), event_id=row["event_id"], event_type=row["event_type"],
               channel=row["channel"], partner_id=row["partner_id"], attempts=attempt, at=now, **extra)
