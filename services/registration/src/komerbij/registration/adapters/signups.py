"""Sign-ups in PostgreSQL. Callers hold the activity's row lock (see `activities.get(lock=True)` and
`activities.claim_seats`) while they place, promote or cancel, so the seat arithmetic of `domain.waitlist` sees a
stable picture. The activity's seat counter (`activities.seats_taken`) follows every change of confirmed seats in the
same statement: `promote` adds the promoted parties, `cancel` gives a confirmed party's seats back. Placing a confirmed
sign-up is the one exception: `activities.claim_seats` counts its seats first, then `insert` stores it."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from komerbij.registration.domain.signup import Signup, email_key, phone_key
from komerbij.registration.domain.waitlist import Waiting

_COLUMNS = "id, activity_id, status, party_size, name, email, phone, token_hashes, created_at"


def _signup(row: asyncpg.Record) -> Signup:
    return Signup(str(row["id"]), str(row["activity_id"]), row["status"], row["party_size"], row["name"],
                  row["email"], row["phone"], list(row["token_hashes"]), row["created_at"])


async def insert(conn: asyncpg.Connection, s: Signup, consent_at: datetime) -> int | None:
    """Store a new sign-up; for a waitlisted one, returns its place in the queue (1 = next), counted in the same
    statement. The new row comes last: sign-ups of one activity are inserted one at a time, under its row lock.

    An address or number that already has an active sign-up for the activity raises `UniqueViolationError`
    (constraint `signups_one_per_email` / `signups_one_per_phone`): the database, not a check before, decides."""
    statement, args = insert_statement(s, consent_at)
    if s.status != "waitlisted":
        await conn.execute(statement, *args)
        return None
    # The count does not see the row the same statement inserts (one snapshot), hence + 1.
    return await conn.fetchval(
        f"""WITH new AS ({_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11))
            SELECT count(*) + 1 FROM signups WHERE activity_id = $2 AND status = 'waitlisted'""",
        *args,
    )


def insert_statement(s: Signup, consent_at: datetime) -> tuple[str, tuple[object, ...]]:
    """The INSERT of a new sign-up as statement and arguments, for a caller that sends it together with its event
    (`UnitOfWork.emit_after`); same constraints as `insert`."""
    args = (s.id, s.activity_id, s.status, s.party_size, s.name, s.email, s.phone, consent_at, s.token_hashes,
            email_key(s.email), phone_key(s.phone))
    return f"{_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", args


_INSERT = """INSERT INTO signups (id, activity_id, status, party_size, name, email, phone, consent_at, token_hashes,
                                 email_key, phone_key)"""


async def get(conn: asyncpg.Connection, signup_id: str) -> Signup | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM signups WHERE id = $1", signup_id)
    return _signup(row) if row else None


async def add_token(conn: asyncpg.Connection, signup_id: str, digest: bytes) -> None:
    """Remember another cancel token's hash (once: a promotion mail usually repeats the sign-up's own link)."""
    await conn.execute(
        """UPDATE signups SET token_hashes = token_hashes || $2::bytea
           WHERE id = $1 AND NOT $2::bytea = ANY(token_hashes)""",
        signup_id, digest,
    )


async def waitlist(conn: asyncpg.Connection, activity_id: str) -> list[Waiting]:
    rows = await conn.fetch(
        "SELECT id, party_size FROM signups WHERE activity_id = $1 AND status = 'waitlisted' ORDER BY seq",
        activity_id,
    )
    return [Waiting(str(r["id"]), r["party_size"]) for r in rows]


async def promote(conn: asyncpg.Connection, ids: list[str]) -> list[Signup]:
    """Confirm these waitlisted sign-ups and count their seats on their activity."""
    rows = await conn.fetch(
        f"""WITH promoted AS (
                UPDATE signups SET status = 'confirmed', promoted_at = now()
                WHERE id = ANY($1::uuid[]) AND status = 'waitlisted' RETURNING {_COLUMNS}
            ), counted AS (
                UPDATE activities a SET seats_taken = a.seats_taken + p.seats
                FROM (SELECT activity_id, sum(party_size)::int AS seats FROM promoted GROUP BY activity_id) p
                WHERE a.id = p.activity_id
            )
            SELECT * FROM promoted""",
        ids,
    )
    order = {i: n for n, i in enumerate(ids)}
    return sorted(map(_signup, rows), key=lambda s: order[s.id])


async def cancel(conn: asyncpg.Connection, signup_id: str) -> None:
    """A cancelled sign-up keeps its count for the statistics, not the person's contact details. A confirmed one
    gives its seats back to the activity. (`before` reads the status from the statement's snapshot: statuses change
    only under the activity's row lock, which the caller holds.)"""
    await conn.execute(
        """WITH before AS (
               SELECT id, activity_id, status, party_size FROM signups WHERE id = $1
           ), cancelled AS (
               UPDATE signups s SET status = 'cancelled', cancelled_at = now(), name = NULL, email = NULL,
                   phone = NULL, email_key = NULL, phone_key = NULL, token_hashes = '{}'
               FROM before WHERE s.id = before.id
               RETURNING before.activity_id, before.status AS was, before.party_size
           )
           UPDATE activities a SET seats_taken = a.seats_taken - c.party_size
           FROM cancelled c WHERE a.id = c.activity_id AND c.was = 'confirmed'""",
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
        """UPDATE signups s SET name = NULL, email = NULL, phone = NULL, email_key = NULL, phone_key = NULL,
               token_hashes = '{}', purged_at = now()
           FROM activities a
           WHERE a.id = s.activity_id AND a.edition_year = ANY($1::int[]) AND s.purged_at IS NULL""",
        years,
    )
    return int(result.split()[-1])


async def count_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM signups GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
