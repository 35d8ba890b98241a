"""Manual entry (`/media/vermeldingen/nieuw`): a TV or radio item, a print article or anything else no feed brought,
typed in by comms. The same use case and rules as `POST /v1/mentions`: a link or a note, a known link is refused
with the way to the mention that has it."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.media.domain.monitoring_export import parse_reach
from komerbij.media.entrypoints.api.models import MentionIn
from komerbij.media.entrypoints.pages.forms import fail, optional, parse_day, tags_of
from komerbij.media.entrypoints.pages.mentions import SENTIMENT_OPTIONS
from komerbij.media.entrypoints.pages.rendering import AMSTERDAM, COMMS, MEDIUM_LABELS, SCOPE_LABELS, pages
from komerbij.media.service import mentions, outlets
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError
from komerbij.runtime.service import Runtime, runtime_of

router = web.page_router()
# TV, radio and print first: what feeds never bring and people type in most
_MANUAL_FIRST = ("tv", "radio", "print")


async def outlet_options(rt: Runtime) -> list[tuple[str, str]]:
    rows = await outlets.list_outlets(rt)
    rows = sorted(rows, key=lambda r: (r["medium"] not in _MANUAL_FIRST, r["name"].lower()))
    return [(str(r["id"]), f"{r['name']} ({MEDIUM_LABELS[r['medium']].lower()}, {SCOPE_LABELS[r['scope']].lower()})")
            for r in rows]


async def _render(request: Request, form: web.Form, status_code: int = 200, existing: str | None = None
                  ) -> HTMLResponse:
    return pages.render(request, "mention_new.html", status_code=status_code, form=form,
                        outlets=await outlet_options(runtime_of(request)), sentiment_options=SENTIMENT_OPTIONS,
                        existing=existing)


@router.get("/media/vermeldingen/nieuw", response_class=HTMLResponse)
async def entry_form(request: Request, who: Principal = COMMS) -> HTMLResponse:
    return await _render(request, web.Form())


# What to say when a required field is left empty, worded for each one.
MISSING = {"outlet_id": "Kies het medium waarin het verscheen.", "published_at": "Vul de datum in.",
           "title": "Vul de titel of kop in."}


def mention_values(form: web.Form) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as `MentionIn` takes it, and the messages of what only the page asks (a day and a time apart, a
    reach written as 250.000)."""
    errors: dict[str, str] = {}
    published: Any = optional(form, "published_at")
    if published:
        try:
            day = parse_day(published)
        except ValueError:
            errors["published_at"] = "Vul een geldige datum in, bijvoorbeeld 30-9-2026."
            day = None
        at = optional(form, "published_time")
        try:
            clock = time.fromisoformat(at) if at else time()
        except ValueError:
            errors["published_time"] = "Vul een tijd in zoals 20:30, of laat het leeg."
            clock = time()
        published = datetime.combine(day, clock, AMSTERDAM) if day else None
    reach: Any = optional(form, "reach")
    if reach:
        try:
            reach = parse_reach(reach)
        except ValueError:
            errors["reach"] = "Vul het bereik in als heel getal, bijvoorbeeld 250000."
            reach = None
    values = {"outlet_id": optional(form, "outlet_id"), "published_at": published, "title": optional(form, "title"),
              "programme": optional(form, "programme"), "url": optional(form, "url"), "note": optional(form, "note"),
              "summary": optional(form, "summary"), "reach": reach, "sentiment": optional(form, "sentiment"),
              "tags": tags_of(form.values.get("tags", ""))}
    return {k: v for k, v in values.items() if v is not None}, errors


@router.post("/media/vermeldingen/nieuw", response_class=HTMLResponse)
async def record(request: Request, who: Principal = COMMS) -> Response:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    values, errors = mention_values(form)
    form.errors.update(errors)
    if not values.get("url") and not values.get("note"):  # the API's rule, checked with the others
        form.errors["url"] = "Geef een link, of beschrijf in de notitie waar het te zien of te horen was."
    try:
        body = MentionIn.model_validate(values)
    except ValidationError as error:
        fail(form, error, missing=MISSING)
        return await _render(request, form, status_code=422)
    if form.errors:
        return await _render(request, form, status_code=422)
    try:
        mention_id = await mentions.record_manual(rt, body.model_dump(), rt.clock.now())
    except ProblemError as problem:
        if problem.status == 409:  # this link is known: say so at the link, and lead to the mention that has it
            form.errors["url"] = "Deze link is al vastgelegd."
            return await _render(request, form, status_code=409, existing=problem.extra.get("id"))
        return await _render(request, fail(form, problem), status_code=422)
    return RedirectResponse(f"/media/vermeldingen/{mention_id}?nieuw=1", status_code=303)
