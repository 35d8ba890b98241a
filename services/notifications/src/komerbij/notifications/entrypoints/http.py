"""HTTP: the admin API (`/v1/...`, role admin) and the public unsubscribe page (`/unsubscribe/{token}`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from komerbij.notifications.adapters.mail import render_page
from komerbij.notifications.domain.partners import Conflict, Kind, Mode, NotFound, PartnerRuleError, Sector
from komerbij.notifications.service import partners, privacy
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.service import runtime_of

router = APIRouter()
public = APIRouter()
ADMIN = require("admin")
T = TypeVar("T")


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
                           description="Optional: the partner id used in tokens (`partner` claim) and in "
                                       "registration's owner_partner_id; generated when absent")
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    sector: Sector | None = None
    municipality: str | None = Field(None, pattern=r"^GM\d{4}$", description="CBS code of a municipality partner")


class PartnerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    kind: Kind | None = None
    sector: Sector | None = None
    municipality: str | None = Field(None, pattern=r"^GM\d{4}$")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    confirmed_consent: bool = Field(False, description="Re-add an address that was erased, at the person's request")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    secret: str = Field(description="whsec_ followed by base64 of at least 24 random bytes")

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        """HTTPS only; plain HTTP just to this machine (development and tests)."""
        local = value.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))
        if not (value.startswith("https://") or local):
            raise ValueError("gebruik een https://-adres")
        return value


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(min_length=1)
    municipalities: list[str] = []
    provinces: list[str] = []
    mode: Mode = "immediate"


class Created(BaseModel):
    id: str


async def _guard(call: Awaitable[T]) -> T:
    """Domain errors become problem JSON: 422 naming the field, 409 for clashes, 404 for unknown objects."""
    try:
        return await call
    except PartnerRuleError as exc:
        raise field_error(exc.field, str(exc)) from None
    except Conflict as exc:
        raise ProblemError(409, "Bestaat al", f"{exc.field}: {exc}",
                           errors=[{"field": exc.field, "message": str(exc)}]) from None
    except NotFound:
        raise ProblemError(404, "Niet gevonden", "No such partner, contact or delivery.") from None


@router.post("/v1/partners", status_code=201, response_model=Created, tags=["partners"])
async def create_partner(body: PartnerIn, request: Request, _: Principal = ADMIN) -> Created:
    partner_id = await _guard(partners.create_partner(
        runtime_of(request), partner_id=body.id, name=body.name, kind=body.kind, sector=body.sector,
        municipality=body.municipality,
    ))
    return Created(id=partner_id)


@router.get("/v1/partners", tags=["partners"])
async def list_partners(request: Request, kind: Kind | None = None, _: Principal = ADMIN) -> dict[str, Any]:
    return {"items": await partners.list_partners(runtime_of(request), kind)}


@router.get("/v1/partners/{partner_id}", tags=["partners"])
async def get_partner(partner_id: str, request: Request, _: Principal = ADMIN) -> dict[str, Any]:
    return await _guard(partners.get_partner(runtime_of(request), partner_id))


@router.patch("/v1/partners/{partner_id}", tags=["partners"])
async def patch_partner(partner_id: str, body: PartnerPatch, request: Request,
                        _: Principal = ADMIN) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "kind"):
        if required in changes and changes[required] is None:
            raise field_error(required, "mag niet leeg zijn")
    return await _guard(partners.update_partner(runtime_of(request), partner_id, changes))


@router.post("/v1/partners/{partner_id}/contacts", status_code=201, response_model=Created, tags=["partners"])
async def add_contact(partner_id: str, body: ContactIn, request: Request, _: Principal = ADMIN) -> Created:
    contact_id = await _guard(partners.add_contact(runtime_of(request), partner_id, name=body.name,
                                                   email=body.email, confirmed_consent=body.confirmed_consent))
    return Created(id=contact_id)


@router.delete("/v1/contacts/{contact_id}", status_code=204, tags=["partners"])
async def delete_contact(contact_id: uuid.UUID, request: Request, _: Principal = ADMIN) -> Response:
    if not await privacy.erase_contact(runtime_of(request), contact_id, "erased on request"):
        raise ProblemError(404, "Niet gevonden", "No such contact.")
    return Response(status_code=204)


@router.post("/v1/partners/{partner_id}/webhooks", status_code=201, response_model=Created, tags=["partners"])
async def add_webhook(partner_id: str, body: WebhookIn, request: Request, _: Principal = ADMIN) -> Created:
    try:
        webhook_id = await _guard(partners.add_webhook(runtime_of(request), partner_id, url=body.url,
                                                       secret=body.secret))
    except ValueError as exc:
        raise field_error("secret", str(exc)) from None
    return Created(id=webhook_id)


@router.post("/v1/partners/{partner_id}/subscriptions", status_code=201, response_model=Created,
             tags=["partners"])
async def add_subscription(partner_id: str, body: SubscriptionIn, request: Request,
                           _: Principal = ADMIN) -> Created:
    subscription_id = await _guard(partners.add_subscription(
        runtime_of(request), partner_id, event_types=body.event_types, municipalities=body.municipalities,
        provinces=body.provinces, mode=body.mode,
    ))
    return Created(id=subscription_id)


@router.get("/v1/deliveries", tags=["deliveries"])
async def list_deliveries(
    request: Request,
    partner: str | None = None,
    status: Literal["pending", "sending", "retrying", "delivered", "failed", "skipped"] | None = None,
    channel: Literal["email", "webhook"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = ADMIN,
) -> dict[str, Any]:
    items = await partners.delivery_log(runtime_of(request), partner=partner, status=status, channel=channel,
                                        limit=limit)
    return {"items": items}


@router.post("/v1/deliveries/{delivery_id}/retry", status_code=202, tags=["deliveries"])
async def retry_delivery(delivery_id: uuid.UUID, request: Request, _: Principal = ADMIN) -> dict[str, str]:
    await _guard(partners.retry_delivery(runtime_of(request), delivery_id))
    return {"status": "pending"}


_INVALID = ("Deze link werkt niet", "De afmeldlink is ongeldig of onvolledig. Kopieer de hele link uit de e-mail.")


@public.get("/unsubscribe/{token}", response_class=HTMLResponse, tags=["public"])
async def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    """Shows a confirmation button; a GET never unsubscribes (mail scanners follow links)."""
    if not await privacy.token_is_valid(runtime_of(request), token):
        return HTMLResponse(render_page(*_INVALID, confirm=False), status_code=404)
    page = render_page("Afmelden voor meldingen",
                       "Wilt u geen meldingen van de Week tegen Eenzaamheid meer ontvangen? Klik dan op de knop. "
                       "Uw gegevens worden daarna binnen 30 dagen gewist.", confirm=True)
    return HTMLResponse(page)


@public.post("/unsubscribe/{token}", response_class=HTMLResponse, tags=["public"])
async def unsubscribe(token: str, request: Request) -> HTMLResponse:
    """RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click`; the body needs no checking."""
    rt = runtime_of(request)
    done = await privacy.unsubscribe(rt, token, rt.clock.now())
    if done is None:
        return HTMLResponse(render_page(*_INVALID, confirm=False), status_code=404)
    return HTMLResponse(render_page("U bent afgemeld",
                                    "U ontvangt geen meldingen meer van de Week tegen Eenzaamheid. Uw gegevens "
                                    "worden binnen 30 dagen gewist.", confirm=False))
