"""Coverage of a period: totals and breakdowns (reach is an estimate)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request

from komerbij.media.entrypoints.api.models import Comms
from komerbij.media.service import coverage as coverage_service
from komerbij.runtime.http import field_error
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["coverage"])


@router.get("/coverage", summary="Coverage totals and breakdowns for a period (reach is an estimate)")
async def coverage(
    request: Request, _: Comms,
    start: date | None = Query(None, alias="from"), end: date | None = Query(None, alias="to"),
) -> dict[str, Any]:
    if start and end and end < start:
        raise field_error("query.to", "de einddatum ligt voor de begindatum")
    return await coverage_service.coverage(runtime_of(request), start, end)
