"""The sign-up API's baseline: bare FastAPI + asyncpg, one INSERT per request, nothing else.

It answers "what can this machine do with this stack" in the same run, so the sign-up benchmark can report a ratio
that survives a noisy, shared machine. Same route shape, request body, pool size and uvicorn settings as
`komerbij.runtime.service.serve` (asyncio loop, h11, no access log config), so the difference is the service's work:
validation rules, the activity row lock, seat count, token hashing, the outbox row + NOTIFY, the relay, middleware.

Run: `DATABASE_URL=... PORT=... python -m bench.baseline_app`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
)"""


class SignupIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    phone: str | None = None
    party_size: int = Field(1, ge=1, le=20)
    consent: bool


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
async def sign_up(activity_id: uuid.UUID, body: SignupIn, request: Request) -> dict[str, str]:
    signup_id = uuid.uuid4()
    await request.app.state.pool.execute(
        "INSERT INTO signups (id, activity_id, name, email, phone, party_size) VALUES ($1, $2, $3, $4, $5, $6)",
        signup_id, activity_id, body.name, body.email, body.phone, body.party_size,
    )
    return {"id": str(signup_id)}


def main() -> None:
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ["PORT"]), log_config=None,
                timeout_graceful_shutdown=30)


if __name__ == "__main__":
    main()
