"""Editions in PostgreSQL."""

from __future__ import annotations

from datetime import date

import asyncpg

from komerbij.registration.domain.edition import Edition


def _edition(row: asyncpg.Record) -> Edition:
    return Edition(row["year"], row["starts_on"], row["ends_on"])


async def get(conn: asyncpg.Connection, year: int) -> Edition | None:
    row = await conn.fetchrow("SELECT year, starts_on, ends_on FROM editions WHERE year = $1", year)
    return _edition(row) if row else None


async def all_editions(conn: asyncpg.Connection) -> list[Edition]:
    rows = await conn.fetch("SELECT year, starts_on, ends_on FROM editions ORDER BY year")
    return [_edition(r) for r in rows]


async def upsert(conn: asyncpg.Connection, year: int, starts_on: date, ends_on: date) -> bool:
    """Returns True when the edition is new."""
    return await conn.fetchval(
        """INSERT INTO editions (year, starts_on, ends_on) VALUES ($1, $2, $3)
           ON CONFLICT (year) DO UPDATE SET starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on
           RETURNING xmax = 0""",
        year, starts_on, ends_on,
    )


async def add_missing(conn: asyncpg.Connection, editions: list[Edition]) -> None:
    """Seed default dates; an edition the programme already set is left as it is."""
    await conn.executemany(
        "INSERT INTO editions (year, starts_on, ends_on) VALUES ($1, $2, $3) ON CONFLICT (year) DO NOTHING",
        [(e.year, e.starts_on, e.ends_on) for e in editions],
    )
