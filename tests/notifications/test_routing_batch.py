"""`record_deliveries_many` against real PostgreSQL: the rows of the events one by one, and a wake-up.

The same partners and the same batch of consumed events go into two fresh databases, one event at a time through
`record_deliveries` below (the routing rules written plainly, a query per lookup and a statement per row: the
reference) and all at once through the service's `record_deliveries_many`; every row must come out the same.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest_asyncio
from support.infra import Infra

from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.events.base import Event
from komerbij.contracts.events.materials import OrderLine, OrderPlaced, OrderShipped, StockLow
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.registration import ActivityCancelled, SignupCancelled, SignupWaitlisted
from komerbij.notifications.adapters import deliveries, partners
from komerbij.notifications.adapters.deliveries import CHANNEL
from komerbij.notifications.domain.partners import Subscription
from komerbij.notifications.domain.routing import Audience, audience_of
from komerbij.notifications.service.routing import MESSAGE_DOMAIN, record_deliveries_many
from komerbij.runtime import db

from .conftest import activity, signup

NOW = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
Item = tuple[Event, CloudEventAttributes, str]


async def _matching(conn: asyncpg.Connection, event: Event, audience: Audience) -> list[Subscription]:
    name = type(event).__name__
    partner_ids: list[str] | None = None  # everyone's, for an event that concerns a place
    if not audience.by_place:
        if audience.owner_partner_id:
            partner_ids = [audience.owner_partner_id]
        elif audience.owner_municipality:
            partner_ids = [r["id"] for r in await conn.fetch(
                "SELECT id FROM partners WHERE kind = 'municipality' AND municipality = $1",
                audience.owner_municipality)]
        else:
            return []
    rows = await conn.fetch("""SELECT * FROM subscriptions WHERE $1 = ANY(event_types)
                               AND ($2::text[] IS NULL OR partner_id = ANY($2::text[]))""", name, partner_ids)
    subscriptions = [Subscription(r["partner_id"], tuple(r["event_types"]), tuple(r["municipalities"]),
                                  tuple(r["provinces"]), r["mode"]) for r in rows]
    return [s for s in subscriptions if s.matches(name, audience.municipalities, audience.provinces)]


async def record_deliveries(conn: asyncpg.Connection, event: Event, attributes: CloudEventAttributes,
                            origin_topic: str, *, now: datetime) -> int:
    """The reference: one event, the routing rules as plainly as they can be written."""
    audience = audience_of(event)
    if audience is None:
        return 0
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
        hooks = await conn.fetch("SELECT * FROM webhooks WHERE partner_id = $1 AND disabled_at IS NULL "
                                 "ORDER BY created_at", partner_id)
        for hook in hooks:
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
            await conn.execute("INSERT INTO digest_items (partner_id, event_id, added_at) VALUES ($1, $2, $3) "
                               "ON CONFLICT DO NOTHING", partner_id, attributes.id, now)
    return added


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"komerbij-test:{name}")


async def _seed(conn: asyncpg.Connection) -> None:
    """Partners that exercise every branch of the routing: place, owner id, owner municipality, modes, channels."""
    async def partner(pid: str, kind: str, *, municipality: str | None = None, contacts: tuple[str, ...] = (),
                      hooks: tuple[str, ...] = (), subscriptions: tuple[tuple[list[str], list[str], list[str], str],
                                                                        ...] = ()) -> None:
        await partners.add_partner(conn, pid, pid.title(), kind, None, municipality)
        for c in contacts:
            await partners.add_contact(conn, _id(c), pid, c, f"{c}@voorbeeld.example")
        for h in hooks:
            await partners.add_webhook(conn, _id(h), pid, f"https://{h}.example/hook", "whsec_" + "A" * 40)
        for i, (types, municipalities, provinces, mode) in enumerate(subscriptions):
            await partners.add_subscription(conn, _id(f"{pid}-sub{i}"), pid, types, municipalities, provinces, mode)

    activities = ["ActivityPublished", "ActivityCancelled"]
    signups = ["SignupConfirmed", "SignupWaitlisted", "SignupCancelled"]
    await partner("amsterdam", "municipality", municipality="GM0363", contacts=("ams1", "ams2"), hooks=("amshook",),
                  subscriptions=((activities, ["GM0363"], [], "immediate"),))
    await partner("noordholland", "local_coalition", contacts=("nh1",),
                  subscriptions=(([*activities, "MentionRecorded"], [], ["Noord-Holland"], "digest"),))
    await partner("both", "welfare", contacts=("both1",), hooks=("bothhook", "bothhook2"),
                  subscriptions=((activities, ["GM0363"], [], "digest"), (activities, [], ["Noord-Holland"],
                                                                          "immediate")))
    await partner("fonds", "national_partner", contacts=("fonds1", "fonds2"), hooks=("fondshook",),
                  subscriptions=((["ActivityPublished", "MentionRecorded"], [], [], "digest"),))
    await partner("anker", "local_coalition", contacts=("anker1", "anker-weg"), hooks=("ankerhook", "ankeroud"),
                  subscriptions=((signups, [], [], "immediate"),))
    await partners.unsubscribe(conn, _id("anker-weg"), NOW)
    await partners.disable_webhook(conn, _id("ankeroud"), NOW)
    await partner("tilburg", "municipality", municipality="GM0855", contacts=("tilburg1",),
                  subscriptions=((["SignupWaitlisted"], [], [], "immediate"), (["SignupCancelled"], [], [], "digest")))
    await partner("tilburg-wijk", "municipality", municipality="GM0855", hooks=("wijkhook",),
                  subscriptions=((["SignupWaitlisted"], ["GM0855"], [], "immediate"),))
    await partner("stil", "welfare", contacts=("stil1",))  # owns activities but subscribes to nothing


def _attrs(event: Event, event_id: str | None = None, minute: int = 0) -> CloudEventAttributes:
    return CloudEventAttributes(id=event_id or str(uuid.uuid4()), source="/komerbij/tests", type=event.TYPE,
                                subject=event.key, time=NOW - timedelta(minutes=60 - minute))


def _batch() -> tuple[list[Item], Item]:
    """A varied batch, and an event recorded before the batch (Kafka hands it over again inside it)."""
    base = signup("deelnemer@voorbeeld.example").model_dump()
    waitlisted = [SignupWaitlisted(**{**base, "signup_id": str(uuid.uuid4()), "municipality": "GM0855",
                                      "owner_municipality": "GM0855", "owner_partner_id": None, "email": email},
                                   waitlist_position=n)
                  for n, email in enumerate(["w1@voorbeeld.example", None, "w3@voorbeeld.example"], start=1)]
    events: list[Event] = [
        signup("p1@voorbeeld.example", owner_partner_id="anker"),
        waitlisted[0],
        activity("GM0363", title="Samen eten"),
        MentionRecorded(mention_id="m1", title="Zonder plaats", url="https://krant.example/1", outlet_id="krant",
                        outlet_name="Krant", medium="print", scope="national", published_at=NOW, municipalities=[]),
        MentionRecorded(mention_id="m2", title="In Noord-Holland", url="https://krant.example/2", outlet_id="krant",
                        outlet_name="Krant", medium="online", scope="regional", published_at=NOW,
                        municipalities=[], provinces=["Noord-Holland"]),
        OrderShipped(order_id="ORD-1", municipality="GM0855", edition_year=2026, status="shipped",
                     lines=[OrderLine(sku="POSTER-A3", quantity=5)], organisation="Welzijn Tilburg",
                     contact_email="inkoop@welzijntilburg.example", carrier="PostNL", tracking_code="3S1"),
        OrderPlaced(order_id="ORD-2", municipality="GM0855", edition_year=2026, status="placed",
                    lines=[OrderLine(sku="POSTER-A3", quantity=5)], organisation="Anoniem", contact_email=None),
        StockLow(sku="PLACEMAT", name="Placemats", stock_on_hand=40, reserved=30, threshold=50),
        waitlisted[1],
        SignupCancelled(**{**base, "signup_id": str(uuid.uuid4()), "municipality": "GM0855",
                           "owner_municipality": "GM0855", "owner_partner_id": None}, reason="participant"),
        SignupCancelled(**{**base, "signup_id": str(uuid.uuid4()), "municipality": "GM0599",
                           "owner_municipality": "GM0599", "owner_partner_id": None}, reason="participant"),
        ActivityCancelled(**activity("GM0014", title="In Groningen").model_dump()),
        activity(None, title="Online", owner_partner_id="stil"),
        signup(None, owner_partner_id="niemand"),
        waitlisted[2],
    ]
    items: list[Item] = [(e, _attrs(e, minute=i), e.TOPIC) for i, e in enumerate(events)]
    twice = items[2]  # the same event a second time in one batch: its unique keys are taken by the first
    earlier = (activity("GM0363", title="Eerder"), _attrs(activity("GM0363")), "registration.activities")
    return [*items[:5], twice, *items[5:], earlier], earlier


@pytest_asyncio.fixture
async def databases(infra: Infra) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool, str]]:
    migrations = (db.load_migrations("runtime", "komerbij.runtime.migrations")
                  + db.load_migrations("notifications", "komerbij.notifications.migrations"))
    dsns = [infra.new_database("notifbatch") for _ in range(2)]
    pools = [await db.create_pool(dsn, max_size=3) for dsn in dsns]
    try:
        for pool in pools:
            await db.migrate(pool, migrations)
            async with pool.acquire() as conn:
                await _seed(conn)
        yield pools[0], pools[1], dsns[1]
    finally:
        for pool in pools:
            await pool.close()


async def _rows(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """Every row, without what is random or the clock's (ids, message ids, creation times); sorted."""
    async with pool.acquire() as conn:
        notices = await conn.fetch("SELECT * FROM notices")
        deliveries = await conn.fetch("SELECT * FROM deliveries")
        digest = await conn.fetch("SELECT * FROM digest_items")
    for d in deliveries:
        expected = f"msg_{d['id'].hex}" if d["channel"] == "webhook" else f"<{d['id'].hex}@{MESSAGE_DOMAIN}>"
        assert d["message_id"] == expected, "the message id is fixed from the delivery id"

    def without(records: list[asyncpg.Record], *skip: str) -> list[tuple[Any, ...]]:
        return sorted(tuple((k, str(v)) for k, v in r.items() if k not in skip) for r in records)

    return {"notices": without(notices, "received_at"),
            "deliveries": without(deliveries, "id", "message_id", "created_at", "updated_at"),
            "digest_items": without(digest)}


async def test_a_batch_gives_the_same_rows_as_its_events_one_by_one(
    databases: tuple[asyncpg.Pool, asyncpg.Pool, str],
) -> None:
    one_by_one, batched, _ = databases
    items, earlier = _batch()
    for pool in (one_by_one, batched):  # already recorded before this batch, in both
        async with pool.acquire() as conn, conn.transaction():
            assert await record_deliveries(conn, *earlier, now=NOW - timedelta(minutes=5)) > 0

    async with one_by_one.acquire() as conn, conn.transaction():
        added_one_by_one = [await record_deliveries(conn, *item, now=NOW) for item in items]
    async with batched.acquire() as conn, conn.transaction():
        added_batched = await record_deliveries_many(conn, items, now=NOW)

    assert added_batched == sum(added_one_by_one)
    expected, got = await _rows(one_by_one), await _rows(batched)
    assert got == expected
    # The batch covered what it should: every channel and kind, nobody for the events that concern no one.
    kinds = {(dict(r)["channel"], dict(r)["kind"], dict(r)["recipient"].split(":")[0]) for r in got["deliveries"]}
    assert kinds >= {("email", "signup", "participant"), ("email", "signup", "contact"),
                     ("webhook", "signup", "webhook"), ("email", "activity", "contact"),
                     ("webhook", "activity", "webhook"), ("email", "order", "orderer"), ("email", "stock", "admins")}
    assert len(got["digest_items"]) >= 3
    assert added_one_by_one[5] == 0 and added_one_by_one[-1] == 0, "the repeated and the earlier event add none"
    assert not {dict(n)["event_id"] for n in got["notices"]} & {items[3][1].id, items[7][1].id}
    owned = [dict(r)["partner_id"] for r in got["deliveries"] if dict(r)["event_id"] == items[1][1].id]
    assert sorted(p for p in owned if p != "None") == ["tilburg", "tilburg-wijk"]


class Heard:
    """The `deliveries` notifications one connection hears, in commit order.

    PostgreSQL delivers a listener the notifications of committed transactions in commit order, so once a marker
    notified after some point has arrived, everything committed before that point has arrived too: "nothing more"
    without a sleep.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.payloads: list[str] = []
        self._arrived = asyncio.Event()
        self._markers = 0

    async def __aenter__(self) -> Heard:
        self._listener = await asyncpg.connect(self.dsn)
        await self._listener.add_listener(CHANNEL, self._heard)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._listener.close()

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.payloads.append(payload)
        self._arrived.set()

    async def until_now(self, pool: asyncpg.Pool) -> list[str]:
        """Everything notified up to now (from another connection than the one that may hold a transaction open),
        markers left out; then forgets it."""
        self._markers += 1
        marker = f"marker-{self._markers}"
        await pool.execute(f"NOTIFY {CHANNEL}, '{marker}'")
        async with asyncio.timeout(10):
            while marker not in self.payloads:
                self._arrived.clear()
                await self._arrived.wait()
        heard, self.payloads = self.payloads[:self.payloads.index(marker)], []
        return heard


async def test_a_batch_that_adds_deliveries_wakes_the_dispatcher_once_at_commit_and_one_that_adds_none_not(
    databases: tuple[asyncpg.Pool, asyncpg.Pool, str],
) -> None:
    _, pool, dsn = databases
    async with Heard(dsn) as heard:
        events = [StockLow(sku=f"S{i}", name=f"Product {i}", stock_on_hand=1, reserved=0, threshold=5)
                  for i in range(3)]
        items = [(e, _attrs(e), e.TOPIC) for e in events]
        async with pool.acquire() as conn, conn.transaction():
            assert await record_deliveries_many(conn, items, now=NOW) == 3
            assert await heard.until_now(pool) == [], "nothing before the commit: the dispatcher would not see rows"
        assert await heard.until_now(pool) == [""], "one notification for the transaction"

        async with pool.acquire() as conn, conn.transaction():
            assert await record_deliveries_many(conn, items, now=NOW) == 0  # all seen before
            assert await record_deliveries(conn, *items[0], now=NOW) == 0
        assert await heard.until_now(pool) == [], "nothing added, nobody woken"

        async with pool.acquire() as conn, conn.transaction():
            fresh = StockLow(sku="S9", name="Product 9", stock_on_hand=1, reserved=0, threshold=5)
            assert await record_deliveries(conn, fresh, _attrs(fresh), fresh.TOPIC, now=NOW) == 1
        assert await heard.until_now(pool) == [""]
