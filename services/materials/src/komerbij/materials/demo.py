"""Demo data for `make run`: starting stock and a few orders in every state the warehouse sees (to pick, being
picked, shipped with track-and-trace, delivered). Amsterdam's order fills the address of organisator-amsterdam's
next order. Idempotent: stock is added only to an empty audit trail, the orders carry fixed Idempotency-Keys, and an
order is only moved forward from where it is."""

from __future__ import annotations

import logging
from datetime import timedelta

from komerbij.materials.domain.orders import Line, Status
from komerbij.materials.service import catalog, lifecycle
from komerbij.materials.service.orders import OrderRequest, local_date, place_order
from komerbij.materials.settings import settings_of
from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)
STARTING_STOCK = {"POSTER-A3": 2000, "POSTER-A2": 800, "VLOERSTICKER": 600, "PLACEMAT": 300, "ANSICHTKAART": 500}
DEMO_ORDERS: tuple[tuple[str, str, str, str, str, str, tuple[Line, ...], Status], ...] = (
    ("demo-order-amsterdam", "GM0363", "Gemeente Amsterdam", "Amstel 1", "1011 PN", "Amsterdam",
     (Line("KIT-COMPLEET", 2), Line("ANSICHTKAART", 10)), "confirmed"),
    ("demo-order-groningen", "GM0014", "Humanitas Groningen", "Grote Markt 1", "9712 HN", "Groningen",
     (Line("KIT-COMPLEET", 1),), "confirmed"),
    ("demo-order-venlo", "GM0983", "Stichting Welzijn Venlo", "Markt 1", "5911 HA", "Venlo",
     (Line("POSTER-A3", 25), Line("PLACEMAT", 4)), "picking"),
    ("demo-order-rotterdam", "GM0599", "Welzijn Rotterdam", "Coolsingel 40", "3011 AD", "Rotterdam",
     (Line("KIT-COMPLEET", 3),), "shipped"),
    ("demo-order-utrecht", "GM0344", "Gemeente Utrecht", "Stadsplateau 1", "3521 AZ", "Utrecht",
     (Line("POSTER-A2", 10), Line("VLOERSTICKER", 6)), "delivered"),
)
_PATH: tuple[Status, ...] = ("confirmed", "picking", "shipped", "delivered")


async def load_demo_data(rt: Runtime) -> None:
    if not rt.settings.load_demo_data:
        return
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        if not await conn.fetchval("SELECT count(*) FROM stock_adjustments"):
            for sku, quantity in STARTING_STOCK.items():
                await catalog.adjust_stock(rt, sku, quantity, "beginvoorraad (demo)", "demo", now,
                                           actor_name="demo")
    for key, municipality, organisation, street, postcode, city, lines, wanted in DEMO_ORDERS:
        request = OrderRequest(
            lines=lines, organisation=organisation, attention="Team Welzijn", street=street, postcode=postcode,
            city=city, contact_email="welzijn@example.org", contact_phone=None,
            wanted_by=local_date(now) + timedelta(days=30),
        )
        placed = await place_order(rt, municipality=municipality, actor="demo", request=request,
                                   idempotency_key=key, now=now, close_days=settings_of(rt).order_window_close_days)
        order = placed.order
        if order.status not in _PATH or wanted not in _PATH:
            continue
        for status in _PATH[_PATH.index(order.status) + 1:_PATH.index(wanted) + 1]:
            shipping = {"carrier": "PostNL", "tracking_code": f"3SKOM{key[-4:].upper()}0001"} \
                if status == "shipped" else {}
            order = await lifecycle.change_status(rt, order.id, status, rt.clock.now(), **shipping)
    log.info("demo data loaded")
