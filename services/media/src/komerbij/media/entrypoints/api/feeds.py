"""RSS and Atom feeds of outlets, polled for mentions of the week."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from komerbij.media.entrypoints.api.models import Comms, FeedIn
from komerbij.media.entrypoints.api.representations import feed_json
from komerbij.media.service import feeds as feed_service
from komerbij.media.service import polling
from komerbij.media.settings import settings_of
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["feeds"])


@router.post("/feeds", status_code=201, summary="Add an RSS or Atom feed of an outlet")
async def create_feed(body: FeedIn, request: Request, _: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    minimum = settings_of(rt).media_feed_min_interval_seconds
    if body.interval_seconds < minimum:
        raise field_error("interval_seconds", f"minstens {minimum} seconden")
    feed_id = await feed_service.create_feed(rt, body.outlet_id, body.url, body.interval_seconds, rt.clock.now())
    return {"id": str(feed_id), **body.model_dump(mode="json")}


@router.get("/feeds", summary="All feeds with their last poll, status and last error")
async def list_feeds(request: Request, _: Comms) -> dict[str, Any]:
    rows = await feed_service.list_feeds(runtime_of(request))
    return {"items": [feed_json(r) for r in rows], "total": len(rows)}


@router.get("/feeds/{feed_id}", summary="One feed")
async def get_feed(feed_id: uuid.UUID, request: Request, _: Comms) -> dict[str, Any]:
    row = await feed_service.get_feed(runtime_of(request), feed_id)
    if row is None:
        raise ProblemError(404, "Niet gevonden", "No feed with this id.")
    return feed_json(row)


@router.post("/feeds/{feed_id}/poll", summary="Poll a feed now")
async def poll_feed(feed_id: uuid.UUID, request: Request, _: Comms) -> dict[str, Any]:
    rt = runtime_of(request)
    report = await polling.poll_feed(rt, feed_id, rt.clock.now())
    if report is None:
        raise ProblemError(404, "Niet gevonden", "No feed with this id.")
    row = await feed_service.get_feed(rt, feed_id)
    assert row is not None
    return {"outcome": report.outcome, "recorded": report.recorded, "already_known": report.known,
            "irrelevant": report.irrelevant, "error": report.error, "feed": feed_json(row)}
