"""Activities in PostgreSQL: plain SQL, one function per question the service asks."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import asyncpg

from komerbij.registration.domain.activity import Activity, Contact, Venue
from komerbij.registration.domain.address import house_number
from komerbij.registration.domain.agenda import AgendaFilter, search_text
from komerbij.registration.domain.edition import AMSTERDAM

_COLUMNS = """a.id, a.edition_year, a.status, a.title, a.description, a.category, a.starts_at, a.ends_at, a.venue,
    a.online_url, a.phone, a.municipality, a.province, a.target_groups, a.capacity, a.price_eur, a.accessibility,
    a.contact, a.kom_erbij, a.owner_subject, a.owner_municipality, a.owner_partner, a.reject_reason, a.sequence,
    a.created_at, a.updated_at, a.published_at, a.seats_taken, a.max_party_size"""


def to_activity(row: asyncpg.Record) -> Activity:
    venue = Venue(**row["venue"]) if row["venue"] else None
    return Activity(
        id=str(row["id"]), edition_year=row["edition_year"], status=row["status"], title=row["title"],
        description=row["description"], category=row["category"], starts_at=row["starts_at"],
        ends_at=row["ends_at"], venue=venue, online_url=row["online_url"], phone=row["phone"],
        municipality=row["municipality"], province=row["province"], target_groups=list(row["target_groups"]),
        capacity=row["capacity"], price_eur=float(row["price_eur"]), accessibility=list(row["accessibility"]),
        contact=Contact(**row["contact"]), kom_erbij=row["kom_erbij"], owner_subject=row["owner_subject"],
        owner_municipality=row["owner_municipality"], owner_partner=row["owner_partner"],
        reject_reason=row["reject_reason"], sequence=row["sequence"], created_at=row["created_at"],
        updated_at=row["updated_at"], published_at=row["published_at"],
        seats_taken=row["seats_taken"], max_party_size=row["max_party_size"],
    )


def _venue_json(venue: Venue | None) -> dict[str, str] | None:
    return None if venue is None else {"name": venue.name, "street": venue.street, "postcode": venue.postcode,
                                       "city": venue.city}


def _contact_json(contact: Contact) -> dict[str, Any]:
    return {"name": contact.name, "email": contact.email, "phone": contact.phone}


async def insert(conn: asyncpg.Connection, a: Activity) -> None:
    await conn.execute(
        """INSERT INTO activities (id, edition_year, status, title, description, category, starts_at, ends_at,
               venue, venue_postcode, venue_house_number, online_url, phone, municipality, province, target_groups,
               capacity, price_eur, accessibility, contact, kom_erbij, owner_subject, owner_municipality,
               owner_partner, search_text, max_party_size, published_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                   $22, $23, $24, $25, $26, CASE WHEN $3 = 'published' THEN now() END)""",
        a.id, a.edition_year, a.status, a.title, a.description, a.category, a.starts_at, a.ends_at,
        _venue_json(a.venue), a.venue.postcode if a.venue else None,
        house_number(a.venue.street) if a.venue else None, a.online_url, a.phone, a.municipality, a.province,
        a.target_groups, a.capacity, a.price_eur, a.accessibility, _contact_json(a.contact), a.kom_erbij,
        a.owner_subject, a.owner_municipality, a.owner_partner, search_text(a.title, a.description),
        a.max_party_size,
    )


async def save(conn: asyncpg.Connection, a: Activity) -> None:
    """Write back an edited activity; `sequence` counts revisions (iCalendar SEQUENCE)."""
    await conn.execute(
        """UPDATE activities SET edition_year = $2, status = $3, title = $4, description = $5, category = $6,
               starts_at = $7, ends_at = $8, venue = $9, venue_postcode = $10, venue_house_number = $11,
               online_url = $12, phone = $13, municipality = $14, province = $15, target_groups = $16,
               capacity = $17, price_eur = $18, accessibility = $19, contact = $20, kom_erbij = $21,
               reject_reason = $22, search_text = $23, max_party_size = $24, sequence = sequence + 1,
               updated_at = now(),
               published_at = CASE WHEN $3 = 'published' THEN coalesce(published_at, now()) ELSE published_at END,
               cancelled_at = CASE WHEN $3 = 'cancelled' THEN now() END
           WHERE id = $1""",
        a.id, a.edition_year, a.status, a.title, a.description, a.category, a.starts_at, a.ends_at,
        _venue_json(a.venue), a.venue.postcode if a.venue else None,
        house_number(a.venue.street) if a.venue else None, a.online_url, a.phone, a.municipality, a.province,
        a.target_groups, a.capacity, a.price_eur, a.accessibility, _contact_json(a.contact), a.kom_erbij,
        a.reject_reason, search_text(a.title, a.description), a.max_party_size,
    )


async def get(conn: asyncpg.Connection, activity_id: str, *, lock: bool = False) -> Activity | None:
    """With `lock`, the row stays locked until the transaction ends: sign-ups and cancellations of one activity
    then happen one after the other, which is what keeps capacity from being exceeded."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM activities a WHERE a.id = $1{' FOR UPDATE' if lock else ''}", activity_id
    )
    return to_activity(row) if row else None


async def get_many(conn: asyncpg.Connection, activity_ids: list[str]) -> dict[str, Activity]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM activities a WHERE a.id = ANY($1::uuid[])", activity_ids)
    return {a.id: a for a in map(to_activity, rows)}


# One statement, and the row lock in every case. If the activity takes sign-ups and the party fits, `claimed`
# counts the party's seats and returns the row (locked by the update). Otherwise (full, not published, started,
# unknown) nothing is counted and `unclaimed` returns the row locked, as it is now, for the caller to tell why; no
# row at all means no such activity. `unclaimed` only runs when `claimed` changed nothing.
_CLAIM = f"""WITH claimed AS (
        UPDATE activities a SET seats_taken = a.seats_taken + $2
        WHERE a.id = $1 AND a.status = 'published' AND a.starts_at > $3
          AND (a.capacity IS NULL OR a.seats_taken + $2 <= a.capacity)
        RETURNING {_COLUMNS}, true AS claimed
    ), unclaimed AS (
        SELECT {_COLUMNS}, false AS claimed FROM activities a
        WHERE a.id = $1 AND NOT EXISTS (SELECT FROM claimed)
        FOR UPDATE
    )
    SELECT * FROM claimed UNION ALL SELECT * FROM unclaimed"""


async def claim_seats(
    conn: asyncpg.Connection, activity_id: str, party_size: int, now: datetime
) -> tuple[Activity | None, bool]:
    """Take `party_size` seats of a published activity that has not started, if they are free; either way the
    activity's row is locked until the transaction ends. Returns the activity as it is now (None: no such activity)
    and whether the seats were taken."""
    row = await conn.fetchrow(_CLAIM, activity_id, party_size, now)
    return (to_activity(row), row["claimed"]) if row else (None, False)


async def seats_taken(conn: asyncpg.Connection, activity_id: str) -> int:
    """The seat counter as it is now; callers that act on it hold the row lock."""
    return await conn.fetchval("SELECT seats_taken FROM activities WHERE id = $1", activity_id)


async def moderation_queue(conn: asyncpg.Connection) -> list[tuple[Activity, list[asyncpg.Record]]]:
    """Submitted activities, oldest first, each with the live activities at the same venue overlapping in time."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM activities a WHERE a.status = 'submitted' ORDER BY a.created_at, a.id"
    )
    clashes = await conn.fetch(
        """SELECT a.id AS activity_id, b.id, b.title, b.status, b.starts_at, b.ends_at
           FROM activities a JOIN activities b
             ON b.venue_postcode = a.venue_postcode AND b.venue_house_number = a.venue_house_number
            AND b.id <> a.id AND b.status IN ('submitted', 'published')
            AND tstzrange(b.starts_at, b.ends_at) && tstzrange(a.starts_at, a.ends_at)
           WHERE a.status = 'submitted' AND a.venue_house_number IS NOT NULL
           ORDER BY b.starts_at"""
    )
    by_activity: dict[str, list[asyncpg.Record]] = {}
    for c in clashes:
        by_activity.setdefault(str(c["activity_id"]), []).append(c)
    return [(a, by_activity.get(a.id, [])) for a in map(to_activity, rows)]


async def same_day_same_municipality(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Pairs of a submitted activity and another live one in the same municipality on the same (Amsterdam) day:
    the candidates of a "the same activity twice?" warning; the caller compares the titles."""
    return await conn.fetch(
        """SELECT a.id AS activity_id, a.title AS activity_title, b.id, b.title, b.status, b.starts_at, b.ends_at
           FROM activities a JOIN activities b
             ON b.municipality = a.municipality AND b.id <> a.id AND b.status IN ('submitted', 'published')
            AND (b.starts_at AT TIME ZONE 'Europe/Amsterdam')::date
                = (a.starts_at AT TIME ZONE 'Europe/Amsterdam')::date
           WHERE a.status = 'submitted'
           ORDER BY b.starts_at, b.id"""
    )


def _agenda_where(f: AgendaFilter) -> tuple[str, list[Any]]:
    clauses = ["a.status = 'published'"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.municipality:
        clauses.append(f"a.municipality = {arg(f.municipality)}")
    if f.province:
        clauses.append(f"a.province = {arg(f.province)}")
    if f.date_from:
        clauses.append(f"a.starts_at >= {arg(datetime.combine(f.date_from, time(), AMSTERDAM))}")
    if f.date_to:
        clauses.append(f"a.starts_at < {arg(datetime.combine(f.date_to + timedelta(days=1), time(), AMSTERDAM))}")
    if f.category:
        clauses.append(f"a.category = {arg(f.category)}")
    if f.target_group:
        clauses.append(f"{arg(f.target_group)} = ANY(a.target_groups)")
    if f.online is not None:
        online = "(a.venue IS NULL OR a.online_url IS NOT NULL)"
        clauses.append(online if f.online else f"NOT {online}")
    for term in f.terms:
        clauses.append(f"strpos(a.search_text, {arg(term)}) > 0")
    return " AND ".join(clauses), args


async def agenda(conn: asyncpg.Connection, f: AgendaFilter) -> tuple[list[Activity], int]:
    where, args = _agenda_where(f)
    total = await conn.fetchval(f"SELECT count(*) FROM activities a WHERE {where}", *args)
    n = len(args)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM activities a WHERE {where} ORDER BY a.starts_at, a.id LIMIT ${n + 1} OFFSET ${n + 2}",
        *args, f.page_size, f.offset,
    )
    return [to_activity(r) for r in rows], total


_IN_CALENDAR = """(a.status = 'published' OR (a.status = 'cancelled' AND a.published_at IS NOT NULL))
                  AND ($1::text IS NULL OR a.municipality = $1)"""


async def calendar(conn: asyncpg.Connection, municipality: str | None) -> list[Activity]:
    """What a calendar subscription shows: published activities and the cancelled ones it may already hold."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM activities a WHERE {_IN_CALENDAR} ORDER BY a.starts_at, a.id", municipality,
    )
    return [to_activity(r) for r in rows]


async def of_organisation(
    conn: asyncpg.Connection, organisation: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[tuple[Activity, int]], int]:
    """An organisation's activities (all of them for None: admins), soonest first, each with its waitlist length;
    and how many there are in all."""
    where = "($1::text IS NULL OR a.owner_organisation = $1) AND ($2::text IS NULL OR a.status = $2)"
    total = await conn.fetchval(f"SELECT count(*) FROM activities a WHERE {where}", organisation, status)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS},
                   (SELECT count(*) FROM signups s WHERE s.activity_id = a.id AND s.status = 'waitlisted')::int
                       AS waitlisted
            FROM activities a WHERE {where} ORDER BY a.starts_at, a.id LIMIT $3 OFFSET $4""",
        organisation, status, limit, offset,
    )
    return [(to_activity(r), r["waitlisted"]) for r in rows], total


async def calendar_version(conn: asyncpg.Connection, municipality: str | None) -> str:
    """Changes whenever the calendar would: an activity joins or leaves it, or is saved (`sequence` counts saves)."""
    return await conn.fetchval(
        f"""SELECT md5(coalesce(string_agg(a.id::text || ':' || a.sequence, ',' ORDER BY a.id), ''))
            FROM activities a WHERE {_IN_CALENDAR}""",
        municipality,
    )


async def count_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM activities GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
