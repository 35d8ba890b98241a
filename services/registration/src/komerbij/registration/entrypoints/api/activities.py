"""HTTP routes of activities: submit, view, edit, cancel, moderate (new activities and held edits), the organisation's
own list, and the single-activity calendar file."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from komerbij.registration.domain.activity import Activity
from komerbij.registration.entrypoints.api.caller import optional_principal
from komerbij.registration.entrypoints.api.representation import (
    activity_json,
    checked_id,
    edit_json,
    local,
    manages,
)
from komerbij.registration.service import access, activities, agenda, moderation
from komerbij.registration.service.commands import ActivityFields, Cancellation, Rejection
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.service import Runtime, runtime_of

router = APIRouter(tags=["activities"])
ICS = "text/calendar; charset=utf-8"


async def _json(rt: Runtime, a: Activity, principal: Principal | None) -> dict[str, Any]:
    """One activity as this caller may see it; those who manage it also get its latest held edit."""
    held = (await activities.latest_edits(rt, [a.id])).get(a.id) if manages(principal, a) else None
    return activity_json(a, rt.settings.public_base_url, principal, held)


@router.post("/v1/activities", status_code=201, summary="Register an activity (organiser)")
async def submit(
    body: ActivityFields, request: Request, principal: Principal = require("organiser")
) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.submit(rt, principal, body)
    return activity_json(a, rt.settings.public_base_url, principal)


# Registered before `/v1/activities/{activity_id}`, which would otherwise take "<id>.ics" as the id.
@router.get("/v1/activities/{activity_id}.ics", summary="One activity as an iCalendar file",
            response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
async def activity_ics(
    activity_id: str, request: Request, principal: Principal | None = Depends(optional_principal)
) -> Response:
    rt = runtime_of(request)
    a = await activities.view(rt, principal, checked_id(activity_id))
    if not a.in_public_calendar:
        raise access.not_found()
    body = agenda.activity_calendar(rt, a)
    return Response(body, media_type=ICS,
                    headers={"Content-Disposition": f'attachment; filename="activiteit-{a.id}.ics"'})


@router.get("/v1/activities/{activity_id}", summary="One activity (public once published)")
async def view(
    activity_id: str, request: Request, principal: Principal | None = Depends(optional_principal)
) -> dict[str, Any]:
    rt = runtime_of(request)
    return await _json(rt, await activities.view(rt, principal, checked_id(activity_id)), principal)


@router.patch("/v1/activities/{activity_id}", summary="Change an activity (its organisation)")
async def edit(
    activity_id: str, request: Request, changes: dict[str, Any] = Body(..., examples=[{"capacity": 20}]),
    principal: Principal = require("organiser"),
) -> dict[str, Any]:
    """On a published activity, a change by an organiser who is not trusted to the title, description, times,
    venue, online URL, phone or contact waits for a moderator (`held_edit`); the response, like the agenda, shows
    the approved version meanwhile. Other fields change at once."""
    rt = runtime_of(request)
    return await _json(rt, await activities.edit(rt, principal, checked_id(activity_id), changes), principal)


@router.post("/v1/activities/{activity_id}/cancel", summary="Call an activity off (its organisation)")
async def cancel(
    activity_id: str, request: Request, body: Cancellation | None = Body(None), principal: Principal = require(
        "organiser"),
) -> dict[str, Any]:
    """An optional `message` reaches every participant in the mail that tells them."""
    rt = runtime_of(request)
    message = body.message if body else None
    return await _json(rt, await activities.cancel(rt, principal, checked_id(activity_id), message), principal)


@router.get("/v1/organisation/activities", summary="The activities of the caller's organisation (organiser)")
async def organisation_activities(
    request: Request,
    status: Literal["submitted", "published", "rejected", "cancelled"] | None = Query(None),
    organisation: str | None = Query(None, description="Admins: GM code or partner:<id> (default: all)"),
    page: int = Query(1, ge=1, le=10_000),
    page_size: int = Query(50, ge=1, le=200),
    principal: Principal = require("organiser"),
) -> dict[str, Any]:
    """Every organiser of an organisation sees all its activities, with seats taken, the waitlist and held edits."""
    rt = runtime_of(request)
    found, total = await activities.of_organisation(rt, principal, organisation, status, page, page_size)
    held = await activities.latest_edits(rt, [a.id for a, _ in found])
    base = rt.settings.public_base_url
    items = [{**activity_json(a, base, principal, held.get(a.id)), "waitlist_count": waiting}
             for a, waiting in found]
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@router.get("/v1/moderation/queue", tags=["moderation"],
            summary="New activities and held edits awaiting a moderator")
async def queue(request: Request, principal: Principal = require("moderator")) -> dict[str, Any]:
    """`items`: submitted activities (with venue clashes, and `similar`: the same title in the same municipality on
    the same day); `edits`: held edits of published activities, each with
    the approved version and, per field, the approved and the proposed value."""
    rt = runtime_of(request)
    base = rt.settings.public_base_url
    items = []
    for item in await moderation.queue(rt):
        body = activity_json(item.activity, base, principal)
        body["clash"] = bool(item.clashes)
        body["clashes"] = [
            {"id": str(c["id"]), "title": c["title"], "status": c["status"], "starts_at": local(c["starts_at"]),
             "ends_at": local(c["ends_at"])}
            for c in item.clashes
        ]
        body["similar"] = [
            {"id": str(c["id"]), "title": c["title"], "status": c["status"], "starts_at": local(c["starts_at"]),
             "ends_at": local(c["ends_at"])}
            for c in item.similar
        ]
        items.append(body)
    held = [{**edit_json(h.activity, h.edit), "activity": activity_json(h.activity, base, principal)}
            for h in await moderation.held_edits(rt)]
    return {"items": items, "total": len(items), "edits": held}


@router.post("/v1/activities/{activity_id}/publish", tags=["moderation"], summary="Approve for the agenda")
async def publish(activity_id: str, request: Request, principal: Principal = require("moderator")) -> dict[str, Any]:
    rt = runtime_of(request)
    return await _json(rt, await activities.publish(rt, checked_id(activity_id)), principal)


@router.post("/v1/activities/{activity_id}/reject", tags=["moderation"], summary="Reject, with a reason")
async def reject(
    activity_id: str, body: Rejection, request: Request, principal: Principal = require("moderator")
) -> dict[str, Any]:
    rt = runtime_of(request)
    return await _json(rt, await activities.reject(rt, checked_id(activity_id), body.reason), principal)


@router.post("/v1/moderation/edits/{edit_id}/approve", tags=["moderation"],
             summary="Approve a held edit: it becomes the public version")
async def approve_edit(edit_id: str, request: Request, principal: Principal = require("moderator")) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.approve_edit(rt, principal, checked_id(edit_id, "held edit"))
    return await _json(rt, a, principal)


@router.post("/v1/moderation/edits/{edit_id}/reject", tags=["moderation"],
             summary="Reject a held edit, with a reason: the approved version stays")
async def reject_edit(
    edit_id: str, body: Rejection, request: Request, principal: Principal = require("moderator")
) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.reject_edit(rt, principal, checked_id(edit_id, "held edit"), body.reason)
    return await _json(rt, a, principal)
