"""The nieuwsflits pages. For comms: the editions (`/media/nieuwsflits`), composing one (`/nieuw`, `/{id}/bewerken`),
its page with the preview as readers will see it (the mail itself in a frame, and its plain text) and the send
button, and how far the delivery has come. For everyone: the archive of sent editions (`/archief`, `/archief/{n}`).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.media.adapters import newsletter_body
from komerbij.media.entrypoints.api.newsletter_models import MAX_DATES, MAX_SECTIONS, EditionIn
from komerbij.media.entrypoints.pages.forms import dutch_problem, fail, parse_day
from komerbij.media.entrypoints.pages.rendering import COMMS, moment, pages
from komerbij.media.service import newsletters
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError
from komerbij.runtime.reference import default_week
from komerbij.runtime.service import runtime_of

router = web.page_router()
pages.env.filters.update(nf_day=newsletter_body.day, nf_moment=newsletter_body.moment)
SECTION_SLOTS = 3  # empty slots a form offers beyond what an edition has
DATE_SLOTS = 4
# The mail in the preview frame: its own inline styles (as mail programs need), no scripts, only framed by us.
MAIL_FRAME_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}


def _form_of(row: Any) -> web.Form:
    values: dict[str, str] = {"title": row["title"], "intro": row["intro"],
                              "period_from": row["period_from"].isoformat() if row["period_from"] else "",
                              "period_to": row["period_to"].isoformat() if row["period_to"] else ""}
    for i, s in enumerate(row["sections"]):
        values[f"sections.{i}.heading"], values[f"sections.{i}.text"] = s["heading"], s["text"]
    for i, d in enumerate(row["dates"]):
        values[f"dates.{i}.day"], values[f"dates.{i}.label"] = d["day"], d["label"]
    return web.Form(values=values, lists={"activity_ids": list(row["activity_ids"])})


_MISSING = {"title": "Geef de nieuwsflits een titel."}


def _read(form: web.Form) -> dict[str, Any]:
    """The form as the API's model (raises ValidationError or ProblemError naming the fields). Empty slots are left
    out; a slot half filled in is the model's to refuse."""
    v, errors = form.values, {}

    def text(name: str) -> str:
        return v.get(name, "").strip()

    def day(name: str) -> str | None:
        if not text(name):
            return None
        try:
            return parse_day(text(name)).isoformat()
        except ValueError:
            errors[name] = "Vul een geldige datum in, bijvoorbeeld 1-10-2026."
            return None

    sections, dates = [], []
    for i in range(MAX_SECTIONS):
        heading, body = text(f"sections.{i}.heading"), text(f"sections.{i}.text")
        if heading or body:
            sections.append({"heading": heading, "text": body})
    for i in range(MAX_DATES):
        when, label = day(f"dates.{i}.day"), text(f"dates.{i}.label")
        if when or label or f"dates.{i}.day" in errors:
            dates.append({"day": when or "", "label": label})
    period = {"period_from": day("period_from"), "period_to": day("period_to")}
    try:
        values = EditionIn.model_validate({
            "title": text("title"), "intro": v.get("intro", "").strip(), **period, "sections": sections,
            "activity_ids": form.all("activity_ids"), "dates": dates,
        }).model_dump()
    except ValidationError as error:
        if not errors:
            raise
        problem = dutch_problem(error, _MISSING)
        problem.errors = [e for e in problem.errors or [] if e["field"] not in errors]
    else:
        if not errors:
            return values
        problem = ProblemError(422, "Ongeldige invoer", "", errors=[])
    problem.errors = [*(problem.errors or []), *({"field": k, "message": m} for k, m in errors.items())]
    raise problem


def _fail(form: web.Form, error: ProblemError | ValidationError) -> web.Form:
    """Messages at their inputs (`sections.1.heading` is an input of its own; an activity's goes to its group)."""
    return fail(form, error, missing=_MISSING)


async def _compose_page(request: Request, form: web.Form, row: Any | None, status_code: int = 200) -> HTMLResponse:
    rt = runtime_of(request)
    agenda = await newsletters.agenda(rt, rt.clock.now())
    sections = len([k for k in form.values if k.endswith(".heading") and k.startswith("sections.")])
    dates = len([k for k in form.values if k.endswith(".label") and k.startswith("dates.")])
    return pages.render(
        request, "newsletter_compose.html", status_code=status_code, form=form, edition=row,
        activity_options=[(a["activity_id"], f"{a['title']} – {a['place']}, {_when(a['starts_at'])}")
                          for a in agenda],
        section_slots=min(MAX_SECTIONS, sections + SECTION_SLOTS), date_slots=min(MAX_DATES, dates + DATE_SLOTS),
    )


def _when(value: Any) -> str:
    return moment(value)


# --- the public archive (before /{edition_id}, which would take "archief" for an id) --------------------------------

@router.get("/media/nieuwsflits/archief", response_class=HTMLResponse)
async def archive_page(request: Request) -> HTMLResponse:
    return pages.render(request, "newsletter_archive.html", editions=await newsletters.archive(runtime_of(request)))


@router.get("/media/nieuwsflits/archief/{number}", response_class=HTMLResponse)
async def archived_page(request: Request, number: int) -> HTMLResponse:
    try:
        found = await newsletters.archived(runtime_of(request), number)
    except ProblemError as problem:
        raise web.PageError(404, "Niet gevonden", "Deze nieuwsflits bestaat niet (of is nog niet verstuurd).") \
            from problem
    return pages.render(request, "newsletter_archived.html", n=found.content, edition=found.edition)


# --- comms ------------------------------------------------------------------------------------------------------------

@router.get("/media/nieuwsflits", response_class=HTMLResponse)
async def editions_page(request: Request, who: Principal = COMMS) -> HTMLResponse:
    return pages.render(request, "newsletters.html", editions=await newsletters.editions(runtime_of(request)))


@router.get("/media/nieuwsflits/nieuw", response_class=HTMLResponse)
async def compose_form(request: Request, who: Principal = COMMS) -> HTMLResponse:
    """"In de media" starts as this year's week (its mentions are what a nieuwsflits around it shows)."""
    start, end = default_week(runtime_of(request).clock.now().year)
    return await _compose_page(request, web.Form(values={"period_from": start.isoformat(),
                                                         "period_to": end.isoformat()}), None)


@router.post("/media/nieuwsflits/nieuw", response_class=HTMLResponse)
async def compose(request: Request, who: Principal = COMMS) -> Response:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    try:
        edition_id = await newsletters.create_edition(rt, _read(form), who.subject, rt.clock.now())
    except (ProblemError, ValidationError) as error:
        return await _compose_page(request, _fail(form, error), None, status_code=422)
    return RedirectResponse(f"/media/nieuwsflits/{edition_id}", status_code=303)


async def _edition(request: Request, edition_id: str) -> Any:
    try:
        return await newsletters.edition(runtime_of(request), uuid.UUID(edition_id))
    except (ValueError, ProblemError) as exc:
        raise web.PageError(404, "Niet gevonden", "Deze nieuwsflits bestaat niet.") from exc


@router.get("/media/nieuwsflits/{edition_id}/bewerken", response_class=HTMLResponse)
async def edit_form(request: Request, edition_id: str, who: Principal = COMMS) -> Response:
    row = await _edition(request, edition_id)
    if row["status"] != "draft":
        return RedirectResponse(f"/media/nieuwsflits/{row['id']}", status_code=303)
    return await _compose_page(request, _form_of(row), row)


@router.post("/media/nieuwsflits/{edition_id}/bewerken", response_class=HTMLResponse)
async def edit(request: Request, edition_id: str, who: Principal = COMMS) -> Response:
    row = await _edition(request, edition_id)
    rt = runtime_of(request)
    form = await web.Form.read(request)
    try:
        await newsletters.update_edition(rt, row["id"], _read(form), rt.clock.now())
    except (ProblemError, ValidationError) as error:
        if isinstance(error, ProblemError) and error.status == 409:
            raise web.PageError(409, error.title, "Een verstuurde nieuwsflits blijft zoals hij is.") from error
        return await _compose_page(request, _fail(form, error), row, status_code=422)
    return RedirectResponse(f"/media/nieuwsflits/{row['id']}", status_code=303)


@router.get("/media/nieuwsflits/{edition_id}", response_class=HTMLResponse)
async def edition_page(request: Request, edition_id: str, who: Principal = COMMS) -> HTMLResponse:
    row = await _edition(request, edition_id)
    found = await newsletters.preview(runtime_of(request), row["id"])
    return pages.render(request, "newsletter.html", edition=row, preview=found, problem=None,
                        sent=request.query_params.get("verstuurd") == "1")


@router.get("/media/nieuwsflits/{edition_id}/mail.html", response_class=HTMLResponse)
async def mail_frame(request: Request, edition_id: str, who: Principal = COMMS) -> HTMLResponse:
    """The HTML mail itself, for the preview's frame: exactly the markup readers' mail programs get."""
    row = await _edition(request, edition_id)
    found = await newsletters.preview(runtime_of(request), row["id"])
    return HTMLResponse(found.mail_html, headers=MAIL_FRAME_HEADERS)


@router.post("/media/nieuwsflits/{edition_id}/versturen", response_class=HTMLResponse)
async def send(request: Request, edition_id: str, who: Principal = COMMS) -> Response:
    row = await _edition(request, edition_id)
    rt = runtime_of(request)
    try:
        await newsletters.send(rt, row["id"], who.subject, rt.clock.now())
    except ProblemError as problem:
        found = await newsletters.preview(rt, row["id"])
        message = (problem.errors or [{"message": problem.title}])[0]["message"]
        return pages.render(request, "newsletter.html", status_code=problem.status,
                            edition=await newsletters.edition(rt, row["id"]), preview=found,
                            problem=message, sent=False)
    return RedirectResponse(f"/media/nieuwsflits/{row['id']}?verstuurd=1", status_code=303)
