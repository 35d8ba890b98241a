"""What the read model keeps of each event: one row per activity, sign-up, kit order and mention, as its latest event
left it, and the version that decides which event is the latest.

Every event the model reads is a whole picture of its entity (an activity's status and capacity, an order's status
and lines, a mention's places and reach), so the newest event alone gives the row; nothing is added up from
events. Which one is the newest is decided by the row's version, compared as a tuple:
- `rank`: where an entity's status only ever moves forward (sign-ups: waitlisted → confirmed → cancelled; orders:
  placed → confirmed/rejected → picking/cancelled → shipped → delivered; a mention once deleted), the furthest
  status wins whatever order the events come in;
- then `time`: the CloudEvents time the producer stamped when it wrote the event (kept through the outbox, every
  redelivery and a dead letter's replay), for activities and mentions whose changes are made by people, seconds
  apart;
- then partition and offset, for two events stamped in the same microsecond (an activity submitted and published in
  one transaction: one key, one partition, in the order they were written).
A redelivered event (the same id) is skipped by the inbox before it gets here; an event that arrives late (a dead
letter replayed after later events were applied) loses to the later version. Applying events is therefore exact
and the same in any order, and replaying a topic gives the same rows.

Nothing personal is kept: a sign-up is its id, its activity, its status and its party size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from komerbij.contracts.events import materials as mat
from komerbij.contracts.events import media as med
from komerbij.contracts.events import registration as reg
from komerbij.dashboard.domain.editions import edition_of_mention


@dataclass(frozen=True)
class Version:
    rank: int
    time: datetime
    partition: int
    offset: int


@dataclass(frozen=True)
class ActivityRow:
    activity_id: str
    edition_year: int
    municipality: str | None
    category: str
    status: str | None
    capacity: int | None


@dataclass(frozen=True)
class SignupRow:
    signup_id: str
    activity_id: str
    status: str
    party_size: int


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    municipality: str
    edition_year: int
    status: str
    items: int


@dataclass(frozen=True)
class MentionRow:
    mention_id: str
    title: str
    url: str | None
    outlet_name: str
    medium: str
    published_at: datetime
    edition_year: int
    municipalities: tuple[str, ...]
    reach: int | None
    is_copy: bool
    deleted: bool


ACTIVITY_STATUS_OF: dict[type[reg.ActivityEvent], str] = {
    reg.ActivitySubmitted: "submitted",
    reg.ActivityPublished: "published",
    reg.ActivityRejected: "rejected",
    reg.ActivityCancelled: "cancelled",
}
SIGNUP_STATUS_OF: dict[type[reg.SignupEvent], str] = {
    reg.SignupWaitlisted: "waitlisted",
    reg.SignupConfirmed: "confirmed",
    reg.SignupPromoted: "confirmed",
    reg.SignupCancelled: "cancelled",
}
SIGNUP_RANK = {"waitlisted": 0, "confirmed": 1, "cancelled": 2}
# Every move materials allows goes up: placed→confirmed|rejected, confirmed→picking|cancelled, picking→shipped,
# shipped→delivered (materials' domain/orders.py TRANSITIONS).
ORDER_RANK = {"placed": 0, "confirmed": 1, "rejected": 1, "picking": 2, "cancelled": 2, "shipped": 3, "delivered": 4}


def activity_row(event: reg.ActivityEvent) -> ActivityRow:
    """The status the event names; an event from before that field: the status its type implies (none for an
    update, which keeps the status the row has)."""
    status = event.status or ACTIVITY_STATUS_OF.get(type(event))
    return ActivityRow(event.activity_id, event.edition_year, event.municipality, event.category, status,
                       event.capacity)


def signup_row(event: reg.SignupEvent) -> SignupRow:
    return SignupRow(event.signup_id, event.activity_id, SIGNUP_STATUS_OF[type(event)], event.party_size)


def order_row(event: mat.OrderEvent) -> OrderRow:
    return OrderRow(event.order_id, event.municipality, event.edition_year, event.status,
                    sum(line.quantity for line in event.lines))


def mention_row(event: med.MentionEvent) -> MentionRow:
    deleted = isinstance(event, med.MentionFeatured) and event.deleted
    return MentionRow(event.mention_id, event.title, event.url, event.outlet_name, event.medium, event.published_at,
                      edition_of_mention(event.published_at), tuple(event.municipalities), event.reach,
                      event.original_id is not None, deleted)


def rank_of(row: ActivityRow | SignupRow | OrderRow | MentionRow) -> int:
    if isinstance(row, SignupRow):
        return SIGNUP_RANK[row.status]
    if isinstance(row, OrderRow):
        return ORDER_RANK.get(row.status, 0)
    if isinstance(row, MentionRow):
        return 1 if row.deleted else 0
    return 0
