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
