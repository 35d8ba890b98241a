"""The read model in PostgreSQL: rows written with their version (domain/entities.py), figures counted by SQL.

Writing is set-based: a run of events is one `executemany` per table, each row an upsert that replaces the stored
row only when its version is higher. Counting happens when a page asks, over a few thousand rows per edition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple
from datetime import datetime
from typing import Any

import asyncpg

from komerbij.dashboard.domain.entities import ActivityRow, MentionRow, OrderRow, SignupRow, Version
from komerbij.dashboard.domain.figures import (
    ENDED,
    ActivityFigures,
    Counts,
    LatestMention,
    MentionFigures,
    OrderFigures,
)

LATEST_MENTIONS = 5
# Which table each topic feeds (the rebuild clears a table by its topic's offsets).
TABLES = {
    "registration.activities": "activities",
    "registration.signups": "signups",
    "materials.orders": "orders",
    "media.mentions": "mentions",
}
_VERSION = ("v_rank", "v_time", "v_partition", "v_offset")


def _upsert(table: str, key: str, columns: Sequence[str], keep_if_null: Sequence[str] = ()) -> str:
    names = [*columns, *_VERSION]
    values = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sets = ", ".join(
        f"{c} = coalesce(excluded.{c}, t.{c})" if c in keep_if_null else f"{c} = excluded.{c}"
        for c in names if c != key
    )
    newer = ", ".join(f"excluded.{c}" for c in _VERSION), ", ".join(f"t.{c}" for c in _VERSION)
    return (f"INSERT INTO {table} AS t ({', '.join(names)}) VALUES ({values}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE ({newer[0]}) > ({newer[1]})")


_ACTIVITY = _upsert("activities", "activity_id",
                    ("activity_id", "edition_year", "municipality", "category", "status", "capacity"),
                    keep_if_null=("status",))
_SIGNUP = _upsert("signups", "signup_id", ("signup_id", "activity_id", "status", "party_size"))
_ORDER = _upsert("orders", "order_id", ("order_id", "municipality", "edition_year", "status", "items"))
_MENTION = _upsert("mentions", "mention_id", (
    "mention_id", "title", "url", "outlet_name", "medium", "published_at", "edition_year", "municipalities", "reach",
    "is_copy", "deleted"))
_STATEMENTS: dict[type, str] = {ActivityRow: _ACTIVITY, SignupRow: _SIGNUP, OrderRow: _ORDER, MentionRow: _MENTION}

Row = ActivityRow | SignupRow | OrderRow | MentionRow


async def apply(conn: asyncpg.Connection, rows: Sequence[tuple[Row, Version]]) -> None:
    """Upsert rows in the order given (one entity may come twice in a run: the higher version stays)."""
    by_statement: dict[str, list[tuple[Any, ...]]] = {}
    for row, version in rows:
        values = tuple(list(v) if isinstance(v, tuple) else v for v in astuple(row))
        by_statement.setdefault(_STATEMENTS[type(row)], []).append((*values, *astuple(version)))
    for statement, args in by_statement.items():
        await conn.executemany(statement, args)


async def record_progress(conn: asyncpg.Connection, newest: Mapping[str, datetime]) -> None:
    await conn.executemany(
        """INSERT INTO progress (topic, newest_event_at, applied_at) VALUES ($1, $2, now())
           ON CONFLICT (topic) DO UPDATE SET newest_event_at = greatest(progress.newest_event_at,
                                                                        excluded.newest_event_at),
                                             applied_at = excluded.applied_at""",
        list(newest.items()),
    )


async def progress(conn: asyncpg.Connection) -> dict[str, datetime]:
    return {r["topic"]: r["newest_event_at"] for r in await conn.fetch("SELECT topic, newest_event_at FROM progress")}


async def editions(conn: asyncpg.Connection) -> list[int]:
    rows = await conn.fetch("""SELECT edition_year FROM activities UNION SELECT edition_year FROM orders
                               UNION SELECT edition_year FROM mentions WHERE NOT deleted""")
    return [r["edition_year"] for r in rows]


# Per activity of an edition (optionally of one municipality): its status and what its sign-ups add up to.
_PER_ACTIVITY = """
    WITH a AS (
        SELECT a.municipality, a.category, a.status, a.capacity,
               coalesce(s.signups, 0) AS signups, coalesce(s.seats, 0) AS seats, coalesce(s.waiting, 0) AS waiting
        FROM activities a
        LEFT JOIN LATERAL (
            SELECT count(*) FILTER (WHERE status = 'confirmed') AS signups,
                   sum(party_size) FILTER (WHERE status = 'confirmed') AS seats,
                   sum(party_size) FILTER (WHERE status = 'waitlisted') AS waiting
            FROM signups WHERE signups.activity_id = a.activity_id
        ) s ON true
        WHERE a.edition_year = $1 AND ($2::text IS NULL OR a.municipality = $2)
    )"""
_ACTIVITY_SUMS = """
    SELECT municipality,
           count(*) FILTER (WHERE status = 'published') AS published,
           count(*) FILTER (WHERE status = 'submitted') AS submitted,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
           coalesce(sum(signups) FILTER (WHERE status = 'published'), 0)::int AS signups,
           coalesce(sum(seats) FILTER (WHERE status = 'published'), 0)::int AS participants,
           coalesce(sum(waiting) FILTER (WHERE status = 'published'), 0)::int AS waitlisted,
           coalesce(sum(capacity) FILTER (WHERE status = 'published' AND capacity > 0), 0)::int AS capacity,
           coalesce(sum(seats) FILTER (WHERE status = 'published' AND capacity > 0), 0)::int AS participants_limited,
           count(*) FILTER (WHERE status = 'published' AND capacity > 0) AS limited
    FROM a WHERE municipality IS NOT NULL GROUP BY municipality"""


async def activity_figures(conn: asyncpg.Connection, code: str, edition: int) -> ActivityFigures:
    sums = await conn.fetchrow(_PER_ACTIVITY + _ACTIVITY_SUMS, edition, code)
    categories = await conn.fetch(
        _PER_ACTIVITY + """SELECT category, count(*) AS n FROM a WHERE status = 'published'
                           GROUP BY category ORDER BY n DESC, category""", edition, code)
    s: Mapping[str, Any] = sums or {}
    return ActivityFigures(
        by_status={k: s.get(k, 0) for k in ("submitted", "published", "rejected", "cancelled")},
        by_category=[(r["category"], r["n"]) for r in categories],
        signups=s.get("signups", 0), participants=s.get("participants", 0), waitlisted=s.get("waitlisted", 0),
        capacity=s.get("capacity", 0), participants_limited=s.get("participants_limited", 0),
        limited=s.get("limited", 0),
    )


async def order_figures(conn: asyncpg.Connection, code: str, edition: int) -> OrderFigures:
    rows = await conn.fetch(
        """SELECT status, count(*) AS n, coalesce(sum(items), 0)::int AS items FROM orders
           WHERE edition_year = $1 AND municipality = $2 GROUP BY status""", edition, code)
    return OrderFigures(
        by_status={r["status"]: r["n"] for r in rows},
        items=sum(r["items"] for r in rows if r["status"] not in ENDED),
        items_delivered=sum(r["items"] for r in rows if r["status"] == "delivered"),
    )


_MENTION_SUMS = """
    SELECT code,
           count(*) FILTER (WHERE NOT m.is_copy) AS articles,
           count(*) FILTER (WHERE m.is_copy) AS copies,
           coalesce(sum(m.reach), 0)::bigint AS reach,
           count(*) FILTER (WHERE m.reach IS NULL) AS reach_unknown
    FROM mentions m, unnest(m.municipalities) AS code
    WHERE m.edition_year = $1 AND NOT m.deleted AND ($2::text IS NULL OR m.municipalities @> ARRAY[$2::text])
      AND ($2::text IS NULL OR code = $2)
    GROUP BY code"""


async def mention_figures(conn: asyncpg.Connection, code: str, edition: int) -> MentionFigures:
    sums = await conn.fetchrow(_MENTION_SUMS, edition, code)
    latest = await conn.fetch(
        """SELECT title, url, outlet_name, medium, published_at, is_copy FROM mentions
           WHERE edition_year = $1 AND NOT deleted AND municipalities @> ARRAY[$2::text]
           ORDER BY published_at DESC, mention_id LIMIT $3""", edition, code, LATEST_MENTIONS)
    s: Mapping[str, Any] = sums or {}
    return MentionFigures(
        articles=s.get("articles", 0), copies=s.get("copies", 0), reach=s.get("reach", 0),
        reach_unknown=s.get("reach_unknown", 0),
        latest=[LatestMention(r["title"], r["url"], r["outlet_name"], r["medium"], r["published_at"], r["is_copy"])
                for r in latest],
    )


async def counts_by_municipality(conn: asyncpg.Connection, edition: int) -> tuple[dict[str, Counts], int]:
    """Every municipality's counts in one pass per table, and the distinct mentions that name any municipality."""
    counts: dict[str, dict[str, int]] = {}
    for r in await conn.fetch(_PER_ACTIVITY + _ACTIVITY_SUMS, edition, None):
        counts.setdefault(r["municipality"], {}).update(
            {k: r[k] for k in ("published", "submitted", "cancelled", "signups", "participants", "waitlisted",
                               "capacity", "participants_limited")})
    ended = list(ENDED)
    for r in await conn.fetch(
        """SELECT municipality,
                  count(*) FILTER (WHERE status <> ALL($2::text[])) AS orders,
                  coalesce(sum(items) FILTER (WHERE status <> ALL($2::text[])), 0)::int AS items,
                  count(*) FILTER (WHERE status = 'delivered') AS delivered
           FROM orders WHERE edition_year = $1 GROUP BY municipality""", edition, ended):
        counts.setdefault(r["municipality"], {}).update(orders=r["orders"], items=r["items"],
                                                        delivered=r["delivered"])
    for r in await conn.fetch(_MENTION_SUMS, edition, None):
        counts.setdefault(r["code"], {}).update(mentions=r["articles"] + r["copies"], reach=r["reach"])
    distinct = await conn.fetchval(
        """SELECT count(*) FROM mentions
           WHERE edition_year = $1 AND NOT deleted AND cardinality(municipalities) > 0""", edition)
    return {code: Counts(**values) for code, values in counts.items()}, distinct


async def forget(conn: asyncpg.Connection, consumer: str, starts: Mapping[str, Mapping[int, int]] | None) -> int:
    """Before a replay: forget the rows whose event the topics still hold, and the consumer's inbox.

    `starts`: per topic, each partition's first offset (its log start). A row whose event lies before that start
    stays: no event the replay brings can replace it (see service/rebuild.py). None: forget every row.
    """
    forgotten = 0
    for topic, table in TABLES.items():
        if starts is None:
            forgotten += int((await conn.execute(f"DELETE FROM {table}")).split()[-1])
            continue
        partitions = starts.get(topic, {})
        status = await conn.execute(
            f"""DELETE FROM {table} t USING unnest($1::int[], $2::bigint[]) AS s(p, start)
                WHERE t.v_partition = s.p AND t.v_offset >= s.start""",
            list(partitions), list(partitions.values()))
        forgotten += int(status.split()[-1])
    await conn.execute("DELETE FROM progress")
    await conn.execute("DELETE FROM inbox WHERE consumer = $1", consumer)
    return forgotten


async def row_counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES.values()}
