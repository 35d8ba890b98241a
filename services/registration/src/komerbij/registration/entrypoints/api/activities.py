"""HTTP routes of activities: submit, view, edit, cancel, moderate, and the single-activity calendar file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from komerbij.registration.adapters import calendar
from komerbij.registration.entrypoints.api.caller import optional_principal
from komerbij.registration.entrypoints.api.representation import activity_json, checked_id, local
from komerbij.registration.service import access, activities, moderation
from komerbij.registration.service.commands import ActivityFields, Rejection
from komerbij.registration.service.outgoing import activity_url
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.service import runtime_of

router = APIRouter(tags=["activities"])
ICS = "text/calendar; charset=utf-8"


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
    base = rt.settings.public_base_url
    body = calendar.render([a], name=a.title, url_of={a.id: activity_url(base, a.id)})
    return Response(body, media_type=ICS,
                    headers={"Content-Disposition": f'attachment; filename="activiteit-{a.id}.ics"'})


@router.get("/v1/activities/{activity_id}", summary="One activity (public once published)")
async def view(
    activity_id: str, request: Request, principal: Principal | None = Depends(optional_principal)
) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.view(rt, principal, checked_id(activity_id))
    return activity_json(a, rt.settings.public_base_url, principal)


@router.patch("/v1/activities/{activity_id}", summary="Change an activity (its organiser)")
async def edit(
    activity_id: str, request: Request, changes: dict[str, Any] = Body(..., examples=[{"capacity": 20}]),
    principal: Principal = require("organiser"),
) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.edit(rt, principal, checked_id(activity_id), changes)
    return activity_json(a, rt.settings.public_base_url, principal)


@router.post("/v1/activities/{activity_id}/cancel", summary="Call an activity off (its organiser)")
async def cancel(activity_id: str, request: Request, principal: Principal = require("organiser")) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.cancel(rt, principal, checked_id(activity_id))
    return activity_json(a, rt.settings.public_base_url, principal)


@router.get("/v1/moderation/queue", tags=["moderation"], summary="Submitted activities awaiting a moderator")
async def queue(request: Request, principal: Principal = require("moderator")) -> dict[str, Any]:
    rt = runtime_of(request)
    items = []
    for item in await moderation.queue(rt):
        body = activity_json(item.activity, rt.settings.public_base_url, principal)
        body["clash"] = bool(item.clashes)
        body["clashes"] = [
            {"id": str(c["id"]), "title": c["title"], "status": c["status"], "starts_at": local(c["starts_at"]),
             "ends_at": local(c["ends_at"])}
            for c in item.clashes
        ]
        items.append(body)
    return {"items": items, "total": len(items)}


@router.post("/v1/activities/{activity_id}/publish", tags=["moderation"], summary="Approve for the agenda")
async def publish(activity_id: str, request: Request, principal: Principal = require("moderator")) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.publish(rt, checked_id(activity_id))
    return activity_json(a, rt.settings.public_base_url, principal)


@router.post("/v1/activities/{activity_id}/reject", tags=["moderation"], summary="Reject, with a reason")
async def reject(
    activity_id: str, body: Rejection, request: Request, principal: Principal = require("moderator")
) -> dict[str, Any]:
    rt = runtime_of(request)
    a = await activities.reject(rt, checked_id(activity_id), body.reason)
    return activity_json(a, rt.settings.public_base_url, principal)
