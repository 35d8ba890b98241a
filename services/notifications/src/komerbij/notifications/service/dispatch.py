"""Use case: send the deliveries that are due, exactly one message per delivery as far as a receiver can tell.

Per round: (1) one statement claims the due rows (`FOR UPDATE SKIP LOCKED`) and records their attempts; (2) the
messages go out, each carrying the `webhook-id` / `Message-ID` fixed when its row was created; (3) one transaction
records every outcome, the next retries or the failures, and the `NotificationDelivered` / `NotificationFailed`
events (outbox). What a round reads (notices, contacts, webhooks) is one query per table, so PostgreSQL is asked a
few times per round, not per delivery.

What that guarantees: a row is never sent by two dispatchers at once, and a redelivered event never makes a second
row. The claim is a lease on the database's clock; a round that outlives it (a paused process) records nothing of a
row another dispatcher has claimed since (the attempt number fences it), and the events of an outcome have ids
derived from the delivery and the attempt, so recording one twice cannot make two events. No send is started that
could not end within the lease. If the process dies between (1) and (3), nobody knows whether the receiver got the
message; once the lease expires the row is sent again with the same id. So the transport is at-least-once and a
receiver that dedupes by `webhook-id` (as Standard Webhooks asks) or `Message-ID` processes each delivery exactly
once. A stopping service (`stopping` set) starts no more sends, lets those in flight end and records them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosmtplib
import asyncpg
import httpx

from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.events import BY_NAME
from komerbij.contracts.events.notifications import NotificationDelivered, NotificationFailed
from komerbij.notifications.adapters import deliveries, partners, webhooks
from komerbij.notifications.adapters.deadletters import add_dead_letter
from komerbij.notifications.adapters.mail import (
    Mailer,
    MailSession,
    SendWindowClosed,
    SMTPUnavailable,
    SomeRecipientsRefused,
    compose,
)
from komerbij.notifications.domain.links import Links
from komerbij.notifications.domain.retries import deferral_delay, retry_delay
from komerbij.notifications.domain.routing import participant_view, partner_view
from komerbij.notifications.domain.signatures import preferences_token, unsubscribe_token, webhook_headers
from komerbij.notifications.settings import Settings
from komerbij.runtime import logs
from komerbij.runtime.outbound import OutboundPolicy
from komerbij.runtime.outbox import OutboxRows, add_record

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
    # delivered | error | skipped | final (an error no retry can fix) | deferred (the relay took no mail at all: not
    # the mail's fault, retried without counting) | released (not started: out of time, or the service stopping)
    status: str
    http_status: int | None = None
    error: str | None = None
    retry_to: str | None = None  # of several recipients, those a retry goes to (the others have it)


Send = Callable[[], Awaitable[_Result]]
RECORDING_SHARE = 0.1  # of the lease (at most half of what a mail leaves), kept free for recording the round
MAILS_PER_CONNECTION = 8  # a round opens another SMTP connection (up to SMTP_CONNECTIONS) per this many deliveries
# How an attempt's result shows in the delivery log (delivery_attempts.outcome); anything else is an error.
_LOGGED = {"delivered": "delivered", "skipped": "skipped", "deferred": "deferred"}
# Ids of NotificationDelivered / NotificationFailed: uuid5 of the delivery, its attempt and the event type.
_EVENT_IDS = uuid.UUID("5d1c7e0a-3f0b-4b7e-9a53-6b1f2c8e4d10")


async def dispatch_due(d: Dispatcher, now: datetime, stopping: asyncio.Event | None = None) -> list[Outcome]:
    """One round: claim (one statement), read what the messages need (a query per table), send, record (one
    transaction). PostgreSQL is asked a few times per round whatever its size, not a few times per delivery.

    `now` is the service's time, by which deliveries are due; `stopping`, once set, starts no further send."""
    claimed = asyncio.get_running_loop().time()  # before the claim: the lease ends no earlier than this says
    lease = d.settings.delivery_lease_seconds
    async with d.pool.acquire() as conn:
        rows = await deliveries.claim_round(conn, now, lease, d.settings.dispatch_batch_size)
        if not rows:
            return []
        # Claimed and committed: should a read fail from here on, the lease brings the rows back.
        notices = await deliveries.notices_of(conn, sorted({r["event_id"] for r in rows}))
        contact_ids = sorted({r["contact_id"] for r in rows if r["contact_id"] is not None})
        contacts = await partners.contacts_by_id(conn, contact_ids) if contact_ids else {}
        webhook_ids = sorted({r["webhook_id"] for r in rows if r["webhook_id"] is not None})
        hooks = await partners.webhooks_by_id(conn, webhook_ids) if webhook_ids else {}
    # Every send ends, and the round is recorded, before the claim's lease does: past it another dispatcher may
    # claim a row and send it again. So no mail is started that its timeout could carry past `sends_end`, and a
    # webhook request gets at most what is left until then.
    timeout = d.mailer.timeout
    sends_end = claimed + lease - min(RECORDING_SHARE * lease, (lease - timeout) / 2)
    round_ = _Round(d, stopping or asyncio.Event(), sends_end)
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(webhooks.client(d.outbound))
        # Mails go one after the other on a connection; a few connections let the next mail be composed and sent
        # while the relay answers the previous one. Opening one costs a connect, EHLO and QUIT, so a small round
        # (the usual one, woken by each consumed batch) keeps to one connection.
        lanes = [await stack.enter_async_context(d.mailer.session(deadline=sends_end - timeout,
                                                                  stopping=round_.stopping))
                 for _ in range(min(d.settings.smtp_connections, -(-len(rows) // MAILS_PER_CONNECTION)))]
        results = await asyncio.gather(
            *(round_.deliver(client, lanes[i % len(lanes)], row, notices.get(row["event_id"]), contacts, hooks)
              for i, row in enumerate(rows)))
        # Recorded before the connections are closed: a relay slow to answer QUIT must not hold the record back.
        return await _record_round(d, [_Sent(row, result, notices.get(row["event_id"]))
                                       for row, result in zip(rows, results, strict=True)])


@dataclass(frozen=True)
class _Sent:
    row: asyncpg.Record  # as claimed: `attempts` is the number of this attempt
    result: _Result
    notice: asyncpg.Record | None


@dataclass(frozen=True)
class _Round:
    d: Dispatcher
    stopping: asyncio.Event
    sends_end: float  # loop time

    async def deliver(self, client: httpx.AsyncClient, mail: MailSession, row: asyncpg.Record,
                      notice: asyncpg.Record | None, contacts: dict[uuid.UUID, asyncpg.Record],
                      hooks: dict[uuid.UUID, asyncpg.Record]) -> _Result:
        d = self.d
        try:
            if notice is None or notice["data"] is None:
                prepared: _Result | Send = _Result("final", error="event data no longer available")
            elif row["channel"] == "webhook":
                prepared = _prepare_webhook(d, client, row, notice, hooks, self)
            else:
                prepared = _prepare_mail(d, mail, row, notice, contacts)
            return prepared if isinstance(prepared, _Result) else await prepared()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: recorded as an error, so the delivery is retried
            log.exception("delivery attempt crashed", extra={"delivery_id": str(row["id"])})
            return _Result("error", error=type(exc).__name__)

    def webhook_budget(self) -> float | None:
        """Seconds a webhook request may take from now; None when it must not start (stopping, or out of time)."""
        left = self.sends_end - asyncio.get_running_loop().time()
        if self.stopping.is_set() or left <= 0:
            return None
        return min(self.d.settings.webhook_timeout_seconds, left)


def _prepare_webhook(d: Dispatcher, client: httpx.AsyncClient, row: asyncpg.Record, notice: asyncpg.Record,
                     hooks: dict[uuid.UUID, asyncpg.Record], round_: _Round) -> _Result | Send:
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
        budget = round_.webhook_budget()
        if budget is None:
            return _Result("released")
        timestamp = int(d.clock().timestamp())
        headers = webhook_headers(secret, row["message_id"], timestamp, body)
        sent = await webhooks.post(client, url, body, headers, budget)
        return _Result("delivered" if sent.ok else "error", sent.status, sent.error)

    return send


def _prepare_mail(d: Dispatcher, mail: MailSession, row: asyncpg.Record, notice: asyncpg.Record,
                  contacts: dict[uuid.UUID, asyncpg.Record]) -> _Result | Send:
    data: dict[str, Any] = dict(notice["data"])
    unsubscribe_url = None
    greeting: str | None = None
    recipients: list[str] | None = None  # the envelope's, when not every address in To
    addressed = 1  # how many the mail is for
    links = Links(d.settings.pages_base)
    if row["contact_id"] is not None:
        contact = contacts.get(row["contact_id"])
        if contact is None or (contact["unsubscribed_at"] is not None and not row["transactional"]):
            return _Result("skipped", error="recipient unsubscribed or erased")
        to, greeting = contact["email"], contact["name"]
        signed_at = d.clock().timestamp()
        # Every mail to a partner's contact leads to their preferences page; the one-click link stays as it was.
        links = Links(d.settings.pages_base, preferences_token(d.settings.signing_secret, str(contact["id"]),
                                                               now=signed_at))
        if not row["transactional"]:
            token = unsubscribe_token(d.settings.signing_secret, str(contact["id"]), now=signed_at)
            unsubscribe_url = f"{d.settings.public_base_url.rstrip('/')}/unsubscribe/{token}"
    elif row["recipient"] == "admins":
        if not d.settings.admin_addresses:
            return _Result("skipped", error="no ADMIN_EMAILS configured")
        to, greeting = ", ".join(d.settings.admin_addresses), "beheerder"
        addressed = len(d.settings.admin_addresses)
        if row["address"]:  # an earlier attempt reached the others; only these are still to get it
            recipients = row["address"].split(", ")
            addressed = len(recipients)
    elif row["address"]:
        to = row["address"]
        greeting = data.get("name") or data.get("organisation")
    else:
        return _Result("skipped", error="no address")
    if row["kind"] in ("signup", "activity", "mention") and not row["transactional"]:
        data = partner_view(BY_NAME[notice["event_type"]].model_validate(data))
    elif row["kind"] == "signup":
        data = participant_view(data, d.settings.cancel_link_key)
    message = compose(
        kind=row["kind"], event_name=notice["event_type"], data=data, to=to, greeting_name=greeting,
        message_id=row["message_id"], sender=d.settings.mail_from, unsubscribe_url=unsubscribe_url,
        partner=not row["transactional"], links=links, stamp=notice["occurred_at"],
    )

    async def send() -> _Result:
        try:
            await mail.send(message, recipients)
        except SendWindowClosed:
            return _Result("released")
        except SMTPUnavailable as exc:
            return _Result("deferred", exc.code, str(exc))
        except SomeRecipientsRefused as exc:
            return _refusals(exc.refused, addressed)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return _refusals({r.recipient: r.code for r in exc.recipients}, addressed)
        except aiosmtplib.SMTPResponseException as exc:
            # The SMTP text may echo the address; keep only the code.
            return _Result("final" if 500 <= exc.code < 600 else "error", exc.code, f"SMTP {exc.code}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return _Result("error", error=type(exc).__name__)
        return _Result("delivered")

    return send


def _refusals(refused: dict[str, int], addressed: int) -> _Result:
    """Some or all recipients refused by the relay: a refusal for now (4xx) is retried for those recipients only
    (the others have the mail); one for good (5xx) is kept in the attempt's log. Counts and codes, no addresses."""
    later = [address for address, code in refused.items() if code < 500]
    codes = ", ".join(str(code) for code in sorted(set(refused.values())))
    error = f"SMTP {codes}: refused for {len(refused)} of {addressed} recipients"
    if later:
        return _Result("error", min(refused.values()), error, retry_to=", ".join(later))
    if len(refused) < addressed:
        return _Result("delivered", min(refused.values()), error)
    return _Result("final", min(refused.values()), error)


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
    """Attempts, then statuses, with one statement each for the whole round; the events go to `outbox` (the
    connection, or the runtime's `OutboxRows` collecting them for one write); only a webhook failure's bookkeeping
    is per delivery. Statuses change only where this round's attempt still holds the row (`finish_attempts` says
    which, and locks them), and only those rows get events, dead letters and webhook bookkeeping."""
    now = d.clock()
    tried = [(one, _next_state(d, one, now)) for one in sent if one.result.status != "released"]
    held = await deliveries.finish_attempts(conn, now, [
        (one.row["id"], one.row["attempts"], _LOGGED.get(one.result.status, "error"), one.result.http_status,
         one.result.error) for one, _ in tried])
    await deliveries.set_outcomes(conn, now, [(one.row["id"], one.row["attempts"], *state, one.result.retry_to)
                                              for one, state in tried])
    await deliveries.release(conn, [(one.row["id"], one.row["attempts"]) for one in sent
                                    if one.result.status == "released"])
    lost = [str(one.row["id"]) for one, _ in tried if one.row["id"] not in held]
    if lost:
        log.warning("lease ran out before the outcome was recorded; another dispatcher has the rows now",
                    extra={"delivery_ids": lost})
    outcomes: list[Outcome] = []
    succeeded: list[uuid.UUID] = []
    webhook_failures: list[asyncpg.Record] = []
    for one, (status, _, error) in tried:
        row = one.row
        if row["id"] not in held:
            continue
        outcomes.append(Outcome(row["channel"], status))
        if status == "delivered":
            await _add_delivery_event(d, outbox, NotificationDelivered, row, now)
            if row["webhook_id"]:
                succeeded.append(row["webhook_id"])
        elif status == "failed":
            await _failed(d, outbox, row, row["attempts"], error or "failed", one.notice, now)
        if row["webhook_id"] and status != "delivered" and status != "skipped" and error != "endpoint disabled":
            webhook_failures.append(row)
    await partners.webhooks_succeeded(conn, sorted(set(succeeded)))
    if webhook_failures:
        failing_since = await partners.webhooks_failed(conn, sorted({r["webhook_id"] for r in webhook_failures}), now)
        for row in webhook_failures:
            since = failing_since.get(row["webhook_id"])
            if since is not None and now - since >= d.settings.disable_after:
                outcomes += await _disable_webhook(d, conn, outbox, row, since, now)
    return outcomes


def _next_state(d: Dispatcher, one: _Sent, now: datetime) -> tuple[str, datetime | None, str | None]:
    """The delivery's status after this attempt, when it is tried next (None: unchanged) and its last error."""
    row, result = one.row, one.result
    if result.status == "delivered":
        return "delivered", None, None
    if result.status == "skipped":
        return "skipped", None, result.error
    schedule = d.settings.webhook_schedule if row["channel"] == "webhook" else d.settings.mail_schedule
    if result.status == "deferred":  # the relay's trouble, not the mail's: wait, but never give up on the mail
        return "retrying", now + deferral_delay(schedule, row["deferrals"] + 1, d.settings.retry_jitter,
                                                d.rand), result.error
    tried = row["attempts"] - row["deferrals"]  # the attempts the relay took, this one included
    delay = None if result.status == "final" else retry_delay(schedule, tried, d.settings.retry_jitter, d.rand)
    if delay is None:
        return "failed", None, result.error or "failed"
    return "retrying", now + delay, result.error


async def _failed(d: Dispatcher, outbox: asyncpg.Connection | OutboxRows, row: asyncpg.Record, attempt: int, error: str,
                  notice: asyncpg.Record | None, now: datetime) -> None:
    """Failed for good (the status set by the caller): the event and the dead letter, in the same transaction."""
    log.warning("delivery failed", extra={"delivery_id": str(row["id"]), "channel": row["channel"],
                                          "attempts": attempt, "error": error})
    await _add_delivery_event(d, outbox, NotificationFailed, row, now, attempt=attempt, error=error)
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


async def _add_delivery_event(d: Dispatcher, outbox: asyncpg.Connection | OutboxRows,
                              cls: type[NotificationDelivered] | type[NotificationFailed], row: asyncpg.Record,
                              now: datetime, *, attempt: int | None = None, **extra: str) -> None:
    """The event of a delivery's outcome, in the recording transaction. Its id follows from the delivery, the attempt
    and the type, so however often an outcome were recorded, consumers (deduping by id) would see one event. (The
    runtime's `add_event` draws a random id, hence the CloudEvents attributes made here.)"""
    attempt = row["attempts"] if attempt is None else attempt
    event = cls(delivery_id=str(row["id"]), event_id=row["event_id"], event_type=row["event_type"],
                channel=row["channel"], partner_id=row["partner_id"], attempts=attempt, at=now, **extra)
    event_id = uuid.uuid5(_EVENT_IDS, f"{row['id']}/{attempt}/{cls.TYPE}")
    attrs = CloudEventAttributes(id=str(event_id), source=d.source, type=cls.TYPE, time=now, subject=event.key,
                                 correlationid=logs.correlation_id.get())
    await add_record(outbox, topic=cls.TOPIC, key=event.key, type_=cls.TYPE,
                     headers=[[name, value.decode()] for name, value in to_kafka_headers(attrs)],
                     payload=event.model_dump_json().encode(), record_id=event_id)
