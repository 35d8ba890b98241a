"""The partner register (role admin): partners, their contacts, webhooks and subscriptions."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from komerbij.notifications.domain.partners import Kind, Mode, Sector
from komerbij.notifications.entrypoints.api.problems import guard as _guard
from komerbij.notifications.service import partners, privacy
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.service import runtime_of

router = APIRouter()
ADMIN = require("admin")


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

    url: str = Field(max_length=2000, description="https:// and a public address (checked when registered and "
                                                 "at every delivery)")
    secret: str = Field(description="whsec_ followed by base64 of at least 24 random bytes")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(min_length=1)
    municipalities: list[str] = []
    provinces: list[str] = []
    mode: Mode = "immediate"


class Created(BaseModel):
    id: str


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


@router.put("/v1/partners/{partner_id}/subscriptions/{subscription_id}", response_model=Created, tags=["partners"])
async def replace_subscription(partner_id: str, subscription_id: uuid.UUID, body: SubscriptionIn, request: Request,
                               _: Principal = ADMIN) -> Created:
    """What the partner hears from now on through this subscription (events routed before stay as they were)."""
    await _guard(partners.update_subscription(
        runtime_of(request), partner_id, subscription_id, event_types=body.event_types,
        municipalities=body.municipalities, provinces=body.provinces, mode=body.mode,
    ))
    return Created(id=str(subscription_id))


@router.delete("/v1/partners/{partner_id}/subscriptions/{subscription_id}", status_code=204, tags=["partners"])
async def delete_subscription(partner_id: str, subscription_id: uuid.UUID, request: Request,
                              _: Principal = ADMIN) -> Response:
    await _guard(partners.delete_subscription(runtime_of(request), partner_id, subscription_id))
    return Response(status_code=204)


class TestOutcome(BaseModel):
    delivered: bool
    http_status: int | None
    error: str | None


@router.post("/v1/partners/{partner_id}/webhooks/{webhook_id}/test", response_model=TestOutcome,
             tags=["partners"])
async def test_webhook(partner_id: str, webhook_id: uuid.UUID, request: Request,
                       _: Principal = ADMIN) -> TestOutcome:
    """Posts a signed test payload (type `nl.komerbij.notifications.test.v1`) now and says how it went."""
    sent = await _guard(partners.send_test_event(runtime_of(request), partner_id, webhook_id))
    return TestOutcome(delivered=sent.ok, http_status=sent.status, error=sent.error)


@router.post("/v1/partners/{partner_id}/webhooks/{webhook_id}/enable", status_code=204, tags=["partners"])
async def enable_webhook(partner_id: str, webhook_id: uuid.UUID, request: Request,
                         _: Principal = ADMIN) -> Response:
    """A disabled webhook gets new events again; its earlier failures no longer count."""
    await _guard(partners.enable_webhook(runtime_of(request), partner_id, webhook_id))
    return Response(status_code=204)
