"""The public unsubscribe page behind the link in every mail (`/unsubscribe/{token}`), RFC 8058 one-click too."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from komerbij.notifications.adapters.mail import render_page
from komerbij.notifications.service import privacy
from komerbij.runtime.ratelimit import PUBLIC_WRITE
from komerbij.runtime.service import runtime_of

router = APIRouter()


_INVALID = ("Deze link werkt niet", "De afmeldlink is ongeldig of onvolledig. Kopieer de hele link uit de e-mail.")


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, tags=["public"])
async def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    """Shows a confirmation button; a GET never unsubscribes (mail scanners follow links)."""
    if not await privacy.token_is_valid(runtime_of(request), token):
        return HTMLResponse(render_page(*_INVALID, confirm=False), status_code=404)
    page = render_page("Afmelden voor meldingen",
                       "Wilt u geen meldingen van de Week tegen Eenzaamheid meer ontvangen? Klik dan op de knop. "
                       "Uw gegevens worden daarna binnen 30 dagen gewist.", confirm=True)
    return HTMLResponse(page)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, tags=["public"], dependencies=[PUBLIC_WRITE])
async def unsubscribe(token: str, request: Request) -> HTMLResponse:
    """RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click`; the body needs no checking."""
    rt = runtime_of(request)
    done = await privacy.unsubscribe(rt, token, rt.clock.now())
    if done is None:
        return HTMLResponse(render_page(*_INVALID, confirm=False), status_code=404)
    return HTMLResponse(render_page("U bent afgemeld",
                                    "U ontvangt geen meldingen meer van de Week tegen Eenzaamheid. Uw gegevens "
                                    "worden binnen 30 dagen gewist.", confirm=False))
