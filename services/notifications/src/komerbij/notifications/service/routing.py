"""Use case: turn consumed events into pending deliveries (inside the consumer's inbox transaction).

Nothing is sent here. Each (event id, recipient, channel) gets at most one `deliveries` row (a unique key), so a
redelivered event, or a second consumer replica, adds nothing; the dispatcher does the sending afterwards, woken by
the `deliveries` notification the inserts send (delivered at commit).

`record_deliveries_many` writes the rows of a whole consumed batch with a fixed number of statements (lookups once per
batch, multi-row inserts): per event, round trips were the cost. tests/notifications/test_routing_batch.py holds it
to the rows a plain one-event-at-a-time version writes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime

import asyncpg
import orjson

from komerbij.contracts import CloudEventAttributes, header_pairs
from komerbij.contracts.events.base import Event
from komerbij.notifications.adapters import deliveries, partners
from komerbij.notifications.domain.partners import Subscription
from komerbij.notifications.domain.routing import Audience, audience_of

Item = tuple[Event, CloudEventAttributes, str]  # a consumed event, its CloudEvents attributes, its origin topic

MESSAGE_DOMAIN = "komerbij.nl"


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(row["partner_id"], tuple(row["event_types"]), tuple(row["municipalities"]),
                        tuple(row["provinces"]), row["mode"])


async def record_deliveries_many(conn: asyncpg.Connection, items: list[Item], *, now: datetime | None = None) -> int:
    """The deliveries of each item, as if recorded one after the other; returns how many deliveries were added.

    Partners, subscriptions, webhooks and contacts are read once for the batch (nothing here changes them), so every
    event sees what it would have seen alone; a repeated event id finds its unique keys taken, as one by one.
    """
    now = now or datetime.now(UTC)
    routed = [(event, attributes, topic, audience) for event, attributes, topic in items
              if (audience := audience_of(event)) is not None]
    if not routed:
        return 0
    codes = {a.owner_municipality for *_, a in routed if a.owner_municipality and not a.owner_partner_id}
    owners = await partners.municipality_partners_of(conn, sorted(codes)) if codes else {}
    asking = {type(e).__name__ for e, *_, a in routed
              if a.by_place or a.owner_partner_id or owners.get(a.owner_municipality or "")}
    found = await partners.subscriptions_for_any(conn, sorted(asking)) if asking else []
    subscriptions = [_subscription(row) for row in found]
    told = [_modes(type(event).__name__, audience, subscriptions, owners) for event, *_, audience in routed]
    partner_ids = sorted({p for modes in told for p in modes})
    immediate = sorted({p for modes in told for p, m in modes.items() if "immediate" in m})
    hooks = await partners.active_webhooks_of_partners(conn, partner_ids) if partner_ids else {}
    contacts = await partners.contacts_of_partners(conn, immediate, subscribed_only=True) if immediate else {}

    notices: list[tuple] = []
    rows: list[deliveries.DeliveryRow] = []
    digest: list[tuple[str, str]] = []
    for (event, attributes, topic, audience), modes in zip(routed, told, strict=True):
        name, event_id = type(event).__name__, attributes.id
        # The jsonb columns as JSON text straight from pydantic and orjson: the stdlib's encoder was ~9 % of the CPU.
        notices.append((event_id, name, topic, attributes.time, orjson.dumps(header_pairs(attributes)).decode(),
                        event.model_dump_json()))
        about = (event_id, name, audience.kind)
        for mail in audience.direct:
            rows.append(_row(about, now, "email", mail.recipient, True, address=mail.address))
        for partner_id, partner_modes in modes.items():
            for hook in hooks.get(partner_id, ()):
                rows.append(_row(about, now, "webhook", f"webhook:{hook['id']}", False, partner_id=partner_id,
                                 webhook_id=hook["id"]))
            if "immediate" in partner_modes:
                for contact in contacts.get(partner_id, ()):
                    rows.append(_row(about, now, "email", f"contact:{contact['id']}", False, partner_id=partner_id,
                                     contact_id=contact["id"]))
            else:
                digest.append((partner_id, event_id))
    await deliveries.add_notices(conn, notices)
    added = await deliveries.add_deliveries(conn, rows)
    await deliveries.add_digest_items(conn, digest, now)
    return added


def _row(about: tuple[str, str, str], due: datetime, channel: str, recipient: str, transactional: bool, *,
         partner_id: str | None = None, contact_id: uuid.UUID | None = None, webhook_id: uuid.UUID | None = None,
         address: str | None = None) -> deliveries.DeliveryRow:
    """What `deliveries.add_delivery` inserts, as a row for `add_deliveries`; `about` is (event id, type, kind)."""
    delivery_id = uuid.uuid4()
    event_id, event_type, kind = about
    return (delivery_id, event_id, event_type, kind, channel, recipient, partner_id, contact_id, webhook_id, address,
            transactional, deliveries.message_id_of(delivery_id, channel, MESSAGE_DOMAIN), due)


def _modes(name: str, audience: Audience, subscriptions: list[Subscription],
           owners: dict[str, list[str]]) -> dict[str, set[str]]:
    """The modes each partner told about the event wants, from subscriptions read in advance: everyone's for an
    event that concerns a place, else those of its owner (a partner, or a municipality's partners)."""
    if audience.by_place:
        candidates = subscriptions  # everyone's; an owner's are among them
    elif audience.owner_partner_id:
        candidates = [s for s in subscriptions if s.partner_id == audience.owner_partner_id]
    else:
        owned = set(owners.get(audience.owner_municipality or "", ()))
        candidates = [s for s in subscriptions if s.partner_id in owned]
    modes: dict[str, set[str]] = defaultdict(set)
    for s in candidates:
        if s.matches(name, audience.municipalities, audience.provinces):
            modes[s.partner_id].add(s.mode)
    return modes
