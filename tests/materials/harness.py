"""What the materials tests share: a clock the test controls (orders belong to an edition and a window that depend
on "today"), the running service with the moves nearly every test makes, and an order body like the issue's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from support.clock import ControlledClock
from support.services import RunningService, auth

# 1 June 2027: the 2027 edition (30 Sep – 7 Oct) is upcoming and its order window (closing 16 Sep) is open.
JUNE_2027 = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)


def june_2027() -> ControlledClock:
    return ControlledClock(JUNE_2027)


class Materials:
    """The running service plus the few moves nearly every test makes."""

    def __init__(self, svc: RunningService, clock: ControlledClock, dsn: str) -> None:
        self.svc = svc
        self.client = svc.client
        self.runtime = svc.runtime
        self.clock = clock
        self.dsn = dsn

    async def add_stock(self, sku: str, delta: int, reason: str = "levering drukker") -> dict[str, Any]:
        r = await self.client.post(f"/v1/catalog/{sku}/stock", json={"delta": delta, "reason": reason},
                                   headers=auth("admin"))
        assert r.status_code == 201, r.text
        return r.json()

    async def order(self, municipality: str = "GM0363", lines: list[tuple[str, int]] | None = None,
                    key: str | None = None, **overrides: Any) -> dict[str, Any]:
        r = await self.place(municipality, lines, key, **overrides)
        assert r.status_code == 201, r.text
        return r.json()

    async def place(self, municipality: str = "GM0363", lines: list[tuple[str, int]] | None = None,
                    key: str | None = None, **overrides: Any) -> Any:
        headers = auth("organiser", municipality=municipality, subject=f"organiser-{municipality}")
        headers["Idempotency-Key"] = key or str(uuid.uuid4())
        return await self.client.post("/v1/orders", json=order_body(lines, **overrides), headers=headers)

    async def catalog(self) -> dict[str, dict[str, Any]]:
        r = await self.client.get("/v1/catalog")
        assert r.status_code == 200, r.text
        return {item["sku"]: item for item in r.json()["items"]}

    async def conn_fetch(self, query: str, *args: object) -> list[Any]:
        async with self.runtime.pool.acquire() as conn:
            return await conn.fetch(query, *args)


def order_body(lines: list[tuple[str, int]] | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lines": [{"sku": s, "quantity": q} for s, q in (lines if lines is not None else [("POSTER-A3", 10)])],
        "delivery_address": {"organisation": "Gemeente Amsterdam", "attention": "Team Welzijn",
                             "street": "Amstel 1", "postcode": "1011 PN", "city": "Amsterdam"},
        "contact": {"email": "welzijn@example.org", "phone": "020-1111111"},
        "wanted_by": "2027-09-20",
    }
    body.update(overrides)
    return body
