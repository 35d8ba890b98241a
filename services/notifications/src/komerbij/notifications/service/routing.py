"""Use case: turn one consumed event into pending deliveries (inside the consumer's inbox transaction).

Nothing is sent here. Each (event id, recipient, channel) gets at most one `deliveries` row (a unique key), so a
redelivered event, or a second consumer replica, adds nothing; the dispatcher does the sending afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import asyncpg

from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.events.base import Event
from komerbij.notifications.adapters import deliveries, partners
from komerbij.notifications.domain.partners import Subscription
from komerbij.notifications.domain.routing import Audience, audience_of

MESSAGE_DOMAIN = "komerbij.nl"


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(row["partner_id"], tuple(row["event_types"]), tuple(row["municipalities"]),
                        tuple(row["provinces"]), row["mode"])


async def _matching(conn: asyncpg.Connection, event: Event, audience: Audience) -> list[Subscription]:
    name = type(event).__name__
    found: list[asyncpg.Record] = []
    if audience.by_place:
        found += await partners.subscriptions_for(conn, name)
    if audience.owner_partner_id:
        found += await partners.subscriptions_for(conn, name, [audience.owner_partner_id])
    elif audience.owner_municipality:
        owners = await partners.municipality_partners(conn, audience.owner_municipality)
        found += await partners.subscriptions_for(conn, name, owners) if owners else []
    subscriptions = map(_subscription, found)
    return [s for s in subscriptions if s.matches(name, audience.municipalities, audience.provinces)]


async def record_deliveries(conn: asyncpg.Connection, event: Event, attributes: CloudEventAttributes,
                            origin_topic: str, *, now: datetime | None = None) -> int:
    """Returns how many deliveries were added (0 for an event nobody is told about, or one seen before)."""
    audience = audience_of(event)
    if audience is None:
        return 0
    now = now or datetime.now(UTC)
    name = type(event).__name__
    await deliveries.add_notice(
        conn, event_id=attributes.id, event_type=name, origin_topic=origin_topic, occurred_at=attributes.time,
        headers=[[k, v.decode()] for k, v in to_kafka_headers(attributes)], data=event.model_dump(mode="json"),
    )
    common = {"event_id": attributes.id, "event_type": name, "kind": audience.kind, "due": now,
              "message_domain": MESSAGE_DOMAIN}
    added = 0
    for mail in audience.direct:
        added += await deliveries.add_delivery(conn, channel="email", recipient=mail.recipient,
                                               address=mail.address, transactional=True, **common)
    modes: dict[str, set[str]] = defaultdict(set)
    for subscription in await _matching(conn, event, audience):
        modes[subscription.partner_id].add(subscription.mode)
    for partner_id, partner_modes in modes.items():
        # Webhooks serve machines, which want each event at once; the digest is for people's inboxes.
        for hook in await partners.active_webhooks_of(conn, partner_id):
            added += await deliveries.add_delivery(
                conn, channel="webhook", recipient=f"webhook:{hook['id']}", partner_id=partner_id,
                webhook_id=hook["id"], transactional=False, **common,
            )
        if "immediate" in partner_modes:
            for contact in await partners.contacts_of(conn, partner_id, subscribed_only=True):
                added += await deliveries.add_delivery(
                    conn, channel="email", recipient=f"contact:{contact['id']}", partner_id=partner_id,
                    contact_id=contact["id"], transactional=False, **common,
                )
        else:
            await deliveries.add_digest_item(conn, partner_id, attributes.id, now)
    return added

