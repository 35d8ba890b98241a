"""The moderators' room (`/moderatie`): new activities with what to look at twice (another activity at the same
venue at the same time, or the same title in the same municipality that day), held edits of published activities
as a difference between what the agenda shows and what is proposed, and the trusted organisers.

Approving is one button; rejecting asks for a reason on a page of its own (the organiser reads it). Every action is
a POST followed by a redirect back to the queue with a message.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.edit import difference
from komerbij.registration.entrypoints.pages.views import PAGES, flash, known_id, organisation_name
from komerbij.registration.service import activities, moderation
from komerbij.registration.service.activities import as_fields
from komerbij.registration.service.commands import Rejection, TrustRequest
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.http import ProblemError
from komerbij.runtime.service import runtime_of

router = web.page_router()
MODERATOR = web.login_required("moderator")
QUEUE = "/moderatie"
ALREADY = "Dit was al beoordeeld (door een collega, of de organisator annuleerde het); hieronder ziet u wat nu wacht."


@router.get("/moderatie", response_class=HTMLResponse, name="moderation")
async def queue(request: Request, who: Principal = MODERATOR) -> HTMLResponse:
    rt = runtime_of(request)
    items = await moderation.queue(rt)
    held = [(h, difference(as_fields(h.activity), h.edit.fields)) for h in await moderation.held_edits(rt)]
    trusted = await moderation.trusted(rt)
    trusted_keys = {(t["organisation"], t["subject"]) for t in trusted}
    return PAGES.render(request, "moderation/queue.html", items=items, held=held, trusted=trusted,
                        trusted_keys=trusted_keys)


async def _submitted(request: Request, who: Principal, activity_id: str) -> Activity:
    return await activities.view(runtime_of(request), who, known_id(activity_id))


@router.post("/moderatie/activiteiten/{activity_id}/goedkeuren", response_class=HTMLResponse)
async def approve(activity_id: str, request: Request, who: Principal = MODERATOR) -> Response:
    try:
        a = await activities.publish(runtime_of(request), known_id(activity_id))
    except ProblemError as problem:
        if problem.status != 409:
            raise
        flash(request, ALREADY)
        return RedirectResponse(QUEUE, status_code=303)
    flash(request, f"‘{a.title}’ staat nu in de agenda.")
    return RedirectResponse(QUEUE, status_code=303)


@router.get("/moderatie/activiteiten/{activity_id}/afwijzen", response_class=HTMLResponse, name="reject_activity")
async def reject_form(activity_id: str, request: Request, who: Principal = MODERATOR) -> HTMLResponse:
    a = await _submitted(request, who, activity_id)
    return PAGES.render(request, "moderation/reject.html", a=a, form=web.Form(), edit=None,
                        action=f"/moderatie/activiteiten/{a.id}/afwijzen")


@router.post("/moderatie/activiteiten/{activity_id}/afwijzen", response_class=HTMLResponse)
async def reject(activity_id: str, request: Request, who: Principal = MODERATOR) -> Response:
    rt = runtime_of(request)
    a = await _submitted(request, who, activity_id)
    form = await web.Form.read(request)
    try:
        reason = Rejection.model_validate({"reason": form.values.get("reason", "")}).reason
    except ValidationError as exc:
        return PAGES.render(request, "moderation/reject.html", status_code=422, a=a, form=form.fail(exc), edit=None,
                            action=f"/moderatie/activiteiten/{a.id}/afwijzen")
    try:
        await activities.reject(rt, a.id, reason)
    except ProblemError as problem:
        if problem.status != 409:
            raise
        flash(request, ALREADY)
        return RedirectResponse(QUEUE, status_code=303)
    flash(request, f"‘{a.title}’ is afgewezen. De organisator ziet uw reden.")
    return RedirectResponse(QUEUE, status_code=303)


async def _held(request: Request, edit_id: str) -> moderation.HeldItem:
    wanted = known_id(edit_id)
    found = next((h for h in await moderation.held_edits(runtime_of(request)) if h.edit.id == wanted), None)
    if found is None:
        raise web.PageError(404, "Wijziging niet gevonden",
                            "Deze wijziging wacht niet (meer) op beoordeling: een collega kan haar al hebben "
                            "beoordeeld, of de organisator heeft haar vervangen. Kijk in de lijst.")
    return found


@router.post("/moderatie/wijzigingen/{edit_id}/goedkeuren", response_class=HTMLResponse)
async def approve_edit(edit_id: str, request: Request, who: Principal = MODERATOR) -> Response:
    try:
        a = await activities.approve_edit(runtime_of(request), who, known_id(edit_id))
    except ProblemError as problem:
        if problem.status not in (404, 409):
            raise
        flash(request, ALREADY)
        return RedirectResponse(QUEUE, status_code=303)
    flash(request, f"De wijziging van ‘{a.title}’ staat nu in de agenda.")
    return RedirectResponse(QUEUE, status_code=303)


@router.get("/moderatie/wijzigingen/{edit_id}/afwijzen", response_class=HTMLResponse, name="reject_edit")
async def reject_edit_form(edit_id: str, request: Request, who: Principal = MODERATOR) -> HTMLResponse:
    h = await _held(request, edit_id)
    return PAGES.render(request, "moderation/reject.html", a=h.activity, edit=h.edit, form=web.Form(),
                        action=f"/moderatie/wijzigingen/{h.edit.id}/afwijzen")


@router.post("/moderatie/wijzigingen/{edit_id}/afwijzen", response_class=HTMLResponse)
async def reject_edit(edit_id: str, request: Request, who: Principal = MODERATOR) -> Response:
    h = await _held(request, edit_id)
    form = await web.Form.read(request)
    try:
        reason = Rejection.model_validate({"reason": form.values.get("reason", "")}).reason
    except ValidationError as exc:
        return PAGES.render(request, "moderation/reject.html", status_code=422, a=h.activity, edit=h.edit,
                            form=form.fail(exc), action=f"/moderatie/wijzigingen/{h.edit.id}/afwijzen")
    await activities.reject_edit(runtime_of(request), who, h.edit.id, reason)
    flash(request, f"De wijziging van ‘{h.activity.title}’ is afgewezen; de agenda houdt de oude versie.")
    return RedirectResponse(QUEUE, status_code=303)


@router.post("/moderatie/vertrouwd", response_class=HTMLResponse)
async def trust(request: Request, who: Principal = MODERATOR) -> Response:
    """Trust the person who submitted an activity, for the organisation they acted for: what they register or
    change from now on goes into the agenda at once."""
    form = await web.Form.read(request)
    subject = form.values.get("subject", "").strip()
    try:
        body = TrustRequest.model_validate({"organisation": form.values.get("organisation", ""),
                                            "note": form.values.get("note") or None})
    except ValidationError:
        raise web.PageError(422, "Niet gelukt", "Deze organisator kon niet worden toegevoegd. Probeer het opnieuw "
                            "vanuit de lijst.") from None
    if not subject:
        raise web.PageError(422, "Niet gelukt", "Er is geen organisator gekozen.")
    await moderation.set_trusted(runtime_of(request), who, body.organisation, subject, body.note)
    flash(request, f"Deze organisator van {organisation_name(body.organisation)} publiceert voortaan zonder "
          "moderatie.")
    return RedirectResponse(QUEUE + "#vertrouwd", status_code=303)


@router.post("/moderatie/vertrouwd/intrekken", response_class=HTMLResponse)
async def distrust(request: Request, who: Principal = MODERATOR) -> Response:
    form = await web.Form.read(request)
    organisation = form.values.get("organisation") or None
    removed = await moderation.unset_trusted(runtime_of(request), form.values.get("subject", ""), organisation)
    flash(request, "Het vertrouwen is ingetrokken: wat deze organisator aanmeldt of wijzigt, komt weer langs de "
          "moderatie." if removed else "Deze organisator stond al niet (meer) op de lijst.")
    return RedirectResponse(QUEUE + "#vertrouwd", status_code=303)
