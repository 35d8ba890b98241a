"""Demo data for `make run`: starting stock and two orders. Idempotent: stock is added only to an empty audit
trail, and the orders carry fixed Idempotency-Keys."""

from __future__ import annotations

import logging
from datetime import timedelta

from komerbij.materials.domain.orders import Line
from komerbij.materials.service import catalog
from komerbij.materials.service.orders import OrderRequest, local_date, place_order
from komerbij.materials.settings import settings_of
from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)
STARTING_STOCK = {"POSTER-A3": 2000, "POSTER-A2": 800, "VLOERSTICKER": 600, "PLACEMAT": 300, "ANSICHTKAART": 500}
DEMO_ORDERS = (
    ("demo-order-amsterdam", "GM0363", "Gemeente Amsterdam", "Amstel 1", "1011 PN", "Amsterdam",
     (Line("KIT-COMPLEET", 2), Line("ANSICHTKAART", 10))),
    ("demo-order-venlo", "GM0983", "Stichting Welzijn Venlo", "Markt 1", "5911 HA", "Venlo",
     (Line("POSTER-A3", 25), Line("PLACEMAT", 4))),
)


async def load_demo_data(rt: Runtime) -> None:
    if not rt.settings.load_demo_data:
        return
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        if not await conn.fetchval("SELECT count(*) FROM stock_adjustments"):
            for sku, quantity in STARTING_STOCK.items():
                await catalog.adjust_stock(rt, sku, quantity, "beginvoorraad (demo)", "demo", now)
    for key, municipality, organisation, street, postcode, city, lines in DEMO_ORDERS:
        request = OrderRequest(
            lines=lines, organisation=organisation, attention="Team Welzijn", street=street, postcode=postcode,
            city=city, contact_email="welzijn@example.org", contact_phone=None,
            wanted_by=local_date(now) + timedelta(days=30),
        )
        await place_order(rt, municipality=municipality, actor="demo", request=request, idempotency_key=key,
                          now=now, close_days=settings_of(rt).order_window_close_days)
    log.info("demo data loaded")
