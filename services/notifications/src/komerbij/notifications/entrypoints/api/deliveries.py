"""The delivery log (role admin): what was sent to whom, by which channel, and retrying a failed delivery."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from komerbij.notifications.entrypoints.api.problems import guard as _guard
from komerbij.notifications.service import partners
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.http import field_error
from komerbij.runtime.service import runtime_of

router = APIRouter()
ADMIN = require("admin")


@router.get("/v1/deliveries", tags=["deliveries"])
async def list_deliveries(
    request: Request,
    partner: str | None = None,
    status: Literal["pending", "sending", "retrying", "delivered", "failed", "skipped"] | None = None,
    channel: Literal["email", "webhook"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    since: datetime | None = Query(None, description="made at or after (ISO 8601 with offset)"),
    until: datetime | None = Query(None, description="made before (ISO 8601 with offset)"),
    _: Principal = ADMIN,
) -> dict[str, Any]:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise field_error(name, "geef een tijdstip met tijdzone, bijvoorbeeld 2026-10-01T00:00:00+02:00")
    items = await partners.delivery_log(runtime_of(request), partner=partner, status=status, channel=channel,
                                        limit=limit, since=since, until=until)
    return {"items": items}


@router.post("/v1/deliveries/{delivery_id}/retry", status_code=202, tags=["deliveries"])
async def retry_delivery(delivery_id: uuid.UUID, request: Request, _: Principal = ADMIN) -> dict[str, str]:
    await _guard(partners.retry_delivery(runtime_of(request), delivery_id))
    return {"status": "pending"}
