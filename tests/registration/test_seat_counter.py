"""The seat counter on the activity (`activities.seats_taken`): always the sum of the confirmed parties, never above
capacity, whatever mix of sign-ups, cancellations, promotions and capacity changes runs at once; the migration that
introduced it counts the sign-ups already there; a sign-up is one short transaction."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from support.infra import Infra
from support.services import RunningService, eventually

from komerbij.registration.adapters import activities
from komerbij.registration.service.privacy import purge_participants
from komerbij.runtime import db
from komerbij.runtime.service import UnitOfWork
from registration.builders import ORGANISER_A, cancel_signup, headers, published, sign_up, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")
AMS = ZoneInfo("Europe/Amsterdam")
SIZES = (1, 2, 3, 1, 4, 1, 2)


async def exact_counter(svc: RunningService, activity_id: str) -> asyncpg.Record:
    """The counter equals the confirmed parties' seats, stays within capacity, and nobody waits who would fit."""
    async with svc.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT a.capacity, a.seats_taken,
                      (SELECT coalesce(sum(s.party_size), 0) FROM signups s
                        WHERE s.activity_id = a.id AND s.status = 'confirmed')::int AS confirmed,
                      ARRAY(SELECT s.party_size FROM signups s
                             WHERE s.activity_id = a.id AND s.status = 'waitlisted') AS waiting
               FROM activities a WHERE a.id = $1""",
            activity_id,
        )
    capacity, taken = row["capacity"], row["seats_taken"]
    assert taken == row["confirmed"]
    if capacity is not None:
        assert taken <= capacity
        assert all(size > capacity - taken for size in row["waiting"]), (capacity, taken, row["waiting"])
    body = (await svc.client.get(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A))).json()
    assert body["seats_taken"] == taken
    assert body["places_left"] == (None if capacity is None else capacity - taken)
    return row


async def test_counter_stays_exact_through_concurrent_signups_cancellations_promotions_and_more_capacity(
    svc: RunningService,
) -> None:
    activity_id = await published(svc, capacity=12)
    first = await asyncio.gather(
        *(sign_up(svc, activity_id, name=f"Een{n}", party_size=SIZES[n % 7]) for n in range(30))
    )
    await exact_counter(svc, activity_id)
    confirmed = [s for s in first if s["status"] == "confirmed"]
    waiting = [s for s in first if s["status"] == "waitlisted"]
    assert confirmed and waiting

    async def more_capacity() -> None:
        r = await svc.client.patch(f"/v1/activities/{activity_id}", headers=headers(ORGANISER_A),
                                   json={"capacity": 16})
        assert r.status_code == 200, r.text

    results = await asyncio.gather(
        *(cancel_signup(svc, s) for s in confirmed[::2]),
        *(cancel_signup(svc, s) for s in waiting[1::3]),
        *(sign_up(svc, activity_id, name=f"Twee{n}", party_size=SIZES[n % 7]) for n in range(20)),
        more_capacity(),
    )
    second = [r for r in results if isinstance(r, dict) and "cancel_token" in r]
    assert (await exact_counter(svc, activity_id))["seats_taken"] > 0
    async with svc.runtime.pool.acquire() as conn:
        promoted = await conn.fetchval(
            "SELECT count(*) FROM signups WHERE activity_id = $1 AND promoted_at IS NOT NULL", activity_id)
    assert promoted > 0

    # Everyone leaves at once, while the cancellations keep promoting those still waiting.
    await asyncio.gather(*(cancel_signup(svc, s) for s in first + second))
    row = await exact_counter(svc, activity_id)
    assert row["seats_taken"] == 0 and row["waiting"] == []


async def test_claiming_seats_locks_the_activity_whether_or_not_the_party_fits(svc: RunningService) -> None:
    full = await published(svc, capacity=1)
    await sign_up(svc, full)
    room = await published(svc, capacity=1)
    draft = await submit(svc)
    now = svc.runtime.clock.now()
    started = datetime(2028, 1, 1, tzinfo=AMS)
    for activity_id, moment, fits, taken in [(room, now, True, 1), (full, now, False, 1), (draft, now, False, 0),
                                             (room, started, False, 0)]:
        async with svc.runtime.pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                a, claimed = await activities.claim_seats(conn, activity_id, 1, moment)
                assert a is not None and a.id == activity_id
                assert (claimed, a.seats_taken) == (fits, taken)
                async with svc.runtime.pool.acquire() as other:
                    with pytest.raises(asyncpg.LockNotAvailableError):
                        await other.execute("SELECT 1 FROM activities WHERE id = $1 FOR UPDATE NOWAIT", activity_id)
            finally:
                await tx.rollback()
    async with svc.runtime.pool.acquire() as conn:
        assert await activities.claim_seats(conn, str(uuid.uuid4()), 1, now) == (None, False)
        assert await activities.seats_taken(conn, room) == 0  # the rollbacks gave the seat back


async def test_seats_freed_between_the_conditional_update_and_the_lock_are_taken(
    svc: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity_id = await published(svc, capacity=2)
    real = activities.claim_seats
    calls: list[str] = []

    async def found_full_first(conn: asyncpg.Connection, aid: str, party_size: int, now: datetime) -> Any:
        calls.append(aid)
        if len(calls) == 1:  # as if a cancellation committed just after the update saw no room
            return await activities.get(conn, aid, lock=True), False
        return await real(conn, aid, party_size, now)

    monkeypatch.setattr(activities, "claim_seats", found_full_first)
    signup = await sign_up(svc, activity_id, party_size=2)
    assert signup["status"] == "confirmed" and len(calls) == 2
    assert (await exact_counter(svc, activity_id))["seats_taken"] == 2


async def test_cancelling_the_activity_frees_every_seat_and_the_purge_keeps_the_counts(
    own_svc: RunningService,
) -> None:
    svc = own_svc  # the purge below takes every sign-up due in the database: this test's only
    called_off = await published(svc, capacity=3)
    for n, size in enumerate((2, 1, 2)):
        await sign_up(svc, called_off, name=f"Drie{n}", party_size=size)
    assert (await exact_counter(svc, called_off))["seats_taken"] == 3
    r = await svc.client.post(f"/v1/activities/{called_off}/cancel", headers=headers(ORGANISER_A))
    assert r.status_code == 200
    assert (await exact_counter(svc, called_off))["seats_taken"] == 0

    kept = await published(svc, capacity=5)
    await sign_up(svc, kept, name="Vier", party_size=2)
    await sign_up(svc, kept, name="Vijf", party_size=2)
    # The purge erases contact details (it deletes nothing and changes no status), so the counts stay.
    assert await purge_participants(svc.runtime, datetime(2027, 11, 8, 9, 0, tzinfo=AMS)) == 5  # all, called off too
    assert (await exact_counter(svc, kept))["seats_taken"] == 4


class _CountingPool:
    """Hands out the pool's connections, noting each statement sent until the connection goes back."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements: list[str] = []

    def acquire(self) -> _CountingAcquire:
        return _CountingAcquire(self)


class _CountingAcquire:
    def __init__(self, counting: _CountingPool) -> None:
        self.counting = counting
        self.inner = counting.pool.acquire()

    def note(self, record: Any) -> None:
        self.counting.statements.append(" ".join(record.query.split()))

    async def __aenter__(self) -> asyncpg.Connection:
        self.conn = await self.inner.__aenter__()
        self.conn.add_query_logger(self.note)
        return self.conn

    async def __aexit__(self, *exc: Any) -> None:
        self.conn.remove_query_logger(self.note)  # before the pool's reset, one more round trip not counted here
        await self.inner.__aexit__(*exc)


async def _committed(counting: _CountingPool) -> bool:
    return bool(counting.statements) and counting.statements[-1].startswith("COMMIT")


async def test_a_confirmed_signup_is_begin_two_statements_commit_and_a_waitlisted_one_three(
    svc: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity_id = await published(svc, capacity=2)
    await sign_up(svc, activity_id, name="Eerste")  # statements prepared, caches warm
    for expected in ("confirmed", "waitlisted"):
        counting = _CountingPool(svc.runtime.pool)
        monkeypatch.setattr(svc.runtime, "uow", lambda c=counting: UnitOfWork(c, svc.runtime.source))
        signup = await sign_up(svc, activity_id, name=expected, party_size=1 if expected == "confirmed" else 2)
        # Query loggers are called soon after their statement, not during: wait for the COMMIT's.
        await eventually(lambda c=counting: _committed(c), what="the COMMIT logged")
        assert signup["status"] == expected
        kinds = [s.split()[0] for s in counting.statements]
        # BEGIN, the conditional update (seats and lock), the sign-up, the outbox row (and its notify), COMMIT; a
        # confirmed sign-up's row and event go in one statement, a waitlisted one's row counts its place first.
        if expected == "confirmed":
            assert kinds == ["BEGIN;", "WITH", "WITH", "COMMIT;"], kinds
            both = counting.statements[2]
            assert "INSERT INTO signups" in both and "INSERT INTO outbox" in both and "pg_notify" in both
        else:
            assert kinds == ["BEGIN;", "WITH", "WITH", "WITH", "COMMIT;"], kinds
        assert not [s for s in counting.statements if "sum(" in s]


async def test_the_migration_counts_the_seats_of_the_signups_already_there(infra: Infra) -> None:
    migrations = db.load_migrations("runtime", "komerbij.runtime.migrations") + db.load_migrations(
        "registration", "komerbij.registration.migrations")
    pool = await db.create_pool(infra.new_database("registration"), max_size=2)
    try:
        await db.migrate(pool, [m for m in migrations if (m.component, m.name) != ("registration",
                                                                                     "002_seats_taken.sql")])
        old, quiet, unlimited = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with pool.acquire() as conn:
            for activity_id, capacity in ((old, 5), (quiet, 4), (unlimited, None)):
                await conn.execute(
                    """INSERT INTO activities (id, edition_year, status, title, description, category, starts_at,
                           ends_at, target_groups, capacity, accessibility, contact, kom_erbij, owner_subject,
                           search_text)
                       VALUES ($1, 2022, 'published', 'Eettafel', 'Samen eten', 'eettafel', '2022-10-01 17:00+02',
                               '2022-10-01 19:00+02', '{ouderen}', $2, '{}', $3, true, 'org', 'eettafel')""",
                    activity_id, capacity, {"name": "Welzijn", "email": "info@example.org", "phone": None},
                )
            for activity_id, status, size in [
                (old, "confirmed", 2), (old, "confirmed", 3), (old, "waitlisted", 4), (old, "cancelled", 5),
                (quiet, "waitlisted", 5), (quiet, "cancelled", 1),
                (unlimited, "confirmed", 1), (unlimited, "confirmed", 7), (unlimited, "cancelled", 3),
            ]:
                await conn.execute(
                    """INSERT INTO signups (id, activity_id, status, party_size, consent_at)
                       VALUES ($1, $2, $3, $4, now())""",
                    uuid.uuid4(), activity_id, status, size,
                )
        assert await db.migrate(pool, migrations) == ["registration/002_seats_taken.sql"]
        async with pool.acquire() as conn:
            counted = {r["id"]: r["seats_taken"] for r in await conn.fetch("SELECT id, seats_taken FROM activities")}
            assert counted == {old: 5, quiet: 0, unlimited: 8}
            # A counter that would go past capacity or below zero fails the statement instead of overselling.
            for seats in (6, -1):
                with pytest.raises(asyncpg.CheckViolationError):
                    await conn.execute("UPDATE activities SET seats_taken = $2 WHERE id = $1", old, seats)
    finally:
        await pool.close()
