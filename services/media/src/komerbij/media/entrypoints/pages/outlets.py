"""The outlets (`/media/titels`): every newspaper, broadcaster, site and account with its medium, scope, region and
reach, and where that reach figure comes from; and a form to add one. The same use cases as `/v1/outlets`."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.media.domain.mentions import MEDIA, SCOPES
from komerbij.media.domain.monitoring_export import parse_reach
from komerbij.media.entrypoints.api.models import OutletIn
from komerbij.media.entrypoints.pages.forms import fail, optional, parse_day
from komerbij.media.entrypoints.pages.rendering import (
    COMMS,
    MEDIUM_LABELS,
    SCOPE_LABELS,
    municipality_options,
    pages,
    province_options,
)
from komerbij.media.service import outlets
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError
from komerbij.runtime.service import runtime_of

router = web.page_router()
OPTIONS = {"medium": [(m, MEDIUM_LABELS[m]) for m in MEDIA], "scope": [(s, SCOPE_LABELS[s]) for s in SCOPES]}


async def _render(request: Request, form: web.Form, status_code: int = 200, added: bool = False) -> HTMLResponse:
    rows = await outlets.list_outlets(runtime_of(request))
    return pages.render(request, "outlets.html", status_code=status_code, form=form, outlets=rows,
                        options=OPTIONS, provinces=province_options(), municipalities=municipality_options(),
                        added=added)


@router.get("/media/titels", response_class=HTMLResponse)
async def outlet_list(request: Request, who: Principal = COMMS) -> HTMLResponse:
    return await _render(request, web.Form(), added="toegevoegd" in request.query_params)


@router.post("/media/titels", response_class=HTMLResponse)
async def add_outlet(request: Request, who: Principal = COMMS) -> Response:
    form = await web.Form.read(request)
    asked = {name: optional(form, name) for name in ("name", "medium", "scope", "province", "municipality",
                                                     "reach", "reach_source", "reach_date")}
    if asked["reach"]:
        try:
            asked["reach"] = parse_reach(asked["reach"])  # type: ignore[assignment]
        except ValueError:
            form.errors["reach"] = "Vul het bereik in als heel getal, bijvoorbeeld 250000."
            asked["reach"] = None
    if asked["reach_date"]:
        try:
            asked["reach_date"] = parse_day(asked["reach_date"]).isoformat()
        except ValueError:
            form.errors["reach_date"] = "Vul een geldige datum in, bijvoorbeeld 1-1-2026."
            asked["reach_date"] = None
    try:
        body = OutletIn.model_validate({k: v for k, v in asked.items() if v is not None})
    except ValidationError as error:
        fail(form, error, missing={"name": "Vul de naam in.", "medium": "Kies het soort medium.",
                                   "scope": "Kies landelijk, regionaal of lokaal."})
        return await _render(request, form, status_code=422)
    if form.errors:
        return await _render(request, form, status_code=422)
    try:
        await outlets.create_outlet(runtime_of(request), body.model_dump())
    except ProblemError as problem:
        if problem.status != 409:
            raise
        form.errors["name"] = "Er is al een mediatitel met deze naam."
        return await _render(request, form, status_code=409)
    return RedirectResponse("/media/titels?toegevoegd=1", status_code=303)
