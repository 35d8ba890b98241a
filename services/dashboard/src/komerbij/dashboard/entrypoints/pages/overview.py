"""`/gemeenten`: the national overview for the programme team (participating municipalities out of all, per
province, with totals), and `/gemeenten/export` the same per municipality as CSV."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from komerbij.dashboard.entrypoints.api.figures import csv_response
from komerbij.dashboard.entrypoints.pages.common import (
    EDITION_FIELD,
    chosen_edition,
    edition_options,
    freshness,
    pages,
)
from komerbij.dashboard.service import figures
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.reference import municipalities
from komerbij.runtime.service import runtime_of

router = web.page_router()
PROGRAMME_TEAM = web.login_required("moderator", "comms")


@router.get("/gemeenten", response_class=HTMLResponse)
async def overview_page(request: Request, who: Principal = PROGRAMME_TEAM) -> HTMLResponse:
    rt = runtime_of(request)
    chosen = await chosen_edition(request)
    shown = None if chosen.edition is None else await figures.national_overview(rt, who, chosen.edition)
    places = sorted(municipalities().values(), key=lambda m: (m.name, m.code))
    return pages.render(
        request, "overview.html", status_code=422 if shown is None else 200,
        overview=shown, chosen=chosen, options=edition_options(chosen), edition_field=EDITION_FIELD,
        places=[(m.code, m.name) for m in places], updated=await freshness(rt),
    )


@router.get("/gemeenten/export")
async def overview_csv(request: Request, who: Principal = PROGRAMME_TEAM) -> Response:
    chosen = await chosen_edition(request)
    if chosen.edition is None:
        raise web.PageError(422, "Onbekende editie", chosen.form.errors.get(EDITION_FIELD, "Kies een editie."))
    return csv_response(await figures.national_overview(runtime_of(request), who, chosen.edition))
