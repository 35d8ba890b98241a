"""Admin routes: editions of the week, and the organisers moderators trust to publish at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from komerbij.registration.domain.edition import Edition
from komerbij.registration.service import editions, moderation
from komerbij.registration.service.commands import EditionRequest, TrustRequest
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.http import ProblemError
from komerbij.runtime.service import runtime_of

router = APIRouter(tags=["admin"])


def _edition_json(e: Edition) -> dict[str, Any]:
    return {"year": e.year, "starts_on": e.starts_on.isoformat(), "ends_on": e.ends_on.isoformat(),
            "label": e.dutch_dates}


@router.get("/v1/editions", summary="Editions of the week (admin)")
async def list_editions(request: Request, principal: Principal = require("admin")) -> dict[str, Any]:
    return {"items": [_edition_json(e) for e in await editions.list_editions(runtime_of(request))]}


@router.post("/v1/editions", status_code=201, summary="Create or change an edition (admin)")
async def set_edition(
    body: EditionRequest, request: Request, response: Response, principal: Principal = require("admin")
) -> dict[str, Any]:
    edition, created = await editions.set_edition(runtime_of(request), body)
    if not created:
        response.status_code = 200
    return _edition_json(edition)


@router.get("/v1/trusted-organisers", tags=["moderation"], summary="Organisers who publish without moderation")
async def list_trusted(request: Request, principal: Principal = require("moderator")) -> dict[str, Any]:
    """`organisation` null: an entry from before trust was per organisation that could not be placed; it has no
    effect until it is set again with an organisation."""
    rows = await moderation.trusted(runtime_of(request))
    return {"items": [{"subject": r["subject"], "organisation": r["organisation"], "note": r["note"],
                       "added_by": r["added_by"], "added_at": r["added_at"].isoformat()} for r in rows]}


@router.put("/v1/trusted-organisers/{subject}", tags=["moderation"],
            summary="Trust an organiser (token subject) acting for one organisation")
async def trust(
    subject: str, body: TrustRequest, request: Request, principal: Principal = require("moderator")
) -> dict[str, Any]:
    """Trust is given to a person for one organisation (a GM code or `partner:<id>`): the same subject acting for
    another organisation is not trusted there."""
    await moderation.set_trusted(runtime_of(request), principal, body.organisation, subject, body.note)
    return {"subject": subject, "organisation": body.organisation, "trusted": True}


@router.delete("/v1/trusted-organisers/{subject}", tags=["moderation"], status_code=204,
               summary="Stop trusting an organiser (for one organisation, or everywhere)")
async def distrust(
    subject: str, request: Request, organisation: str | None = Query(None, description="Default: every one"),
    principal: Principal = require("moderator"),
) -> Response:
    if not await moderation.unset_trusted(runtime_of(request), subject, organisation or None):
        raise ProblemError(404, "Niet gevonden", "This organiser is not on the trusted list.")
    return Response(status_code=204)
