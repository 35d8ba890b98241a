"""Sign-ups in PostgreSQL. Callers hold the activity's row lock (see `activities.get(lock=True)`) while they place,
promote or cancel, so the seat arithmetic of `domain.waitlist` sees a stable picture."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from komerbij.registration.domain.signup import Signup
from komerbij.registration.domain.waitlist import Waiting

_COLUMNS = "id, activity_id, status, party_size, name, email, phone, token_hashes, created_at"


def _signup(row: asyncpg.Record) -> Signup:
    return Signup(str(row["id"]), str(row["activity_id"]), row["status"], row["party_size"], row["name"],
                  row["email"], row["phone"], list(row["token_hashes"]), row["created_at"])


async def insert(conn: asyncpg.Connection, s: Signup, consent_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO signups (id, activity_id, status, party_size, name, email, phone, consent_at, token_hashes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        s.id, s.activity_id, s.status, s.party_size, s.name, s.email, s.phone, consent_at, s.token_hashes,
    )


async def get(conn: asyncpg.Connection, signup_id: str) -> Signup | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM signups WHERE id = $1", signup_id)
    return _signup(row) if row else None


async def add_token(conn: asyncpg.Connection, signup_id: str, digest: bytes) -> None:
    await conn.execute("UPDATE signups SET token_hashes = token_hashes || $2::bytea WHERE id = $1", signup_id, digest)


async def seats_taken(conn: asyncpg.Connection, activity_id: str) -> int:
    return await conn.fetchval(
        "SELECT coalesce(sum(party_size), 0) FROM signups WHERE activity_id = $1 AND status = 'confirmed'",
        activity_id,
    )


async def waitlist(conn: asyncpg.Connection, activity_id: str) -> list[Waiting]:
    rows = await conn.fetch(
        "SELECT id, party_size FROM signups WHERE activity_id = $1 AND status = 'waitlisted' ORDER BY seq",
        activity_id,
    )
    return [Waiting(str(r["id"]), r["party_size"]) for r in rows]


async def promote(conn: asyncpg.Connection, ids: list[str]) -> list[Signup]:
    rows = await conn.fetch(
        f"""UPDATE signups SET status = 'confirmed', promoted_at = now()
            WHERE id = ANY($1::uuid[]) AND status = 'waitlisted' RETURNING {_COLUMNS}""",
        ids,
    )
    order = {i: n for n, i in enumerate(ids)}
    return sorted(map(_signup, rows), key=lambda s: order[s.id])


async def cancel(conn: asyncpg.Connection, signup_id: str) -> None:
    """A cancelled sign-up keeps its count for the statistics, not the person's contact details."""
    await conn.execute(
        """UPDATE signups SET status = 'cancelled', cancelled_at = now(), name = NULL, email = NULL, phone = NULL,
               token_hashes = '{}'
           WHERE id = $1""",
        signup_id,
    )


async def active_of(conn: asyncpg.Connection, activity_id: str) -> list[Signup]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM signups WHERE activity_id = $1 AND status IN ('confirmed', 'waitlisted')
            ORDER BY seq""",
        activity_id,
    )
    return [_signup(r) for r in rows]


async def participants(conn: asyncpg.Connection, activity_id: str) -> list[Signup]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM signups WHERE activity_id = $1 ORDER BY seq", activity_id)
    return [_signup(r) for r in rows]


async def purge_editions(conn: asyncpg.Connection, years: list[int]) -> int:
    """Erase participants' contact details of the given editions' activities; returns how many sign-ups."""
    result = await conn.execute(
        """UPDATE signups s SET name = NULL, email = NULL, phone = NULL, token_hashes = '{}', purged_at = now()
           FROM activities a
           WHERE a.id = s.activity_id AND a.edition_year = ANY($1::int[]) AND s.purged_at IS NULL""",
        years,
    )
    return int(result.split()[-1])


async def count_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM signups GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
