"""The topic registry: every topic the system uses, with the settings `komerbij topics ensure` applies.

Topics that carry personal data (participant or contact details) get a bounded retention so that Kafka never keeps
such data longer than the services themselves may.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    retention_ms: int
    personal_data: bool = False
    consumed: bool = True

    def config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


def dlq_of(topic: str) -> str:
    return f"{topic}.dlq"


REGISTRATION_ACTIVITIES = Topic("registration.activities", "activity_id", 3, 400 * DAY_MS)
REGISTRATION_SIGNUPS = Topic("registration.signups", "activity_id", 3, 14 * DAY_MS, personal_data=True)
MATERIALS_ORDERS = Topic("materials.orders", "order_id", 3, 90 * DAY_MS, personal_data=True)
MATERIALS_STOCK = Topic("materials.stock", "sku", 1, 400 * DAY_MS)
MEDIA_MENTIONS = Topic("media.mentions", "mention_id", 3, 400 * DAY_MS)
NOTIFICATIONS_DELIVERIES = Topic("notifications.deliveries", "delivery_id", 3, 90 * DAY_MS, consumed=False)
# The nieuwsflits: editions as sent (public content, kept as long as the archive matters) and delivery progress.
MEDIA_NEWSLETTERS = Topic("media.newsletters", "edition_id", 1, 400 * DAY_MS)
NOTIFICATIONS_NEWSLETTERS = Topic("notifications.newsletters", "edition_id", 1, 30 * DAY_MS)

_MAIN = (
    REGISTRATION_ACTIVITIES,
    REGISTRATION_SIGNUPS,
    MATERIALS_ORDERS,
    MATERIALS_STOCK,
    MEDIA_MENTIONS,
    NOTIFICATIONS_DELIVERIES,
    MEDIA_NEWSLETTERS,
    NOTIFICATIONS_NEWSLETTERS,
)


def _dead_letters(topic: Topic) -> Topic:
    # Dead letters keep the original value, so they inherit the origin's bound on personal data.
    retention = topic.retention_ms if topic.personal_data else 30 * DAY_MS
    return Topic(dlq_of(topic.name), topic.key, 1, retention, personal_data=topic.personal_data, consumed=False)


TOPICS: dict[str, Topic] = {t.name: t for t in _MAIN}
TOPICS.update({dlq_of(t.name): _dead_letters(t) for t in _MAIN if t.consumed})
