"""A fixed set of events for the dashboard's tests, put on the real topics as the services' outbox relays would,
with the ids and producer times the tests choose (so duplicates and late events can be staged)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from komerbij.contracts import CloudEventAttributes, Event, to_kafka_headers
from komerbij.contracts.events import materials as mat
from komerbij.contracts.events import media as med
from komerbij.contracts.events import registration as reg


@dataclass
class Sent:
    event: Event
    event_id: str
    time: datetime


@dataclass
class Script:
    """Events in the order they are put on the topics; `tick` moves the producers' clock on."""

    edition: int
    clock: datetime = field(init=False)
    sent: list[Sent] = field(default_factory=list)
    queued: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = datetime(self.edition, 6, 1, 9, 0, tzinfo=UTC)

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def add(self, event: Event, *, event_id: str | None = None, at: datetime | None = None) -> Sent:
        item = Sent(event, event_id or str(uuid.uuid4()), at or self.tick())
        self.queued.append(item)
        return item

    async def publish(self, bootstrap: str) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for item in self.queued:
                attrs = CloudEventAttributes(id=item.event_id, source="/komerbij/tests", type=item.event.TYPE,
                                             time=item.time, subject=item.event.key)
                await producer.send_and_wait(item.event.TOPIC, value=item.event.model_dump_json().encode(),
                                             key=item.event.key.encode(), headers=to_kafka_headers(attrs))
        finally:
            await producer.stop()
        self.sent.extend(self.queued)
        self.queued = []

    def newest(self, topic: str) -> datetime:
        return max(s.time for s in self.sent if topic == s.event.TOPIC)

    # --- builders ------------------------------------------------------------------------------------------------

    def activity(self, cls: type[reg.ActivityEvent], activity_id: str, municipality: str | None, category: str,
                 capacity: int | None, status: str, **extra: object) -> reg.ActivityEvent:
        starts = datetime(self.edition, 10, 1, 10, tzinfo=UTC)
        return cls(activity_id=activity_id, edition_year=self.edition, title=f"Activiteit {activity_id[:8]}",
                   category=category, starts_at=starts, ends_at=starts + timedelta(hours=2),
                   municipality=municipality, province=None, online=municipality is None, capacity=capacity,
                   status=status, **extra)

    def signup(self, cls: type[reg.SignupEvent], signup_id: str, activity_id: str, party_size: int,
               **extra: object) -> reg.SignupEvent:
        starts = datetime(self.edition, 10, 1, 10, tzinfo=UTC)
        return cls(signup_id=signup_id, activity_id=activity_id, activity_title="Activiteit", starts_at=starts,
                   ends_at=starts + timedelta(hours=2), municipality="GM0363", location="Buurthuis",
                   name="Deelnemer Testpersoon", email="deelnemer@example.org", phone=None, party_size=party_size,
                   cancel_url=f"https://registratie.example/v1/signups/{signup_id}/cancel", **extra)

    def order(self, cls: type[mat.OrderEvent], order_id: str, municipality: str, status: str,
              quantities: tuple[int, ...], **extra: object) -> mat.OrderEvent:
        lines = [mat.OrderLine(sku=f"SKU-{i}", quantity=q) for i, q in enumerate(quantities)]
        return cls(order_id=order_id, municipality=municipality, edition_year=self.edition, status=status,
                   lines=lines, organisation="Welzijn", contact_email="inkoop@example.org", **extra)

    def mention(self, cls: type[med.MentionEvent], mention_id: str, day: tuple[int, int], municipalities: list[str],
                reach: int | None, original_id: str | None = None, **extra: object) -> med.MentionEvent:
        return cls(mention_id=mention_id, title=f"Kom erbij {mention_id[:8]}", url=f"https://krant.example/{mention_id}",
                   outlet_id="o1", outlet_name="De Krant", medium="print", scope="national",
                   published_at=datetime(self.edition, *day, 12, tzinfo=UTC), municipalities=municipalities,
                   reach=reach, original_id=original_id, **extra)


def new_id() -> str:
    return str(uuid.uuid4())


def fixed_events(s: Script) -> dict[str, str]:
    """Amsterdam (GM0363), Rotterdam (GM0599) and Den Haag (GM0518) in edition `s.edition`; returns ids by name."""
    ids = {name: new_id() for name in ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "S1", "S2", "S3", "S4", "S5", "S6",
                                       "S7", "S8", "O1", "O2", "O3", "O4", "O5", "M1", "M2", "M3", "M4", "M5")}
    act, sig, order, mention = s.activity, s.signup, s.order, s.mention
    # Activities: published with a limit (A1), without one (A2), cancelled (A3), waiting (A4), rejected (A5);
    # Rotterdam's A6 gets more places; A7 is online and in no municipality.
    for key, place, category, capacity in (("A1", "GM0363", "eettafel", 10), ("A2", "GM0363", "wandelen_bewegen", None),
                                           ("A3", "GM0363", "eettafel", 4), ("A4", "GM0363", "muziek", 20),
                                           ("A5", "GM0363", "creatief", None), ("A6", "GM0599", "koffie_ontmoeting", 8),
                                           ("A7", None, "online_telefonisch", 50)):
        s.add(act(reg.ActivitySubmitted, ids[key], place, category, capacity, "submitted"))
        if key not in ("A4", "A5"):
            s.add(act(reg.ActivityPublished, ids[key], place, category, capacity, "published"))
    s.add(act(reg.ActivityRejected, ids["A5"], "GM0363", "creatief", None, "rejected", reason="Geen adres"))
    s.add(act(reg.ActivityCancelled, ids["A3"], "GM0363", "eettafel", 4, "cancelled"))
    s.add(act(reg.ActivityUpdated, ids["A6"], "GM0599", "koffie_ontmoeting", 12, "published",
              changed_fields=["capacity"]))
    # Sign-ups: A1 fills up (2+3+4), S4 waits, S3 cancels and S4 moves up, S5 waits; one on A2, one on A3 that ends
    # with it, five people in Rotterdam.
    for key, size in (("S1", 2), ("S2", 3), ("S3", 4)):
        s.add(sig(reg.SignupConfirmed, ids[key], ids["A1"], size))
    s.add(sig(reg.SignupWaitlisted, ids["S4"], ids["A1"], 2, waitlist_position=1))
    s.add(sig(reg.SignupCancelled, ids["S3"], ids["A1"], 4, reason="participant"))
    s.add(sig(reg.SignupPromoted, ids["S4"], ids["A1"], 2))
    s.add(sig(reg.SignupWaitlisted, ids["S5"], ids["A1"], 4, waitlist_position=1))
    s.add(sig(reg.SignupConfirmed, ids["S6"], ids["A2"], 1))
    s.add(sig(reg.SignupConfirmed, ids["S7"], ids["A3"], 2))
    s.add(sig(reg.SignupCancelled, ids["S7"], ids["A3"], 2, reason="activity_cancelled"))
    s.add(sig(reg.SignupConfirmed, ids["S8"], ids["A6"], 5))
    # Kit orders: delivered (12 items), confirmed (5), rejected (3) in Amsterdam; cancelled in Rotterdam; Den Haag
    # takes part with one confirmed order.
    o1 = (2, 10)
    for cls, status in ((mat.OrderPlaced, "placed"), (mat.OrderConfirmed, "confirmed"), (mat.OrderPicking, "picking")):
        s.add(order(cls, ids["O1"], "GM0363", status, o1))
    s.add(order(mat.OrderShipped, ids["O1"], "GM0363", "shipped", o1, carrier="PostNL", tracking_code="3S123"))
    s.add(order(mat.OrderDelivered, ids["O1"], "GM0363", "delivered", o1))
    s.add(order(mat.OrderPlaced, ids["O2"], "GM0363", "placed", (5,)))
    s.add(order(mat.OrderPlaced, ids["O3"], "GM0363", "placed", (3,)))
    s.add(order(mat.OrderRejected, ids["O3"], "GM0363", "rejected", (3,), reason="quota_exceeded"))
    s.add(order(mat.OrderPlaced, ids["O4"], "GM0599", "placed", (7,)))
    s.add(order(mat.OrderConfirmed, ids["O4"], "GM0599", "confirmed", (7,)))
    s.add(order(mat.OrderCancelled, ids["O4"], "GM0599", "cancelled", (7,)))
    s.add(order(mat.OrderPlaced, ids["O5"], "GM0518", "placed", (1,)))
    s.add(order(mat.OrderConfirmed, ids["O5"], "GM0518", "confirmed", (1,)))
    # Mentions: an article and its copy (also naming Rotterdam), one whose places and reach are corrected, one that
    # is deleted, and one in late November that belongs to the next edition.
    s.add(mention(med.MentionRecorded, ids["M1"], (9, 28), ["GM0363"], 1000))
    s.add(mention(med.MentionRecorded, ids["M2"], (9, 29), ["GM0363", "GM0599"], 500, original_id=ids["M1"]))
    s.add(mention(med.MentionRecorded, ids["M3"], (10, 2), ["GM0363"], None))
    s.add(mention(med.MentionUpdated, ids["M3"], (10, 2), ["GM0363", "GM0518"], 200, sentiment="positive"))
    s.add(mention(med.MentionRecorded, ids["M4"], (10, 3), ["GM0363"], 50))
    s.add(mention(med.MentionFeatured, ids["M4"], (10, 3), ["GM0363"], 50, featured=False, deleted=True))
    s.add(mention(med.MentionRecorded, ids["M5"], (11, 30), ["GM0599"], 75))
    return ids
