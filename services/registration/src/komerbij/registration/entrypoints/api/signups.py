"""HTTP routes of sign-ups: sign up without an account, cancel through the secret link, participant lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.responses import HTMLResponse

from komerbij.registration.adapters import participant_list
from komerbij.registration.entrypoints.api.representation import checked_id, participant_json
from komerbij.registration.entrypoints.pages.signup import cancel_page, show_cancel
from komerbij.registration.service import signups
from komerbij.registration.service.commands import SignupRequest
from komerbij.registration.service.outgoing import cancel_url
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.http import ProblemError
from komerbij.runtime.ratelimit import PUBLIC_WRITE
from komerbij.runtime.service import runtime_of

router = APIRouter(tags=["signups"])


@router.post("/v1/activities/{activity_id}/signups", status_code=201, summary="Sign up (no account needed)",
             dependencies=[PUBLIC_WRITE])
async def sign_up(activity_id: str, body: SignupRequest, request: Request) -> dict[str, Any]:
    rt = runtime_of(request)
    placed = await signups.sign_up(rt, checked_id(activity_id), body)
    s = placed.signup
    return {"id": s.id, "status": s.status, "cancel_token": placed.token, "party_size": s.party_size,
            "waitlist_position": placed.waitlist_position,
            "cancel_url": cancel_url(rt.settings.public_base_url, s.id, placed.token)}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get("/v1/signups/{signup_id}/cancel", response_class=HTMLResponse, summary="Cancel page (link from mail)")
async def cancel_form(signup_id: str, request: Request, token: str = Query(min_length=1)) -> HTMLResponse:
    """The link of mails sent before the pages: the same page as `/aanmelding/{id}/annuleren?token=` (a GET must not
    cancel, since mail scanners follow links: it asks, and its button posts)."""
    return await show_cancel(request, checked_id(signup_id, "sign-up"), token)


@router.post("/v1/signups/{signup_id}/cancel", summary="Cancel a sign-up with its secret token", response_model=None,
             dependencies=[PUBLIC_WRITE])
async def cancel(signup_id: str, request: Request, token: str = Query(min_length=1)) -> dict[str, Any] | Response:
    rt = runtime_of(request)
    try:
        s, promoted = await signups.cancel(rt, checked_id(signup_id, "sign-up"), token)
    except ProblemError:
        if _wants_html(request):
            return cancel_page(request, "invalid", status_code=404)
        raise
    if _wants_html(request):
        return cancel_page(request, "done", s)
    return {"id": s.id, "status": s.status, "promoted": len(promoted)}


@router.get("/v1/activities/{activity_id}/signups", summary="Participant list (organiser of the activity)")
async def participants(
    activity_id: str, request: Request, principal: Principal = require("organiser")
) -> dict[str, Any]:
    rt = runtime_of(request)
    a, people = await signups.participants(rt, principal, checked_id(activity_id))
    items = [participant_json(s) for s in people]
    active = [s for s in people if s.status == "confirmed"]
    return {"items": items, "total": len(items), "capacity": a.capacity,
            "seats_taken": sum(s.party_size for s in active)}


@router.get("/v1/activities/{activity_id}/signups.csv", summary="Participant list as CSV (organiser)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def participants_csv(activity_id: str, request: Request, principal: Principal = require("organiser")) -> Response:
    rt = runtime_of(request)
    a, people = await signups.participants(rt, principal, checked_id(activity_id))
    return Response(participant_list.participants_csv(people), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{participant_list.filename(a.id)}"',
                             "Cache-Control": "no-store"})
