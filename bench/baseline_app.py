"""The baselines of the sign-up and contention scenarios: bare FastAPI + asyncpg, one statement per request.

It answers "what can this machine do with this stack" in the same run, so a scenario can report a ratio that
survives a noisy, shared machine. Same server stack as `komerbij.runtime.service.serve` (uvicorn on uvloop with the
httptools parser, no access log config, routes with a return type so FastAPI serialises through pydantic's core, as
the services do), same route shapes, request bodies and pool size, so the difference is the service's work:

- `POST /v1/activities/{id}/signups`: one `INSERT`; the service adds validation rules, the activity row lock, seat
  count, token hashing, the outbox row + NOTIFY, the relay, middleware.
- `POST /v1/orders`: one conditional `UPDATE skus ... WHERE on_hand >= $1 RETURNING` per order, the least work that
  cannot oversell; the service adds the token, the idempotency key, the quota, the order and reservation rows and
  the outbox events, all in one transaction.

Run: `DATABASE_URL=... PORT=... python -m bench.baseline_app`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import asyncpg
import uvicorn
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

SCHEMA = """CREATE TABLE IF NOT EXISTS signups (
    id          uuid PRIMARY KEY,
    activity_id uuid NOT NULL,
    name        text NOT NULL,
    email       text,
    phone       text,
    party_size  int NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS skus (
    sku     text PRIMARY KEY,
    on_hand int NOT NULL CHECK (on_hand >= 0)
)"""


class SignupIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    phone: str | None = None
    party_size: int = Field(1, ge=1, le=20)
    consent: bool


class SignupOut(BaseModel):
    id: uuid.UUID


class LineIn(BaseModel):
    sku: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=10_000)


class OrderIn(BaseModel):
    """Only what the stock decision needs; the address and contact of the service's body are accepted unread."""

    lines: list[LineIn] = Field(min_length=1, max_length=1)


class OrderOut(BaseModel):
    status: Literal["confirmed", "rejected"]
    reason: Literal["out_of_stock"] | None = None
    on_hand: int | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Same pool bounds as komerbij.runtime.db.create_pool with the default DB_POOL_MAX_SIZE.
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1,
                                     max_size=int(os.environ.get("DB_POOL_MAX_SIZE", "10")))
    await pool.execute(SCHEMA)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/v1/activities/{activity_id}/signups", status_code=201)
async def sign_up(activity_id: uuid.UUID, body: SignupIn, request: Request) -> SignupOut:
    signup_id = uuid.uuid4()
    await request.app.state.pool.execute(
        "INSERT INTO signups (id, activity_id, name, email, phone, party_size) VALUES ($1, $2, $3, $4, $5, $6)",
        signup_id, activity_id, body.name, body.email, body.phone, body.party_size,
    )
    return SignupOut(id=signup_id)


@app.post("/v1/orders", status_code=201)
async def order(body: OrderIn, request: Request) -> OrderOut:
    line = body.lines[0]
    on_hand = await request.app.state.pool.fetchval(
        "UPDATE skus SET on_hand = on_hand - $1 WHERE sku = $2 AND on_hand >= $1 RETURNING on_hand",
        line.quantity, line.sku,
    )
    if on_hand is None:
        return OrderOut(status="rejected", reason="out_of_stock")
    return OrderOut(status="confirmed", on_hand=on_hand)


def main() -> None:
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ["PORT"]), log_config=None,
                timeout_graceful_shutdown=30, loop="uvloop", http="httptools")


if __name__ == "__main__":
    main()
