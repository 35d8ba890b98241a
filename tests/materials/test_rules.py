"""The ordering rules through the API: what is a 422 (the request breaks a catalog rule, nothing is stored) and what
is a recorded rejection (window closed, quota, stock), and the admin's stock adjustments with their audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from support.infra import Infra
from support.services import auth, running, settings_env

from komerbij.materials.app import SPEC
from materials.checks import assert_conservation
from materials.harness import ControlledClock, Materials, order_body

BAD_REQUESTS: list[tuple[dict[str, object], list[tuple[str, int]] | None, str]] = [
    ({}, [("POSTER-A3", 51)], "lines.0.quantity"),
    ({}, [("ANSICHTKAART", 1), ("KIT-COMPLEET", 6)], "lines.1.quantity"),
    ({}, [("POSTER-XXL", 1)], "lines.0.sku"),
    ({}, [("POSTER-A3", 1), ("POSTER-A3", 1)], "lines.1.sku"),
    ({}, [("POSTER-A3", 0)], "lines.0.quantity"),
    ({}, [], "lines"),
    ({"delivery_address": {"organisation": "X", "street": "Y 1", "postcode": "1011 SS", "city": "Z"}}, None,
     "delivery_address.postcode"),
    ({"contact": {"email": "welzijn-at-example.org"}}, None, "contact.email"),
    ({"contact": {"email": "a@example.org", "phone": "bel me"}}, None, "contact.phone"),
    ({"wanted_by": "2027-05-31"}, None, "wanted_by"),
    ({"wanted_by": "morgen"}, None, "wanted_by"),
]


async def test_a_request_breaking_a_rule_is_a_422_naming_the_field_and_stores_nothing(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    for overrides, lines, field in BAD_REQUESTS:
        r = await materials.place("GM0363", lines, **overrides)
        assert r.status_code == 422, (field, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (field, r.text)
    assert await materials.conn_fetch("SELECT id FROM orders") == []
    assert await materials.conn_fetch("SELECT key FROM idempotency_keys") == []


async def test_over_the_per_order_maximum_says_the_maximum_in_dutch(materials: Materials) -> None:
    r = await materials.place("GM0363", [("POSTER-A3", 51)])
    assert r.json()["title"] == "Te veel besteld"
    assert "maximaal 50 × Poster A3" in r.json()["errors"][0]["message"]


async def test_after_the_window_closes_an_order_is_rejected_with_the_closing_date(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    materials.clock.current = datetime(2027, 9, 16, 8, 0, tzinfo=UTC)  # the 2027 window closed today

    body = await materials.order("GM0363", [("POSTER-A3", 10)], wanted_by="2027-09-29")

    assert (body["status"], body["reason"], body["edition_year"]) == ("rejected", "window_closed", 2027)
    assert "16 september 2027" in body["message"]
    assert (await materials.catalog())["POSTER-A3"]["reserved"] == 0
    stored = await materials.client.get(f"/v1/orders/{body['id']}",
                                        headers=auth("organiser", municipality="GM0363"))
    assert (stored.json()["status"], stored.json()["reason"]) == ("rejected", "window_closed")


async def test_after_the_week_orders_count_for_next_years_edition_with_a_fresh_quota(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 500)
    assert (await materials.order("GM0363", [("POSTER-A3", 50)]))["edition_year"] == 2027
    assert (await materials.order("GM0363", [("POSTER-A3", 50)]))["status"] == "confirmed"
    materials.clock.current = datetime(2027, 10, 8, 9, 0, tzinfo=UTC)  # the day after the 2027 week

    body = await materials.order("GM0363", [("POSTER-A3", 50)], wanted_by="2028-09-01")

    assert (body["status"], body["edition_year"]) == ("confirmed", 2028)


async def test_stock_adjustments_are_audited_and_cannot_take_reserved_stock(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100, reason="levering drukker")
    await materials.order("GM0363", [("POSTER-A3", 40)])
    damaged = await materials.client.post("/v1/catalog/POSTER-A3/stock", json={"delta": -20, "reason": "damaged"},
                                          headers=auth("admin", subject="admin-1"))
    assert damaged.status_code == 201
    assert (damaged.json()["stock_on_hand"], damaged.json()["reserved"]) == (40, 40)

    too_much = await materials.client.post("/v1/catalog/POSTER-A3/stock", json={"delta": -41, "reason": "kwijt"},
                                           headers=auth("admin"))
    zero = await materials.client.post("/v1/catalog/POSTER-A3/stock", json={"delta": 0, "reason": "niets"},
                                       headers=auth("admin"))
    no_reason = await materials.client.post("/v1/catalog/POSTER-A3/stock", json={"delta": 5, "reason": " "},
                                            headers=auth("admin"))
    bundle = await materials.client.post("/v1/catalog/KIT-COMPLEET/stock", json={"delta": 5, "reason": "x"},
                                         headers=auth("admin"))
    unknown = await materials.client.post("/v1/catalog/POSTER-XXL/stock", json={"delta": 5, "reason": "x"},
                                          headers=auth("admin"))

    assert [r.status_code for r in (too_much, zero, no_reason, bundle, unknown)] == [422, 422, 422, 422, 404]
    assert [r.json()["errors"][0]["field"] for r in (too_much, zero, no_reason, bundle)] == [
        "delta", "delta", "reason", "sku"]
    trail = (await materials.client.get("/v1/catalog/POSTER-A3/adjustments", headers=auth("admin"))).json()
    assert [(a["delta"], a["reason"], a["on_hand_after"]) for a in trail["items"]] == [
        (-20, "damaged", 40), (100, "levering drukker", 100)]
    assert trail["items"][0]["actor"] == "admin-1"
    await assert_conservation(materials)


async def test_low_stock_is_signalled_once_per_crossing(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 60)  # threshold 50

    async def signals() -> int:
        return len(await materials.conn_fetch(
            "SELECT 1 FROM outbox WHERE type = 'nl.komerbij.materials.stock.low.v1' AND key = 'POSTER-A3'"))

    await materials.order("GM0363", [("POSTER-A3", 5)])    # 55
    assert await signals() == 0
    await materials.order("GM0363", [("POSTER-A3", 10)])   # 45: crossed
    await materials.order("GM0599", [("POSTER-A3", 5)])    # 40: still low
    assert await signals() == 1
    await materials.add_stock("POSTER-A3", 30)              # 70: back above
    await materials.add_stock("POSTER-A3", -25, reason="beschadigd")  # 45: crossed again
    assert await signals() == 2
    assert (await materials.catalog())["POSTER-A3"]["low_stock"] is True


async def test_the_catalog_has_the_shape_of_the_issue(materials: Materials) -> None:
    items = await materials.catalog()
    assert list(items) == ["POSTER-A3", "POSTER-A2", "VLOERSTICKER", "PLACEMAT", "ANSICHTKAART", "KIT-COMPLEET"]
    for item in items.values():
        assert {"sku", "name", "unit", "stock_on_hand", "reserved", "max_per_order", "quota_per_municipality",
                "low_stock_threshold"} <= set(item)
    assert items["KIT-COMPLEET"]["bundle"] is True
    assert {c["sku"] for c in items["KIT-COMPLEET"]["components"]} == set(list(items)[:5])


async def test_the_order_body_of_the_issue_is_accepted_as_written(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    headers = {**auth("organiser", municipality="GM0363"), "Idempotency-Key": "5f0c3c9e-2c1b-4a52-9b8e-1c2d3e4f5a6b"}
    r = await materials.client.post("/v1/orders", json=order_body(contact={"email": "welzijn@example.org",
                                                                           "phone": "0201111111"}),
                                    headers=headers)
    assert r.status_code == 201
    assert set(r.json()) >= {"id", "status", "reason"}
    assert r.json()["status"] == "confirmed" and r.json()["reason"] is None


async def test_a_retry_after_the_window_closed_still_returns_the_original_order(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    first = await materials.order("GM0363", [("POSTER-A3", 10)], key="before-closing")
    materials.clock.current = datetime(2027, 9, 20, 8, 0, tzinfo=UTC)
    retry = await materials.order("GM0363", [("POSTER-A3", 10)], key="before-closing")
    assert (retry["id"], retry["status"]) == (first["id"], "confirmed")


async def test_the_api_is_described_in_openapi(materials: Materials) -> None:
    doc = (await materials.client.get("/openapi.json")).json()
    assert {"/v1/catalog", "/v1/catalog/{sku}/stock", "/v1/orders", "/v1/orders/{order_id}",
            "/v1/orders/{order_id}/cancel", "/v1/orders/{order_id}/status", "/v1/fulfilment/picklist.csv",
            "/v1/fulfilment/status.csv"} <= set(doc["paths"])
    events = (await materials.client.get("/asyncapi")).json()
    assert "materials.orders" in json.dumps(events)


async def test_the_window_follows_order_window_close_days(infra: Infra) -> None:
    env = settings_env(infra, infra.new_database("materials"), ORDER_WINDOW_CLOSE_DAYS="3")
    clock = ControlledClock(datetime(2027, 9, 20, 8, 0, tzinfo=UTC))  # 14 days before would be closed; 3 is not
    async with running(SPEC, env, clock=clock) as svc:
        m = Materials(svc, clock, "")
        await m.add_stock("POSTER-A3", 10)
        assert (await m.order("GM0363", [("POSTER-A3", 1)], wanted_by="2027-09-25"))["status"] == "confirmed"
        clock.current = datetime(2027, 9, 27, 8, 0, tzinfo=UTC)
        late = await m.order("GM0363", [("POSTER-A3", 1)], wanted_by="2027-09-29")
        assert late["reason"] == "window_closed" and "27 september 2027" in late["message"]
