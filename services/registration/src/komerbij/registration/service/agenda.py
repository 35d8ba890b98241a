"""Reading the public agenda: read-only, so no unit of work, just a pooled connection."""

from __future__ import annotations

from komerbij.registration.adapters import activities
from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.agenda import AgendaFilter
from komerbij.runtime.service import Runtime


async def search(rt: Runtime, f: AgendaFilter) -> tuple[list[Activity], int]:
    async with rt.pool.acquire() as conn:
        return await activities.agenda(conn, f)


async def calendar(rt: Runtime, municipality: str | None) -> list[Activity]:
    async with rt.pool.acquire() as conn:
        return await activities.calendar(conn, municipality)
