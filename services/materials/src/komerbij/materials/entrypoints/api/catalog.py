"""HTTP routes of the catalog: what the kit offers (public), stock adjustments and their audit trail (admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from komerbij.materials.entrypoints.api.problems import as_problems
from komerbij.materials.service import catalog
from komerbij.runtime.auth import Principal, require
from komerbij.runtime.service import runtime_of

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])


class Component(BaseModel):
    sku: str
    quantity: int


class CatalogItem(BaseModel):
    sku: str
    name: str
    description: str
    unit: str
    stock_on_hand: int = Field(description="Free stock (for a bundle: complete bundles the free components make)")
    reserved: int
    shipped: int
    max_per_order: int
    quota_per_municipality: int
    low_stock_threshold: int
    low_stock: bool
    bundle: bool
    components: list[Component]

    @classmethod
    def of(cls, entry: catalog.CatalogEntry) -> CatalogItem:
        item = entry.item
        return cls(
            sku=item.sku, name=item.name, description=item.description, unit=item.unit,
            stock_on_hand=entry.stock_on_hand, reserved=entry.reserved, shipped=entry.shipped,
            max_per_order=item.max_per_order, quota_per_municipality=item.quota_per_municipality,
            low_stock_threshold=item.low_stock_threshold, low_stock=entry.low, bundle=item.is_bundle,
            components=[Component(sku=s, quantity=n) for s, n in item.components],
        )


class Catalog(BaseModel):
    items: list[CatalogItem]


class StockChange(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    delta: int = Field(ge=-1_000_000, le=1_000_000, description="Items added (positive) or removed (negative)")
    reason: str = Field(min_length=1, max_length=200, description="Why, for the audit trail (e.g. 'damaged')")

    @field_validator("delta")
    @classmethod
    def _changes_something(cls, value: int) -> int:
        if value == 0:
            raise ValueError("Een wijziging van 0 verandert niets.")
        return value


class Adjustment(BaseModel):
    id: int
    sku: str
    delta: int
    reason: str
    actor: str
    on_hand_after: int
    created_at: datetime


class Adjustments(BaseModel):
    items: list[Adjustment]


@router.get("", summary="The Kom erbij kit: items, stock, limits")
async def get_catalog(request: Request) -> Catalog:
    return Catalog(items=[CatalogItem.of(e) for e in await catalog.catalog(runtime_of(request))])


@router.post("/{sku}/stock", status_code=201, summary="Adjust stock (admin), recorded in the audit trail")
async def adjust_stock(sku: str, body: StockChange, request: Request,
                       principal: Principal = require("admin")) -> CatalogItem:
    rt = runtime_of(request)
    with as_problems():
        entry = await catalog.adjust_stock(rt, sku, body.delta, body.reason, principal.subject, rt.clock.now())
    return CatalogItem.of(entry)


@router.get("/{sku}/adjustments", summary="Audit trail of stock adjustments (admin), newest first")
async def adjustments(sku: str, request: Request, limit: int = Query(100, ge=1, le=1000),
                      principal: Principal = require("admin")) -> Adjustments:
    with as_problems():
        rows = await catalog.adjustment_history(runtime_of(request), sku, limit)
    return Adjustments(items=[Adjustment(**dict(r)) for r in rows])
