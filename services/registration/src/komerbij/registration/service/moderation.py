"""The moderators' side: the queue with possible venue clashes, and which organisers are trusted."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from komerbij.registration.adapters import activities, trust
from komerbij.registration.domain.activity import Activity
from komerbij.runtime.auth import Principal
from komerbij.runtime.service import Runtime


@dataclass(frozen=True)
class QueueItem:
    activity: Activity
    clashes: list[asyncpg.Record]


async def queue(rt: Runtime) -> list[QueueItem]:
    async with rt.pool.acquire() as conn:
        return [QueueItem(a, c) for a, c in await activities.moderation_queue(conn)]


async def trusted(rt: Runtime) -> list[asyncpg.Record]:
    async with rt.pool.acquire() as conn:
        return await trust.all_trusted(conn)


async def set_trusted(rt: Runtime, principal: Principal, subject: str, note: str | None) -> None:
    async with rt.uow() as uow:
        await trust.trust(uow.conn, subject, note, principal.subject)


async def unset_trusted(rt: Runtime, subject: str) -> bool:
    async with rt.uow() as uow:
        return await trust.distrust(uow.conn, subject)
