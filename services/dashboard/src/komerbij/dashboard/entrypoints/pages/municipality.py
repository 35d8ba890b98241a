"""`/gemeente/{code}`: one municipality's week at a glance, for its organisers and the programme team; `/gemeente`
sends each person to the figures that are theirs."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

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
from komerbij.runtime.http import ProblemError
from komerbij.runtime.reference import municipalities
from komerbij.runtime.service import runtime_of

router = web.page_router()
READER = web.login_required("organiser", "moderator", "comms")


def detail_links(who: Principal, code: str) -> dict[str, str | None]:
    """Where each figure's details are, for this person (None: no page of theirs shows them)."""
    team = figures.is_programme_team(who)
    organiser = who.role in ("organiser", "admin")
    return {
        "agenda": f"/agenda?gemeente={code}",
        "submitted": "/moderatie" if who.role in ("moderator", "admin") else "/organisator" if organiser else None,
        "own": "/organisator" if organiser else None,
        "orders": "/bestellingen" if organiser or team else None,
        "media": f"/media?gemeente={code}" if who.role in ("comms", "admin") else None,
    }


@router.get("/gemeente", response_class=HTMLResponse)
async def mine(request: Request, who: Principal = READER) -> Response:
    """The programme team may name any municipality (`?gemeente=`) or go to the overview; an organiser goes to
    the municipality they act for."""
    asked = request.query_params.get("gemeente")
    edition = request.query_params.get(EDITION_FIELD, "")
    keep = f"?{EDITION_FIELD}={edition}" if edition.isdigit() else ""
    if figures.is_programme_team(who):
        if asked and asked in municipalities():
            return RedirectResponse(f"/gemeente/{asked}{keep}", status_code=303)
        return RedirectResponse(f"/gemeenten{keep}", status_code=303)
    if who.municipality:
        return RedirectResponse(f"/gemeente/{who.municipality}{keep}", status_code=303)
    raise web.PageError(403, "Geen gemeente", "Uw account hoort niet bij een gemeente, dus er zijn hier geen "
                        "cijfers voor u. De cijfers per gemeente zijn voor de organisatoren van die gemeente en het "
                        "programmateam.")


@router.get("/gemeente/{code}", response_class=HTMLResponse)
async def municipality_page(request: Request, code: str, who: Principal = READER) -> HTMLResponse:
    rt = runtime_of(request)
    chosen = await chosen_edition(request)
    try:
        place = figures.known_municipality(code)
        if not figures.may_see(who, code):
            raise web.PageError(403, "Geen toegang", "Deze cijfers zijn voor de organisatoren van deze gemeente en "
                                "het programmateam. Log in met een ander account of ga terug naar de startpagina.")
        shown = None if chosen.edition is None else await figures.municipality_figures(rt, who, code,
                                                                                       chosen.edition)
    except ProblemError as problem:
        if problem.status == 404:
            raise web.PageError(404, "Gemeente niet gevonden",
                                f"Er is geen gemeente met de code {code}. Kies een gemeente uit het overzicht.") \
                from None
        raise
    return pages.render(
        request, "municipality.html", status_code=422 if shown is None else 200,
        place=place, figures=shown, chosen=chosen, options=edition_options(chosen), edition_field=EDITION_FIELD,
        links=detail_links(who, code), team=figures.is_programme_team(who), updated=await freshness(rt),
    )
