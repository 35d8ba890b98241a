"""Held edits in PostgreSQL (migration 005). Callers hold the activity's row lock while they propose or decide, so
the one-pending-edit-per-activity rule never meets a race; the partial unique index is the backstop."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from komerbij.registration.domain.edit import EditStatus, HeldEdit

_COLUMNS = "id, activity_id, status, fields, proposed_by, proposed_at, decided_by, decided_at, reason"


def _edit(row: asyncpg.Record) -> HeldEdit:
    return HeldEdit(
        id=str(row["id"]), activity_id=str(row["activity_id"]), status=row["status"],
        fields=dict(row["fields"]), proposed_by=row["proposed_by"],
        proposed_at=row["proposed_at"], decided_by=row["decided_by"], decided_at=row["decided_at"],
        reason=row["reason"],
    )


async def get(conn: asyncpg.Connection, edit_id: str) -> HeldEdit | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM activity_edits WHERE id = $1", edit_id)
    return _edit(row) if row else None


async def pending_of(conn: asyncpg.Connection, activity_ids: list[str]) -> dict[str, HeldEdit]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM activity_edits WHERE activity_id = ANY($1::uuid[]) AND status = 'pending'",
        activity_ids,
    )
    return {e.activity_id: e for e in map(_edit, rows)}


async def latest_of(conn: asyncpg.Connection, activity_ids: list[str]) -> dict[str, HeldEdit]:
    """Each activity's most recent held edit, whatever became of it (pending, approved, rejected, ...)."""
    rows = await conn.fetch(
        f"""SELECT DISTINCT ON (activity_id) {_COLUMNS} FROM activity_edits WHERE activity_id = ANY($1::uuid[])
            ORDER BY activity_id, status = 'pending' DESC, proposed_at DESC, coalesce(decided_at, proposed_at) DESC""",
        activity_ids,
    )
    return {e.activity_id: e for e in map(_edit, rows)}


async def close_pending(conn: asyncpg.Connection, activity_id: str, status: EditStatus, by: str) -> None:
    """End the activity's pending edit, if any, without a moderator's decision (replaced or taken back)."""
    await conn.execute(
        """UPDATE activity_edits SET status = $2, decided_by = $3, decided_at = now()
           WHERE activity_id = $1 AND status = 'pending'""",
        activity_id, status, by,
    )


async def propose(conn: asyncpg.Connection, activity_id: str, fields: dict[str, Any], by: str) -> HeldEdit:
    """The new pending edit of the activity; one that was pending before is superseded by it."""
    await close_pending(conn, activity_id, "superseded", by)
    row = await conn.fetchrow(
        f"""INSERT INTO activity_edits (id, activity_id, status, fields, proposed_by)
            VALUES ($1, $2, 'pending', $3::jsonb, $4) RETURNING {_COLUMNS}""",
        uuid.uuid4(), activity_id, fields, by,
    )
    return _edit(row)


async def decide(conn: asyncpg.Connection, edit_id: str, status: EditStatus, by: str, reason: str | None) -> None:
    await conn.execute(
        "UPDATE activity_edits SET status = $2, decided_by = $3, decided_at = now(), reason = $4 WHERE id = $1",
        edit_id, status, by, reason,
    )


async def queue(conn: asyncpg.Connection) -> list[HeldEdit]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM activity_edits WHERE status = 'pending' ORDER BY proposed_at, id"
    )
    return [_edit(r) for r in rows]
