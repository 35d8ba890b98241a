"""The participant's own pages, under `/aanmelding`: the result of signing up (`/aanmelding/{id}`) and the cancel page
behind the link in the mail (`/aanmelding/{id}/annuleren?token=...`).

Participants have no account. The cancel link's token is their key: the result page finds it in this browser's
session (put there when the sign-up was made, never in the address, so it stays out of history and logs), and the
cancel page gets it from the link. Both pages hold that key, so they are neither cached nor sent as a referrer.
The mails sent before these pages existed link to `/v1/signups/{id}/cancel`; that address shows the same page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.signup import Signup
from komerbij.registration.entrypoints.pages.views import PAGES, known_id
from komerbij.registration.service import signups
from komerbij.registration.service.signups import Placed
from komerbij.runtime import web
from komerbij.runtime.http import ProblemError
from komerbij.runtime.ratelimit import PUBLIC_WRITE
from komerbij.runtime.service import runtime_of

router = web.page_router()
SESSION_KEY = "aanmeldingen"  # {signup id: [cancel token, waitlist position]} of this browser's last sign-ups
KEPT = 5
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_HEADINGS = {"confirm": "Aanmelding annuleren", "done": "Aanmelding geannuleerd",
             "already": "Al geannuleerd", "invalid": "Link niet geldig"}


def remember(request: Request, placed: Placed) -> None:
    """Keep the new sign-up's key in the session, for its result page (the few most recent only: a cookie is small)."""
    kept = dict(request.session.get(SESSION_KEY) or {})
    kept.pop(placed.signup.id, None)
    kept[placed.signup.id] = [placed.token, placed.waitlist_position]
    request.session[SESSION_KEY] = dict(list(kept.items())[-KEPT:])


def cancel_href(signup_id: str, token: str) -> str:
    return f"/aanmelding/{signup_id}/annuleren?token={quote(token, safe='')}"


@router.get("/aanmelding/{signup_id}", response_class=HTMLResponse, name="signup_result")
async def result(signup_id: str, request: Request) -> HTMLResponse:
    """Confirmed or on the waitlist, what happens next, the calendar file and the way to cancel."""
    kept = (request.session.get(SESSION_KEY) or {}).get(known_id(signup_id))
    if not kept:
        raise web.PageError(404, "Deze bevestiging is hier niet te zien",
                            "Deze pagina toont een aanmelding alleen in de browser waarmee u zich aanmeldde. Heeft u "
                            "een e-mailadres opgegeven? Dan staat alles ook in de bevestigingsmail.")
    token, position = kept
    try:
        s, a = await signups.lookup(runtime_of(request), signup_id, token)
    except ProblemError:
        raise web.PageError(404, "Aanmelding niet gevonden", "Deze aanmelding bestaat niet meer.") from None
    return PAGES.render(request, "signup_result.html", headers=PRIVATE, s=s, a=a, position=position,
                        cancel=cancel_href(s.id, token))


def cancel_page(request: Request, state: str, signup: Signup | None = None, activity: Activity | None = None,
                token: str = "", status_code: int = 200) -> HTMLResponse:
    """The cancel page in each of its states: the question ("confirm"), "done", "already" cancelled, "invalid" link.
    Its form posts to the page's own address, CSRF-checked."""
    action = cancel_href(signup.id, token) if signup is not None and token else ""
    return PAGES.render(request, "cancel.html", status_code=status_code, headers=PRIVATE, state=state,
                        heading=_HEADINGS[state], signup=signup, a=activity, action=action)


async def show_cancel(request: Request, signup_id: str, token: str) -> HTMLResponse:
    try:
        s, a = await signups.lookup(runtime_of(request), signup_id, token)
    except ProblemError:
        return cancel_page(request, "invalid", status_code=404)
    return cancel_page(request, "already" if s.status == "cancelled" else "confirm", s, a, token)


@router.get("/aanmelding/{signup_id}/annuleren", response_class=HTMLResponse, name="cancel_signup")
async def cancel_form(signup_id: str, request: Request) -> HTMLResponse:
    """A GET never cancels (mail scanners follow links): it asks, and the button posts."""
    return await show_cancel(request, known_id(signup_id), request.query_params.get("token", ""))


@router.post("/aanmelding/{signup_id}/annuleren", response_class=HTMLResponse, dependencies=[PUBLIC_WRITE])
async def cancel(signup_id: str, request: Request) -> HTMLResponse:
    rt = runtime_of(request)
    token = request.query_params.get("token") or str((await request.form()).get("token") or "")
    try:
        before, a = await signups.lookup(rt, known_id(signup_id), token)
        if before.status == "cancelled":  # the button pressed twice, or a second tab
            return cancel_page(request, "already", before, a)
        s, _ = await signups.cancel(rt, before.id, token)
    except ProblemError:
        return cancel_page(request, "invalid", status_code=404)
    return cancel_page(request, "done", s, a)
