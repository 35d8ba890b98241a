"""Outlets: the newspapers, broadcasters and sites that write about the week, with their reach."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from komerbij.media.entrypoints.api.models import Comms, OutletIn
from komerbij.media.entrypoints.api.representations import outlet_json
from komerbij.media.service import outlets
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["outlets"])


@router.post("/outlets", status_code=201, summary="Add an outlet")
async def create_outlet(body: OutletIn, request: Request, _: Comms) -> dict[str, Any]:
    outlet_id = await outlets.create_outlet(runtime_of(request), body.model_dump())
    return {"id": str(outlet_id), **body.model_dump(mode="json")}


@router.get("/outlets", summary="All outlets")
async def list_outlets(request: Request, _: Comms) -> dict[str, Any]:
    rows = await outlets.list_outlets(runtime_of(request))
    return {"items": [outlet_json(r) for r in rows], "total": len(rows)}
