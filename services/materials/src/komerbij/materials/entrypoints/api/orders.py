"""HTTP routes of kit orders: organisers order for their own municipality; fulfilment and admin see all orders.

An organiser asking for another municipality's order gets 404, not 403, so order ids of others do not leak.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from komerbij.materials.domain.delivery import normalise_email, normalise_phone, normalise_postcode
from komerbij.materials.domain.orders import KitOrder, Line, Reason, Status, UnknownOrder
from komerbij.materials.entrypoints.api.problems import as_problems
from komerbij.materials.service import lifecycle
from komerbij.materials.service import orders as ordering
from komerbij.materials.settings import settings_of
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.http import ProblemError
from komerbij.runtime.reference import municipality as known_municipality
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1/orders", tags=["orders"])


class _Input(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)


class LineIn(_Input):
    sku: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=100_000)


class AddressIn(_Input):
    organisation: str = Field(min_length=1, max_length=200)
    attention: str | None = Field(None, max_length=200)
    street: str = Field(min_length=1, max_length=200, description="Street and house number")
    postcode: str = Field(description="Dutch postcode, e.g. 1011 PN")
    city: str = Field(min_length=1, max_length=100)

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str) -> str:
        return normalise_postcode(value)


class ContactIn(_Input):
    email: str
    phone: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value else None


class OrderIn(_Input):
    lines: list[LineIn] = Field(min_length=1, max_length=20)
    delivery_address: AddressIn
    contact: ContactIn
    wanted_by: date

    def request(self) -> ordering.OrderRequest:
        a = self.delivery_address
        return ordering.OrderRequest(
            lines=tuple(Line(li.sku.upper(), li.quantity) for li in self.lines), organisation=a.organisation,
            attention=a.attention or None, street=a.street, postcode=a.postcode, city=a.city,
            contact_email=self.contact.email, contact_phone=self.contact.phone, wanted_by=self.wanted_by,
        )


class OrderCreated(BaseModel):
    id: str
    status: Status
    reason: Reason | None
    message: str | None = Field(None, description="Why the order was rejected, in Dutch, for the organiser")
    edition_year: int


class Address(BaseModel):
    organisation: str
    attention: str | None
    street: str
    postcode: str
    city: str


class Contact(BaseModel):
    email: str | None
    phone: str | None


class LineOut(BaseModel):
    sku: str
    quantity: int


class OrderOut(OrderCreated):
    municipality: str
    lines: list[LineOut]
    delivery_address: Address
    contact: Contact
    wanted_by: date
    carrier: str | None
    tracking_code: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, o: KitOrder) -> OrderOut:
        return cls(
            id=o.id, status=o.status, reason=o.reason, message=o.reason_message, edition_year=o.edition_year,
            municipality=o.municipality, lines=[LineOut(sku=li.sku, quantity=li.quantity) for li in o.lines],
            delivery_address=Address(organisation=o.organisation, attention=o.attention, street=o.street,
                                     postcode=o.postcode, city=o.city),
            contact=Contact(email=o.contact_email, phone=o.contact_phone), wanted_by=o.wanted_by,
            carrier=o.carrier, tracking_code=o.tracking_code, created_at=o.created_at, updated_at=o.updated_at,
        )


class OrderList(BaseModel):
    items: list[OrderOut]


class StatusChange(_Input):
    status: Status
    carrier: str | None = Field(None, max_length=100)
    tracking_code: str | None = Field(None, max_length=100)


def _own_municipality(principal: Principal) -> str:
    code = principal.municipality
    if not code or known_municipality(code) is None:
        raise ProblemError(403, "Geen gemeente bekend",
                           "Ordering and reading orders needs a token with a known municipality.")
    return code


def _check_visible(principal: Principal, order: KitOrder) -> None:
    if principal.role == "organiser" and order.municipality != principal.municipality:
        raise UnknownOrder(order.id)


@router.post("", status_code=201, summary="Order the kit for the caller's municipality (idempotent with a key)",
             responses={409: {"description": "Idempotency-Key reused with a different body"},
                        422: {"description": "Invalid input or a catalog rule broken (e.g. per-order maximum)"}})
async def place_order(
    body: OrderIn, request: Request, response: Response,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", min_length=1, max_length=200),
    principal: Principal = require("organiser"),
) -> OrderCreated:
    rt = runtime_of(request)
    municipality = _own_municipality(principal)
    with as_problems():
        placed = await ordering.place_order(
            rt, municipality=municipality, actor=principal.subject, request=body.request(),
            idempotency_key=idempotency_key, now=rt.clock.now(),
            close_days=settings_of(rt).order_window_close_days,
        )
    if placed.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    o = placed.order
    return OrderCreated(id=o.id, status=o.status, reason=o.reason, message=o.reason_message,
                        edition_year=o.edition_year)


@router.get("", summary="Orders; organisers see their own municipality only")
async def list_orders(
    request: Request,
    status: Status | None = None,
    municipality: str | None = Query(None, pattern=r"^GM\d{4}$"),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0),
    principal: Principal = require("organiser", "fulfilment"),
) -> OrderList:
    if principal.role == "organiser":
        own = _own_municipality(principal)
        if municipality is not None and municipality != own:
            raise ProblemError(403, "Geen toegang", "Organisers see the orders of their own municipality only.")
        municipality = own
    found = await ordering.list_orders(runtime_of(request), status=status, municipality=municipality,
                                       limit=limit, offset=offset)
    return OrderList(items=[OrderOut.of(o) for o in found])


@router.get("/{order_id}", summary="One order")
async def get_order(order_id: str, request: Request,
                    principal: Principal = require("organiser", "fulfilment")) -> OrderOut:
    with as_problems():
        order = await ordering.get_order(runtime_of(request), order_id)
        _check_visible(principal, order)
    return OrderOut.of(order)


@router.post("/{order_id}/cancel", summary="Cancel (by the ordering municipality) until picking starts")
async def cancel_order(order_id: str, request: Request, principal: Principal = require("organiser")) -> OrderOut:
    rt = runtime_of(request)
    own = None if principal.is_admin else _own_municipality(principal)
    with as_problems():
        order = await lifecycle.cancel_order(rt, order_id, rt.clock.now(), municipality=own)
    return OrderOut.of(order)


@router.post("/{order_id}/status", summary="Fulfilment: picking, shipped (carrier, tracking code), delivered")
async def change_status(order_id: str, body: StatusChange, request: Request,
                        principal: Principal = require("fulfilment")) -> OrderOut:
    rt = runtime_of(request)
    with as_problems():
        order = await lifecycle.change_status(rt, order_id, body.status, rt.clock.now(), carrier=body.carrier,
                                              tracking_code=body.tracking_code)
    return OrderOut.of(order)
