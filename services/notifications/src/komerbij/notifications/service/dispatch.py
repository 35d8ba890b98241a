"""Use case: send the deliveries that are due, exactly one message per delivery as far as a receiver can tell.

Per delivery: (1) one transaction claims the row (`FOR UPDATE SKIP LOCKED`) and records the attempt; (2) the message
goes out, carrying the `webhook-id` / `Message-ID` fixed when the row was created; (3) a second transaction records
the outcome, the next retry or the failure, and the `NotificationDelivered` / `NotificationFailed` event (outbox).

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
from collections.abc import Awaitable, Callable
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
from komerbij.runtime.outbox import add_event

log = logging.getLogger(__name__)


@dataclass
class Dispatcher:
    pool: asyncpg.Pool
    settings: Settings
    mailer: Mailer
    source: str
    clock: Callable[[], datetime]
    rand: random.Random | None = None


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


async def dispatch_due(d: Dispatcher, now: datetime) -> list[Outcome]:
    lease_expired_before = now - timedelta(seconds=d.settings.delivery_lease_seconds)
    async with d.pool.acquire() as conn, conn.transaction():
        rows = await deliveries.claim_due(conn, now, lease_expired_before, d.settings.dispatch_batch_size)
        for row in rows:
            await deliveries.start_attempt(conn, row["id"], row["attempts"] + 1, now)
    if not rows:
        return []
    # A mail is not started once it could not finish before the lease ends (the timeout bounds one mail).
    deadline = asyncio.get_running_loop().time() + d.settings.delivery_lease_seconds - d.mailer.timeout
    async with (httpx.AsyncClient(follow_redirects=False, verify=_TLS) as client,
                d.mailer.session(deadline=deadline) as mail):
        results = await asyncio.gather(*(_deliver(d, client, mail, row, row["attempts"] + 1) for row in rows),
                                       return_exceptions=True)
    outcomes: list[Outcome] = []
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, BaseException):  # outcome not recorded: the lease brings the row back
            log.error("recording a delivery outcome failed", exc_info=result, extra={"delivery_id": str(row["id"])})
        else:
            outcomes += result
    return outcomes


async def _deliver(d: Dispatcher, client: httpx.AsyncClient, mail: MailSession, row: asyncpg.Record,
                   attempt: int) -> list[Outcome]:
    notice: asyncpg.Record | None = None
    try:
        # Read what the message needs, then give the connection back: a send may take WEBHOOK_TIMEOUT_SECONDS.
        async with d.pool.acquire() as conn:
            notice = await deliveries.notice(conn, row["event_id"])
            if notice is None or notice["data"] is None:
                prepared: _Result | Send = _Result("final", error="event data no longer available")
            elif row["channel"] == "webhook":
                prepared = await _prepare_webhook(d, conn, client, row, notice)
            else:
                prepared = await _prepare_mail(d, conn, mail, row, notice)
        result = prepared if isinstance(prepared, _Result) else await prepared()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug or a database hiccup: the row stays claimed and the lease brings it back
        log.exception("delivery attempt crashed", extra={"delivery_id": str(row["id"])})
        result = _Result("error", error=type(exc).__name__)
    return await _record(d, row, attempt, result, notice)


async def _prepare_webhook(d: Dispatcher, conn: asyncpg.Connection, client: httpx.AsyncClient,
                           row: asyncpg.Record, notice: asyncpg.Record) -> _Result | Send:
    hook = await partners.webhook(conn, row["webhook_id"]) if row["webhook_id"] else None
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


async def _prepare_mail(d: Dispatcher, conn: asyncpg.Connection, mail: MailSession, row: asyncpg.Record,
                        notice: asyncpg.Record) -> _Result | Send:
    data: dict[str, Any] = dict(notice["data"])
    unsubscribe_url = None
    greeting: str | None = None
    if row["contact_id"] is not None:
        contact = await partners.contact(conn, row["contact_id"])
        if contact is None or (contact["unsubscribed_at"] is not None and not row["transactional"]):
            return _Result("skipped", error="recipient unsubscribed or erased")
        to, greeting = contact["email"], contact["name"]
        if not row["transactional"]:
            token = unsubscribe_token(d.settings.signing_secret, str(contact["id"]))
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


async def _record(d: Dispatcher, row: asyncpg.Record, attempt: int, result: _Result,
                  notice: asyncpg.Record | None) -> list[Outcome]:
    now = d.clock()
    channel = row["channel"]
    outcomes: list[Outcome] = []
    async with d.pool.acquire() as conn, conn.transaction():
        outcome = {"delivered": "delivered", "skipped": "skipped"}.get(result.status, "error")
        await deliveries.finish_attempt(conn, row["id"], attempt, now, outcome=outcome,
                                        http_status=result.http_status, error=result.error)
        if result.status == "delivered":
            await deliveries.set_outcome(conn, row["id"], status="delivered", now=now)
            await add_event(conn, _delivery_event(NotificationDelivered, row, attempt, now), source=d.source)
            if row["webhook_id"]:
                await partners.webhook_succeeded(conn, row["webhook_id"])
            return [Outcome(channel, "delivered")]
        if result.status == "skipped":
            await deliveries.set_outcome(conn, row["id"], status="skipped", now=now, error=result.error)
            return [Outcome(channel, "skipped")]
        schedule = d.settings.webhook_schedule if channel == "webhook" else d.settings.mail_schedule
        delay = None if result.status == "final" else retry_delay(schedule, attempt, d.settings.retry_jitter, d.rand)
        if delay is not None:
            await deliveries.set_outcome(conn, row["id"], status="retrying", now=now, next_attempt_at=now + delay,
                                         error=result.error)
            outcomes.append(Outcome(channel, "retrying"))
        else:
            await _fail(d, conn, row, attempt, result.error or "failed", notice, now)
            outcomes.append(Outcome(channel, "failed"))
        if row["webhook_id"] and result.error != "endpoint disabled":
            outcomes += await _count_webhook_failure(d, conn, row, now)
    return outcomes


async def _fail(d: Dispatcher, conn: asyncpg.Connection, row: asyncpg.Record, attempt: int, error: str,
                notice: asyncpg.Record | None, now: datetime) -> None:
    """Failed for good: the status, the event and the dead letter commit together."""
    log.warning("delivery failed", extra={"delivery_id": str(row["id"]), "channel": row["channel"],
                                          "attempts": attempt, "error": error})
    await deliveries.set_outcome(conn, row["id"], status="failed", now=now, error=error)
    await add_event(conn, _delivery_event(NotificationFailed, row, attempt, now, error=error), source=d.source)
    cls = BY_NAME.get(notice["event_type"]) if notice is not None else None
    if notice is None or notice["origin_topic"] is None or notice["data"] is None or cls is None:
        return  # digests and service notices have no origin topic to dead-letter to
    await add_dead_letter(
        conn, origin_topic=notice["origin_topic"], key=str(notice["data"].get(cls.KEY_FIELD, "")),
        headers=notice["headers"], payload=cls.model_validate(notice["data"]).model_dump_json().encode(),
        error_class="NotificationDeliveryFailed", error_message=error, group=d.settings.consumer_group,
        attempts=attempt, at=now,
        extra={"delivery_id": str(row["id"]), "channel": row["channel"], "message_id": row["message_id"]},
    )


async def _count_webhook_failure(d: Dispatcher, conn: asyncpg.Connection, row: asyncpg.Record,
                                 now: datetime) -> list[Outcome]:
    """Failures spanning WEBHOOK_DISABLE_AFTER disable the endpoint and tell the partner's contacts by mail."""
    since = await partners.webhook_failed(conn, row["webhook_id"], now)
    if now - since < d.settings.disable_after:
        return []
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
    failed = []
    for other in await deliveries.open_for_webhook(conn, row["webhook_id"]):
        other_notice = await deliveries.notice(conn, other["event_id"])
        await _fail(d, conn, other, other["attempts"], "endpoint disabled", other_notice, now)
        failed.append(Outcome("webhook", "failed"))
    return failed


def _delivery_event(cls: type[NotificationDelivered] | type[NotificationFailed], row: asyncpg.Record, attempt: int,
                    now: datetime, **extra: str) -> NotificationDelivered | NotificationFailed:
    return cls(delivery_id=str(row["id"]), event_id=row["event_id"], event_type=row["event_type"],
               channel=row["channel"], partner_id=row["partner_id"], attempts=attempt, at=now, **extra)
