"""Use cases of the nieuwsflits: take in a sent edition, release its mails at the pace the relay accepts, and report
how far the delivery has come.

- `take_edition` runs in the consumer's inbox transaction: the edition's notice (the event, whose bodies media
  rendered) and one recipient row per contact subscribed to the nieuwsflits at that moment. Nothing is sent yet.
- `release` (a job) turns waiting recipients into deliveries, NEWSLETTER_MAILS_PER_SECOND on average over all
  replicas (they share one locked pace row), never more than a second's worth at once: after a pause or a restart
  the backlog is not sent in a burst. From there the dispatcher sends them as every other mail (lease, retries,
  RFC 8058 headers, the /voorkeuren link), its unique key (notice id, contact, channel) holding the one mail per
  contact per edition.
- `report` (a job) writes `NewsletterProgress` (through the outbox) when the counts changed, so media shows
  "sent of total" on the edition's page without asking notifications anything.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

import asyncpg

from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.events.newsletter import NewsletterProgress, NewsletterSent
from komerbij.notifications.adapters import deliveries, newsletters
from komerbij.notifications.service.routing import MESSAGE_DOMAIN
from komerbij.notifications.settings import settings_of
from komerbij.runtime.service import Runtime

KIND = "newsletter"
EVENT_TYPE = "NewsletterSent"
BURST = timedelta(seconds=1)  # the most budget a pause may save up


def notice_id_of(edition_id: str) -> str:
    """One notice per edition, whatever the id of the event that brought it: a second event about the same edition
    finds its deliveries' unique keys taken."""
    return f"nieuwsflits:{edition_id}"


async def take_edition(conn: asyncpg.Connection, event: NewsletterSent, attributes: CloudEventAttributes,
                       topic: str, now: datetime) -> bool:
    notice_id = notice_id_of(event.edition_id)
    await deliveries.add_notice(
        conn, event_id=notice_id, event_type=EVENT_TYPE, origin_topic=topic, occurred_at=attributes.time,
        headers=[[k, v.decode()] for k, v in to_kafka_headers(attributes)], data=event.model_dump(mode="json"))
    return await newsletters.add_edition(conn, event.edition_id, notice_id, now)


async def release(rt: Runtime, now: datetime) -> int:
    """Make deliveries of the recipients whose turn it is (due at the service's `now`); returns how many. The pace
    runs on the database's clock."""
    rate = settings_of(rt).newsletter_mails_per_second
    async with rt.uow() as uow:
        last, clock = await newsletters.lock_pace(uow.conn)
        start = max(last, clock - BURST)
        allowed = math.floor((clock - start).total_seconds() * rate)
        if allowed < 1:
            return 0
        turn = await newsletters.take_waiting(uow.conn, allowed, clock)
        rows: list[deliveries.DeliveryRow] = []
        for r in turn:
            delivery_id = uuid.uuid4()
            rows.append((delivery_id, r["notice_id"], EVENT_TYPE, KIND, "email",
                         newsletters.contact_recipient(r["contact_id"]), r["partner_id"], r["contact_id"], None,
                         None, False, deliveries.message_id_of(delivery_id, "email", MESSAGE_DOMAIN), now))
        await deliveries.add_deliveries(uow.conn, rows)
        # Spent what was sent; with nobody left waiting the unspent budget is not saved up either.
        await newsletters.set_pace(uow.conn, start + timedelta(seconds=len(turn) / rate)
                                   if len(turn) == allowed else clock)
    return len(turn)


async def report(rt: Runtime, now: datetime) -> int:
    """A `NewsletterProgress` for each edition whose counts changed since the last; returns how many."""
    sent = 0
    async with rt.uow() as uow:
        for edition in await newsletters.unfinished(uow.conn):
            by_status = await newsletters.counts(uow.conn, edition["notice_id"])
            counts = {"total": edition["total"], "sent": by_status.get("delivered", 0),
                      "failed": by_status.get("failed", 0), "skipped": by_status.get("skipped", 0)}
            if counts == edition["reported"]:
                continue
            # Finished when nobody waits and no mail is open (a contact erased meanwhile never gets one: it is
            # neither sent nor failed, so the counts alone would never add up to the total).
            open_ = sum(by_status.get(status, 0) for status in ("pending", "sending", "retrying"))
            finished = now if not open_ and not await newsletters.waiting(uow.conn, edition["edition_id"]) else None
            await newsletters.reported(uow.conn, edition["edition_id"], counts, finished)
            await uow.emit(NewsletterProgress(edition_id=edition["edition_id"], at=now, **counts))
            sent += 1
    return sent
