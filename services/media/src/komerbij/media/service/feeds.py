"""Feeds: which RSS/Atom addresses are polled for which outlet, and how often."""

from __future__ import annotations

import uuid
from datetime import datetime

from komerbij.media.adapters import store
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.service import Runtime


async def create_feed(rt: Runtime, outlet_id: uuid.UUID, url: str, interval_seconds: int, now: datetime
                      ) -> uuid.UUID:
    problem = rt.outbound.registration_problem(url)
    if problem:
        raise field_error("url", problem)
    feed_id = uuid.uuid4()
    async with rt.uow() as uow:
        if await store.outlet(uow.conn, outlet_id) is None:
            raise field_error("outlet_id", "onbekend medium")
        # Due at once: a new feed shows what it has at the next scheduler tick.
        if not await store.insert_feed(uow.conn, feed_id, outlet_id, url, interval_seconds, now):
            existing = await store.feed_by_url(uow.conn, url)
            raise ProblemError(409, "Deze feed bestaat al", "A feed with this URL exists.",
                               extra={"id": str(existing["id"]) if existing else None})
    return feed_id


async def list_feeds(rt: Runtime) -> list[store.Row]:
    async with rt.pool.acquire() as conn:
        return await store.feeds(conn)


async def get_feed(rt: Runtime, feed_id: uuid.UUID) -> store.Row | None:
    async with rt.pool.acquire() as conn:
        return await store.feed(conn, feed_id)
