"""The comms team's mentions: the list with its filters (`/media`), a CSV of what the filters found, and one
mention's page (`/media/vermeldingen/{id}`) with its syndicated copies and places, where comms judge it (sentiment,
tags), pick it for the newsletter (featured) and correct the municipalities it is linked to.

Partners' mails about a mention link to its page, so that path stays as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.media.domain.mentions import MEDIA, SCOPES
from komerbij.media.entrypoints.api.models import MentionPatch
from komerbij.media.entrypoints.api.representations import mentions_csv
from komerbij.media.entrypoints.pages.forms import fail, parse_day, tags_of
from komerbij.media.entrypoints.pages.rendering import (
    COMMS,
    MEDIUM_LABELS,
    SCOPE_LABELS,
    SENTIMENT_LABELS,
    municipality_options,
    pages,
    province_options,
)
from komerbij.media.service import coverage as coverage_service
from komerbij.media.service import mentions
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError
from komerbij.runtime.reference import fold, municipality, provinces
from komerbij.runtime.service import runtime_of

router = web.page_router()
PAGE_SIZE = 25
FILTERS = ("from", "to", "medium", "scope", "province", "municipality", "q", "featured")
FEATURED_CHOICES = {"ja": True, "nee": False}


@dataclass(frozen=True)
class Search:
    """What the filter form asked, as the use case takes it, and as a query string for links that keep it."""

    filters: dict[str, Any]
    query: dict[str, str]

    def link(self, **extra: Any) -> str:
        return urlencode({**self.query, **{k: v for k, v in extra.items() if v}})


def read_search(request: Request) -> tuple[web.Form, Search | None]:
    """The filters of the list, named as the API names them; None with a message at each field that is wrong."""
    asked = {k: request.query_params.get(k, "").strip() for k in FILTERS}
    form = web.Form(values={k: v for k, v in asked.items() if v})
    days: dict[str, date | None] = {"from": None, "to": None}
    for name in days:
        if asked[name]:
            try:
                days[name] = parse_day(asked[name])
            except ValueError:
                form.errors[name] = "Vul een geldige datum in, bijvoorbeeld 30-9-2026."
    checks = (("medium", MEDIA, "Kies een soort medium uit de lijst."),
              ("scope", SCOPES, "Kies landelijk, regionaal of lokaal."),
              ("province", provinces(), "Kies een provincie uit de lijst."),
              ("featured", tuple(FEATURED_CHOICES), "Kies ja of nee."))
    for name, allowed, message in checks:
        if asked[name] and asked[name] not in allowed:
            form.errors[name] = message
    if asked["municipality"] and municipality(asked["municipality"]) is None:
        form.errors["municipality"] = "Kies een gemeente uit de lijst."
    if len(asked["q"]) > 200:
        form.errors["q"] = "Gebruik hoogstens 200 tekens."
    start, end = days["from"], days["to"]
    if start and end and end < start:
        form.errors["to"] = "De einddatum ligt voor de begindatum."
    if form.errors:
        return form, None
    try:
        lower, upper = coverage_service.period_bounds(start, end)
    except ProblemError as problem:
        return fail(form, problem), None
    filters = {"start": lower, "end": upper, "medium": asked["medium"] or None, "scope": asked["scope"] or None,
               "province": asked["province"] or None, "municipality": asked["municipality"] or None,
               "q": fold(asked["q"]) if asked["q"] else None, "featured": FEATURED_CHOICES.get(asked["featured"])}
    return form, Search(filters, {k: v for k, v in asked.items() if v})


def _page_number(request: Request) -> int:
    raw = request.query_params.get("pagina", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


FILTER_OPTIONS = {
    "medium": [(m, MEDIUM_LABELS[m]) for m in MEDIA],
    "scope": [(s, SCOPE_LABELS[s]) for s in SCOPES],
    "featured": [("ja", "Alleen uitgelicht (nieuwsbrief)"), ("nee", "Alleen niet uitgelicht")],
}


@router.get("/media", response_class=HTMLResponse)
async def mention_list(request: Request, who: Principal = COMMS) -> HTMLResponse:
    form, search = read_search(request)
    context: dict[str, Any] = {"form": form, "options": FILTER_OPTIONS, "provinces": province_options(),
                               "municipalities": municipality_options(), "search": search}
    if search is None:
        return pages.render(request, "mentions.html", status_code=422, rows=[], copies={}, total=0, page=1,
                            pages_total=1, **context)
    number = _page_number(request)
    rows, copies, total = await mentions.find_mentions(runtime_of(request), search.filters, limit=PAGE_SIZE,
                                                       offset=(number - 1) * PAGE_SIZE)
    pages_total = max(1, -(-total // PAGE_SIZE))
    return pages.render(request, "mentions.html", rows=rows, copies=copies, total=total, page=number,
                        pages_total=pages_total, first=(number - 1) * PAGE_SIZE + 1, **context)


@router.get("/media/vermeldingen.csv")
async def mention_list_csv(request: Request, who: Principal = COMMS) -> Response:
    form, search = read_search(request)
    if search is None:
        raise web.PageError(422, "Filter klopt niet", " ".join(form.errors.values()))
    rows, copies, _total = await mentions.find_mentions(runtime_of(request), {**search.filters, "copies": True},
                                                        limit=None)
    return Response(mentions_csv(rows, {k: len(v) for k, v in copies.items()}), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="vermeldingen.csv"',
                             "Cache-Control": "private, no-store"})


# --- one mention -----------------------------------------------------------------------------------------------

SENTIMENT_OPTIONS = [("", "Nog niet beoordeeld"), *SENTIMENT_LABELS.items()]
_NOTICES = {"opgeslagen": "De wijzigingen zijn opgeslagen.", "nieuw": "De vermelding is vastgelegd."}


async def _mention_or_404(request: Request, mention_id: uuid.UUID) -> tuple[Any, list[Any], Any]:
    rt = runtime_of(request)
    try:
        row, copies = await mentions.get_mention(rt, mention_id)
    except ProblemError as problem:
        if problem.status == 404:
            raise web.PageError(404, "Vermelding niet gevonden",
                                "Deze vermelding bestaat niet (meer). Misschien is ze verwijderd.") from None
        raise
    original = None
    if row["original_id"] is not None:
        original, _ = await mentions.get_mention(rt, row["original_id"])
    return row, copies, original


def edit_form(row: Any) -> web.Form:
    return web.Form(
        values={"sentiment": row["sentiment"] or "", "tags": ", ".join(row["tags"]),
                "featured": "ja" if row["featured"] else ""},
        lists={"municipalities": list(row["municipalities"]), "featured": ["ja"] if row["featured"] else []},
    )


def _render_mention(request: Request, row: Any, copies: list[Any], original: Any, form: web.Form,
                    status_code: int = 200, notice: str | None = None) -> HTMLResponse:
    return pages.render(request, "mention.html", status_code=status_code, mention=row, copies=copies,
                        original=original, form=form, sentiment_options=SENTIMENT_OPTIONS,
                        municipalities=municipality_options(), notice=notice)


@router.get("/media/vermeldingen/{mention_id}", response_class=HTMLResponse)
async def mention_page(mention_id: uuid.UUID, request: Request, who: Principal = COMMS) -> HTMLResponse:
    row, copies, original = await _mention_or_404(request, mention_id)
    notice = next((text for key, text in _NOTICES.items() if key in request.query_params), None)
    return _render_mention(request, row, copies, original, edit_form(row), notice=notice)


def changes_from(form: web.Form) -> dict[str, Any]:
    """What the form says the mention is now; all four are sent, the use case writes only what changed."""
    codes = [c for c in form.all("municipalities") if c]
    added = form.values.get("municipality_add", "").strip()
    if added and added not in codes:
        codes.append(added)
    return {"sentiment": form.values.get("sentiment") or None, "tags": tags_of(form.values.get("tags", "")),
            "featured": form.values.get("featured") == "ja", "municipalities": codes}


@router.post("/media/vermeldingen/{mention_id}", response_class=HTMLResponse)
async def update_mention(mention_id: uuid.UUID, request: Request, who: Principal = COMMS) -> Response:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    try:
        patch = MentionPatch.model_validate(changes_from(form))
        await mentions.update_mention(rt, mention_id, patch.model_dump(), rt.clock.now())
    except (ValidationError, ProblemError) as error:
        if isinstance(error, ProblemError) and error.status == 404:
            raise web.PageError(404, "Vermelding niet gevonden", "Deze vermelding bestaat niet (meer).") from None
        row, copies, original = await _mention_or_404(request, mention_id)
        return _render_mention(request, row, copies, original, fail(form, error), status_code=422)
    return RedirectResponse(f"/media/vermeldingen/{mention_id}?opgeslagen=1", status_code=303)
