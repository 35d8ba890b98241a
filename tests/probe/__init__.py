"""A minimal service built on the shared runtime, used to prove the runtime's guarantees on real Kafka/PostgreSQL.

It publishes `StockAdjusted` events (through the outbox) from `POST /probe/adjust` and consumes them again under
the consumer group named by PROBE_GROUP, recording each effect in `effects` (without a unique constraint, so a
second application would show as a second row). A handler fails while the `broken` flag is set, to exercise retries
and dead letters; PROBE_HANDLER_DELAY slows the handler for shutdown tests; PROBE_BATCH=1 registers the same effect
as a batch handler (`EventRouter.on_batch`), which fails as a whole when any of its events would. With `signups`,
it also records `SignupConfirmed` from `registration.signups` (three partitions: the consumer applies a batch's
partitions side by side) as effects keyed by activity, `n` and `run` read from the sign-up's name "run:n".
"""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from komerbij.contracts.events.materials import StockAdjusted
from komerbij.contracts.events.registration import SignupConfirmed
from komerbij.runtime import logs
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.consumer import EventContext, EventRouter
from komerbij.runtime.http import ProblemError
from komerbij.runtime.service import Runtime, ServiceSpec, runtime_of
from komerbij.runtime.settings import ServiceSettings


class Adjust(BaseModel):
    key: str = Field(min_length=1)
    n: int
    run: str


router = APIRouter()


@router.post("/probe/adjust", status_code=201)
async def adjust(body: Adjust, request: Request) -> dict[str, str]:
    rt = runtime_of(request)
    async with rt.uow() as uow:
        await adjust_in(uow.conn, uow.emit, body.key, body.n, body.run)
    return {"status": "ok"}


async def adjust_in(conn, emit, key: str, n: int, run: str) -> str:
    await conn.execute("INSERT INTO ledger (key, n, run) VALUES ($1, $2, $3)", key, n, run)
    return await emit(StockAdjusted(sku=key, name="probe", stock_on_hand=n, reserved=0, delta=1, reason=run))


@router.get("/probe/municipalities/{code}")
async def municipality_only(code: str, principal: Principal = require("organiser")) -> dict[str, str]:
    if not principal.is_admin and principal.municipality != code:
        raise ProblemError(403, "Geen toegang", "This belongs to another municipality.")
    return {"municipality": code}


def make_router(group: str, delay: float, batch: bool = False, signups: bool = False) -> EventRouter:
    events = EventRouter(group)

    async def apply(event: StockAdjusted, ctx: EventContext) -> None:
        if delay:
            await asyncio.sleep(delay)
        if event.reason.startswith("fail") and await ctx.conn.fetchval("SELECT broken FROM flags"):
            raise RuntimeError("probe handler is broken")
        await ctx.conn.execute(
            "INSERT INTO effects (event_id, key, n, run, correlation_id) VALUES ($1, $2, $3, $4, $5)",
            ctx.attributes.id, event.sku, event.stock_on_hand, event.reason, logs.correlation_id.get(),
        )

    if signups:
        @events.on(SignupConfirmed)
        async def on_signup(event: SignupConfirmed, ctx: EventContext) -> None:
            run, _, n = event.name.rpartition(":")
            if run.startswith("fail") and await ctx.conn.fetchval("SELECT broken FROM flags"):
                raise RuntimeError("probe handler is broken")
            await ctx.conn.execute("INSERT INTO effects (event_id, key, n, run) VALUES ($1, $2, $3, $4)",
                                   ctx.attributes.id, event.activity_id, int(n), run.removeprefix("fail-"))

    if batch:
        @events.on_batch(StockAdjusted)
        async def on_adjusted_batch(batch: list[tuple[StockAdjusted, EventContext]]) -> None:
            for event, ctx in batch:
                await apply(event, ctx)
    else:
        events.on(StockAdjusted)(apply)
    return events


def spec(group: str | None = None, delay: float | None = None, batch: bool | None = None,
         signups: bool = False) -> ServiceSpec:
    """In-process tests pass the group; `python -m probe` reads PROBE_GROUP / PROBE_HANDLER_DELAY / PROBE_BATCH."""
    group = group or os.environ.get("PROBE_GROUP", "probe")
    delay = delay if delay is not None else float(os.environ.get("PROBE_HANDLER_DELAY", "0"))
    batch = batch if batch is not None else os.environ.get("PROBE_BATCH") == "1"
    return ServiceSpec(
        name="probe",
        title="probe",
        description="Runtime probe for tests",
        settings_class=ServiceSettings,
        migrations_package="probe.migrations",
        routers=[router],
        events=make_router(group, delay, batch, signups),
        publishes=[StockAdjusted],
    )


async def effects(rt: Runtime, run: str) -> list[tuple[str, str, int]]:
    async with rt.pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, key, n FROM effects WHERE run = $1 ORDER BY id", run)
    return [(r["event_id"], r["key"], r["n"]) for r in rows]


