"""Trusted organisers in PostgreSQL: a person (token subject) acting for an organisation (see migration 004)."""

from __future__ import annotations

import asyncpg


async def is_trusted(conn: asyncpg.Connection, organisation: str | None, subject: str) -> bool:
    if organisation is None:
        return False
    return bool(await conn.fetchval(
        "SELECT true FROM trusted_organisers WHERE organisation = $1 AND subject = $2", organisation, subject
    ))


async def trust(conn: asyncpg.Connection, organisation: str, subject: str, note: str | None, added_by: str) -> None:
    await conn.execute(
        """INSERT INTO trusted_organisers (organisation, subject, note, added_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (organisation, subject) DO UPDATE SET note = EXCLUDED.note""",
        organisation, subject, note, added_by,
    )


async def distrust(conn: asyncpg.Connection, subject: str, organisation: str | None) -> bool:
    """Without an organisation: the subject in every organisation, unplaced entries included."""
    result = await conn.execute(
        "DELETE FROM trusted_organisers WHERE subject = $1 AND ($2::text IS NULL OR organisation = $2)",
        subject, organisation,
    )
    return result != "DELETE 0"


async def all_trusted(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT subject, organisation, note, added_by, added_at FROM trusted_organisers
           ORDER BY subject, organisation NULLS FIRST"""
    )
