"""Editions: seeded with the default Thursday-to-Thursday week, adjustable by admins."""

from __future__ import annotations

from komerbij.registration.adapters import editions
from komerbij.registration.domain.edition import Edition, check_dates
from komerbij.registration.service.commands import EditionRequest
from komerbij.registration.service.problems import as_problem
from komerbij.runtime import reference
from komerbij.runtime.service import Runtime

SEED_YEARS_AHEAD = 4


async def seed_upcoming(rt: Runtime) -> None:
    """At start: this year and the next few get the default week, unless the programme already set their dates."""
    this_year = rt.clock.now().year
    upcoming = [Edition(y, *reference.default_week(y)) for y in range(this_year, this_year + SEED_YEARS_AHEAD + 1)]
    async with rt.pool.acquire() as conn:
        await editions.add_missing(conn, upcoming)


async def list_editions(rt: Runtime) -> list[Edition]:
    async with rt.pool.acquire() as conn:
        return await editions.all_editions(conn)


async def set_edition(rt: Runtime, req: EditionRequest) -> tuple[Edition, bool]:
    with as_problem():
        check_dates(req.year, req.starts_on, req.ends_on)
    async with rt.uow() as uow:
        created = await editions.upsert(uow.conn, req.year, req.starts_on, req.ends_on)
    return Edition(req.year, req.starts_on, req.ends_on), created
