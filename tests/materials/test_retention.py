"""Personal data and idempotency keys are purged on schedule; business metrics; idempotent demo data. The jobs are
called with the `now` a test chooses, exactly as the scheduler calls them."""

from __future__ import annotations

from datetime import timedelta

from support.infra import Infra
from support.services import auth, running, settings_env

from komerbij.materials.app import SPEC
from komerbij.materials.entrypoints.jobs import purge_contact_details, purge_idempotency_keys
from komerbij.materials.entrypoints.metrics import refresh_business_metrics
from materials.harness import Materials, june_2027

FULFILMENT = auth("fulfilment")


async def contact_of(m: Materials, order_id: str) -> tuple[str | None, str | None, str | None]:
    body = (await m.client.get(f"/v1/orders/{order_id}", headers=FULFILMENT)).json()
    return body["contact"]["email"], body["contact"]["phone"], body["delivery_address"]["attention"]


async def test_contact_details_of_finished_orders_are_purged_after_the_retention_period(
    materials: Materials,
) -> None:
    await materials.add_stock("POSTER-A3", 100)
    running_order = (await materials.order("GM0363", [("POSTER-A3", 5)]))["id"]
    rejected = (await materials.order("GM0363", [("PLACEMAT", 1)]))["id"]
    cancelled = (await materials.order("GM0363", [("POSTER-A3", 5)]))["id"]
    await materials.client.post(f"/v1/orders/{cancelled}/cancel", headers=auth("organiser", municipality="GM0363"))
    delivered = (await materials.order("GM0363", [("POSTER-A3", 5)]))["id"]
    for step, extra in (("picking", {}), ("shipped", {"carrier": "PostNL", "tracking_code": "3S1"}),
                        ("delivered", {})):
        await materials.client.post(f"/v1/orders/{delivered}/status", json={"status": step, **extra},
                                    headers=FULFILMENT)
    start = materials.clock.now()

    assert await purge_contact_details(materials.runtime, start + timedelta(days=29)) == 0
    purged = await purge_contact_details(materials.runtime, start + timedelta(days=31))

    assert purged == 3
    for order_id in (rejected, cancelled, delivered):
        assert await contact_of(materials, order_id) == (None, None, None)
    assert await contact_of(materials, running_order) == ("welzijn@example.org", "0201111111", "Team Welzijn")
    # What the programme reports on stays: the organisation, the place, the lines.
    body = (await materials.client.get(f"/v1/orders/{delivered}", headers=FULFILMENT)).json()
    assert body["delivery_address"]["organisation"] == "Gemeente Amsterdam" and body["lines"]
    assert await purge_contact_details(materials.runtime, start + timedelta(days=60)) == 0


async def test_idempotency_keys_are_kept_at_least_a_day_and_then_purged(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    first = await materials.order("GM0363", [("POSTER-A3", 5)], key="retry-me")
    start = materials.clock.now()

    await purge_idempotency_keys(materials.runtime, start + timedelta(hours=47))
    replay = await materials.order("GM0363", [("POSTER-A3", 5)], key="retry-me")
    assert replay["id"] == first["id"]

    assert await purge_idempotency_keys(materials.runtime, start + timedelta(hours=49)) == 1
    again = await materials.order("GM0363", [("POSTER-A3", 5)], key="retry-me")
    assert again["id"] != first["id"]


async def test_business_metrics_count_orders_by_status_and_stock_by_sku(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    await materials.order("GM0363", [("POSTER-A3", 30)])
    await materials.order("GM0363", [("PLACEMAT", 1)])

    await refresh_business_metrics(materials.runtime)
    text = (await materials.client.get("/metrics")).text

    assert 'komerbij_orders{status="confirmed"} 1.0' in text
    assert 'komerbij_orders{status="rejected"} 1.0' in text
    assert 'komerbij_orders{status="cancelled"} 0.0' in text
    assert 'komerbij_stock_on_hand_items{sku="POSTER-A3"} 70.0' in text
    assert 'komerbij_stock_reserved_items{sku="POSTER-A3"} 30.0' in text
    assert "GM0363" not in text and "example.org" not in text


async def test_demo_data_loads_once_however_often_the_service_starts(infra: Infra) -> None:
    dsn = infra.new_database("materials_demo")
    env = settings_env(infra, dsn, LOAD_DEMO_DATA="true")
    for _ in range(2):
        async with running(SPEC, env, clock=june_2027()) as svc:
            async with svc.runtime.pool.acquire() as conn:
                adjustments = await conn.fetchval("SELECT count(*) FROM stock_adjustments")
                orders = await conn.fetch("SELECT status FROM orders ORDER BY municipality")
    assert adjustments == 5
    # one order in every state the warehouse sees (issue 16), moved forward once, not again on the second start
    assert [r["status"] for r in orders] == ["confirmed", "delivered", "confirmed", "shipped", "picking"]
