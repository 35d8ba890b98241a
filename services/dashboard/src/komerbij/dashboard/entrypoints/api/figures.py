"""Figures as JSON and CSV: one municipality, the country, the editions on offer (the pages use the same use
cases)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from komerbij.dashboard.domain.figures import CSV_HEADER, Overview, csv_rows
from komerbij.dashboard.entrypoints.api.representation import municipality_json, overview_json
from komerbij.dashboard.service import figures
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.csvcells import csv_text
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1", tags=["figures"])
Reader = Annotated[Principal, require("organiser", "moderator", "comms")]
ProgrammeTeam = Annotated[Principal, require("moderator", "comms")]
Edition = Annotated[int | None, Query(ge=figures.EARLIEST_EDITION, le=figures.LATEST_EDITION,
                                      description="Year of the edition; default: the current one")]


async def _edition(request: Request, edition: int | None) -> int:
    return edition if edition is not None else (await figures.editions(runtime_of(request))).current


@router.get("/editions", summary="The current edition and the editions with figures, newest first")
async def editions(request: Request, _: Reader) -> dict[str, Any]:
    found = await figures.editions(runtime_of(request))
    return {"current": found.current, "editions": found.offered}


@router.get("/municipalities/{code}", summary="One municipality's figures for an edition (its organisers and the "
            "programme team)")
async def municipality(request: Request, code: str, who: Reader, edition: Edition = None) -> dict[str, Any]:
    year = await _edition(request, edition)
    return municipality_json(await figures.municipality_figures(runtime_of(request), who, code, year))


@router.get("/municipalities", summary="Participating municipalities, per province and in total (programme team)")
async def national(request: Request, who: ProgrammeTeam, edition: Edition = None) -> dict[str, Any]:
    year = await _edition(request, edition)
    return overview_json(await figures.national_overview(runtime_of(request), who, year))


@router.get("/municipalities.csv", summary="Every municipality's figures as CSV (programme team)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def national_csv(request: Request, who: ProgrammeTeam, edition: Edition = None) -> Response:
    year = await _edition(request, edition)
    return csv_response(await figures.national_overview(runtime_of(request), who, year))


def csv_response(o: Overview) -> Response:
    return Response(csv_text(CSV_HEADER, csv_rows(o)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="gemeenten-{o.edition}.csv"'})
