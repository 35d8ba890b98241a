"""The moderators' side: the queue (new activities with possible venue clashes, held edits with their difference),
and which organisers are trusted (a person acting for an organisation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from komerbij.registration.adapters import activities, edits, trust
from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.edit import HeldEdit
from komerbij.runtime.auth import Principal
from komerbij.runtime.reference import fold
from komerbij.runtime.service import Runtime


@dataclass(frozen=True)
class QueueItem:
    """A submitted activity with what a moderator should look at twice: `clashes`, live activities at the same venue
    (postcode and house number) overlapping in time; `similar`, live activities with the same title (case and
    accents aside) in the same municipality on the same day that are not venue clashes already (entered twice?)."""

    activity: Activity
    clashes: list[asyncpg.Record]
    similar: list[asyncpg.Record] = field(default_factory=list)


@dataclass(frozen=True)
class HeldItem:
    edit: HeldEdit
    activity: Activity  # the approved version, which the public sees meanwhile


async def queue(rt: Runtime) -> list[QueueItem]:
    async with rt.pool.acquire() as conn:
        items = await activities.moderation_queue(conn)
        pairs = await activities.same_day_same_municipality(conn)
    similar: dict[str, list[asyncpg.Record]] = {}
    for p in pairs:
        if _same_title(p["activity_title"], p["title"]):
            similar.setdefault(str(p["activity_id"]), []).append(p)
    return [QueueItem(a, c, [s for s in similar.get(a.id, []) if s["id"] not in {x["id"] for x in c}])
            for a, c in items]


def _same_title(one: str, other: str) -> bool:
    return " ".join(fold(one).split()) == " ".join(fold(other).split())


async def held_edits(rt: Runtime) -> list[HeldItem]:
    """Pending held edits, oldest first."""
    async with rt.pool.acquire() as conn:
        pending = await edits.queue(conn)
        approved = await activities.get_many(conn, [e.activity_id for e in pending])
    return [HeldItem(e, approved[e.activity_id]) for e in pending]


async def trusted(rt: Runtime) -> list[asyncpg.Record]:
    async with rt.pool.acquire() as conn:
        return await trust.all_trusted(conn)


async def set_trusted(rt: Runtime, principal: Principal, organisation: str, subject: str, note: str | None) -> None:
    async with rt.uow() as uow:
        await trust.trust(uow.conn, organisation, subject, note, principal.subject)


async def unset_trusted(rt: Runtime, subject: str, organisation: str | None) -> bool:
    async with rt.uow() as uow:
        return await trust.distrust(uow.conn, subject, organisation)
