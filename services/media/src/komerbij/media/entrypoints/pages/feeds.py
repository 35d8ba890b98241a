"""The feeds (`/media/feeds`): each with its status, last poll, last success and last error, a "poll now" button,
and a form to add one. The same use cases as `/v1/feeds` and `POST /v1/feeds/{id}/poll`; an address the outbound
guard refuses shows as a plain Dutch error at its feed."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.media.entrypoints.api.models import FeedIn
from komerbij.media.entrypoints.pages.entry import outlet_options
from komerbij.media.entrypoints.pages.forms import fail, optional
from komerbij.media.entrypoints.pages.rendering import COMMS, pages
from komerbij.media.service import feeds as feed_service
from komerbij.media.service import polling
from komerbij.media.settings import settings_of
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.service import runtime_of

router = web.page_router()
STATUS_LABELS = {"new": "Nog niet opgehaald", "ok": "Werkt", "failing": "Mislukt"}
OUTCOME_LABELS = {"ok": "gelukt", "not_modified": "gelukt, niets veranderd sinds de vorige keer", "error": "mislukt"}
MAX_INTERVAL_MINUTES = 7 * 24 * 60

# The poller's errors are short technical English (they go to logs too); people get a Dutch sentence, with the
# original kept beside it for whoever looks into it.
_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"refused: (?P<host>.+) is not a public address"),
     "Geweigerd: {host} is geen openbaar internetadres. Een feed mag alleen van een openbare website komen."),
    (re.compile(r"HTTP (?P<code>\d+)"), "De website antwoordde met foutcode {code}."),
    (re.compile(r"timeout after (?P<s>[\d.]+) s"), "Geen antwoord binnen {s} seconden."),
    (re.compile(r"feed larger than (?P<mb>\d+) MB"), "De feed is groter dan {mb} MB."),
    (re.compile(r"malformed feed.*|not an RSS or Atom feed"), "Dit is geen leesbare RSS- of Atom-feed."),
    (re.compile(r".*(entit|DTD|external).*", re.I), "De feed is geweigerd: ze verwijst naar iets buiten zichzelf."),
    (re.compile(r".*could not be resolved"), "Deze hostnaam bestaat niet of is niet te vinden."),
    (re.compile(r"\w*(Connect|Read|Write|Protocol|Network)\w*(Error)?"), "Geen verbinding met de website."),
)


def dutch_feed_error(error: str | None) -> str | None:
    if not error:
        return None
    for pattern, text in _ERRORS:
        match = pattern.fullmatch(error)
        if match:
            return text.format(**match.groupdict())
    return "Ophalen mislukt."


async def _render(request: Request, form: web.Form, status_code: int = 200, polled: dict[str, Any] | None = None,
                  added: bool = False) -> HTMLResponse:
    rt = runtime_of(request)
    rows = await feed_service.list_feeds(rt)
    feeds = [{"row": r, "error": dutch_feed_error(r["last_error"])} for r in rows]
    return pages.render(request, "feeds.html", status_code=status_code, form=form, feeds=feeds, polled=polled,
                        added=added,
                        outlets=await outlet_options(rt), status_labels=STATUS_LABELS, outcome_labels=OUTCOME_LABELS,
                        min_minutes=max(1, -(-settings_of(rt).media_feed_min_interval_seconds // 60)))


def _polled(request: Request) -> dict[str, Any] | None:
    """What the last "poll now" found, carried in the address it redirected to (the feed keeps the rest)."""
    q = request.query_params
    try:
        feed_id = uuid.UUID(q.get("opgehaald", ""))
    except ValueError:
        return None
    counts = {k: int(v) if (v := q.get(k, "0")).isdigit() and len(v) < 7 else 0
              for k in ("nieuw", "bekend", "irrelevant")}
    return {"id": feed_id, **counts}


@router.get("/media/feeds", response_class=HTMLResponse)
async def feed_list(request: Request, who: Principal = COMMS) -> HTMLResponse:
    return await _render(request, web.Form(values={"interval_minutes": "15"}), polled=_polled(request),
                         added="toegevoegd" in request.query_params)


@router.post("/media/feeds/{feed_id}/ophalen")
async def poll_now(feed_id: uuid.UUID, request: Request, who: Principal = COMMS) -> Response:
    rt = runtime_of(request)
    report = await polling.poll_feed(rt, feed_id, rt.clock.now())
    if report is None:
        raise web.PageError(404, "Feed niet gevonden", "Deze feed bestaat niet (meer).")
    query = urlencode({"opgehaald": feed_id, "nieuw": report.recorded, "bekend": report.known,
                       "irrelevant": report.irrelevant})
    return RedirectResponse(f"/media/feeds?{query}#feed-{feed_id}", status_code=303)


@router.post("/media/feeds", response_class=HTMLResponse)
async def add_feed(request: Request, who: Principal = COMMS) -> Response:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    minimum = max(1, -(-settings_of(rt).media_feed_min_interval_seconds // 60))
    minutes_text = optional(form, "interval_minutes") or ""
    if not minutes_text.isdigit() or not minimum <= int(minutes_text) <= MAX_INTERVAL_MINUTES:
        form.errors["interval_minutes"] = (f"Vul een heel aantal minuten in, van {minimum} tot "
                                           f"{MAX_INTERVAL_MINUTES} (een week).")
    try:
        asked = {"outlet_id": optional(form, "outlet_id"), "url": optional(form, "url"),
                 "interval_seconds": int(minutes_text) * 60 if not form.errors else 900}
        body = FeedIn.model_validate({k: v for k, v in asked.items() if v is not None})
    except ValidationError as error:
        fail(form, error, missing={"outlet_id": "Kies de mediatitel van deze feed.",
                                   "url": "Vul het adres van de feed in."})
        return await _render(request, form, status_code=422)
    refused = rt.outbound.registration_problem(body.url)  # the use case's own check, said with the others
    if refused:
        fail(form, field_error("url", refused))
    if form.errors:
        return await _render(request, form, status_code=422)
    try:
        await feed_service.create_feed(rt, body.outlet_id, body.url, body.interval_seconds, rt.clock.now())
    except ProblemError as problem:
        if problem.status == 409:
            form.errors["url"] = "Deze feed staat er al."
        else:
            fail(form, problem)
        return await _render(request, form, status_code=problem.status)
    return RedirectResponse("/media/feeds?toegevoegd=1", status_code=303)
