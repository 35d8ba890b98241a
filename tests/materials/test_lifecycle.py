"""The order lifecycle through the API: every allowed and forbidden move, what each does to stock, bundles, and the
fulfilment partner's CSV picklist and upload."""

from __future__ import annotations

import csv
import io
from typing import Any

from support.services import auth

from materials.checks import assert_conservation, assert_quota_matches_orders
from materials.harness import Materials

FULFILMENT = auth("fulfilment", subject="fulfilment-partner")
ORGANISER = auth("organiser", municipality="GM0363", subject="organiser-GM0363")
SHIPPING = {"carrier": "PostNL", "tracking_code": "3SKOM1234567"}
STATES = ("confirmed", "rejected", "picking", "shipped", "delivered", "cancelled")
ALLOWED = {("confirmed", "picking"), ("confirmed", "cancelled"), ("picking", "shipped"), ("shipped", "delivered")}


async def set_status(m: Materials, order_id: str, status: str, **extra: str) -> Any:
    return await m.client.post(f"/v1/orders/{order_id}/status", json={"status": status, **extra}, headers=FULFILMENT)


async def cancel(m: Materials, order_id: str) -> Any:
    return await m.client.post(f"/v1/orders/{order_id}/cancel", headers=ORGANISER)


async def order_in(m: Materials, state: str) -> str:
    """A fresh order of GM0363 in `state`, brought there through the API."""
    if state == "rejected":
        body = await m.order("GM0363", [("VLOERSTICKER", 1)])  # no floor stickers in stock
        assert body["reason"] == "out_of_stock"
        return body["id"]
    order_id = (await m.order("GM0363", [("POSTER-A3", 1)]))["id"]
    path = {"confirmed": [], "cancelled": ["cancelled"], "picking": ["picking"],
            "shipped": ["picking", "shipped"], "delivered": ["picking", "shipped", "delivered"]}[state]
    for step in path:
        r = await (cancel(m, order_id) if step == "cancelled" else set_status(m, order_id, step, **SHIPPING))
        assert r.status_code == 200, r.text
    return order_id


async def status_of(m: Materials, order_id: str) -> str:
    r = await m.client.get(f"/v1/orders/{order_id}", headers=FULFILMENT)
    return r.json()["status"]


async def test_every_allowed_move_succeeds_and_every_other_move_is_a_conflict(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 1000)
    targets = ("placed", "confirmed", "rejected", "picking", "shipped", "delivered", "cancelled")
    outcomes: dict[tuple[str, str], int] = {}
    for state in STATES:
        for target in (*targets, "cancel"):
            order_id = await order_in(materials, state)
            r = await (cancel(materials, order_id) if target == "cancel"
                       else set_status(materials, order_id, target, **SHIPPING))
            outcomes[(state, target)] = r.status_code
            expected_status = {"cancel": "cancelled"}.get(target, target) if r.status_code == 200 else state
            assert await status_of(materials, order_id) == expected_status
            if r.status_code == 409:
                assert r.json()["current_status"] == state
    allowed = {(s, t) for (s, t), code in outcomes.items() if code == 200}
    # The fulfilment partner cannot cancel through /status: cancelling is the orderer's move (/cancel).
    assert allowed == {("confirmed", "picking"), ("confirmed", "cancel"), ("picking", "shipped"),
                       ("shipped", "delivered")}
    assert set(outcomes.values()) == {200, 409}
    await assert_conservation(materials)
    await assert_quota_matches_orders(materials)


async def test_stock_moves_with_the_order_and_is_conserved_at_every_step(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)

    async def levels() -> tuple[int, int, int]:
        item = (await materials.catalog())["POSTER-A3"]
        return item["stock_on_hand"], item["reserved"], item["shipped"]

    order_id = (await materials.order("GM0363", [("POSTER-A3", 30)]))["id"]
    assert await levels() == (70, 30, 0)
    assert (await set_status(materials, order_id, "picking")).status_code == 200
    assert await levels() == (70, 30, 0)
    shipped = await set_status(materials, order_id, "shipped", **SHIPPING)
    assert shipped.status_code == 200
    assert (shipped.json()["carrier"], shipped.json()["tracking_code"]) == ("PostNL", "3SKOM1234567")
    assert await levels() == (70, 0, 30)
    assert (await set_status(materials, order_id, "delivered")).status_code == 200
    assert await levels() == (70, 0, 30)
    await assert_conservation(materials)


async def test_shipping_without_carrier_or_tracking_code_is_refused_naming_the_field(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    order_id = await order_in(materials, "picking")
    r = await set_status(materials, order_id, "shipped", carrier="PostNL")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "tracking_code"
    assert await status_of(materials, order_id) == "picking"


async def test_cancel_releases_stock_and_quota(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    order_id = (await materials.order("GM0363", [("POSTER-A3", 50)]))["id"]
    assert (await materials.order("GM0363", [("POSTER-A3", 50)]))["status"] == "confirmed"
    assert (await materials.catalog())["POSTER-A3"]["stock_on_hand"] == 0

    r = await cancel(materials, order_id)

    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    item = (await materials.catalog())["POSTER-A3"]
    assert (item["stock_on_hand"], item["reserved"]) == (50, 50)
    # The quota is free again too: GM0363 may order 50 more (100 in all).
    assert (await materials.order("GM0363", [("POSTER-A3", 50)]))["status"] == "confirmed"
    await assert_conservation(materials)
    await assert_quota_matches_orders(materials)


async def test_a_kit_reserves_and_ships_its_components(materials: Materials) -> None:
    for sku, n in {"POSTER-A3": 100, "POSTER-A2": 40, "VLOERSTICKER": 40, "PLACEMAT": 20, "ANSICHTKAART": 40}.items():
        await materials.add_stock(sku, n)
    assert (await materials.catalog())["KIT-COMPLEET"]["stock_on_hand"] == 20

    order_id = (await materials.order("GM0363", [("KIT-COMPLEET", 2), ("POSTER-A3", 10)]))["id"]

    cat = await materials.catalog()
    assert cat["POSTER-A3"]["reserved"] == 2 * 5 + 10
    assert cat["PLACEMAT"]["reserved"] == 2
    # 80 free posters make 16 kits; every other component would still make 18
    assert (cat["KIT-COMPLEET"]["stock_on_hand"], cat["KIT-COMPLEET"]["reserved"]) == (16, 2)
    for step in ("picking", "shipped"):
        assert (await set_status(materials, order_id, step, **SHIPPING)).status_code == 200
    cat = await materials.catalog()
    assert (cat["POSTER-A3"]["reserved"], cat["POSTER-A3"]["shipped"]) == (0, 20)
    assert cat["ANSICHTKAART"]["shipped"] == 4
    await assert_conservation(materials)


async def test_a_kit_is_out_of_stock_when_one_component_runs_out_and_reserves_nothing(materials: Materials) -> None:
    for sku in ("POSTER-A3", "POSTER-A2", "VLOERSTICKER", "ANSICHTKAART"):
        await materials.add_stock(sku, 40)  # no placemats
    body = await materials.order("GM0363", [("KIT-COMPLEET", 1)])
    assert (body["status"], body["reason"]) == ("rejected", "out_of_stock")
    assert "Placemat" in body["message"]
    assert all(item["reserved"] == 0 for item in (await materials.catalog()).values())
    await assert_conservation(materials)
    await assert_quota_matches_orders(materials)


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_picklist_lists_confirmed_orders_with_kit_contents(materials: Materials) -> None:
    for sku, n in {"POSTER-A3": 100, "POSTER-A2": 40, "VLOERSTICKER": 40, "PLACEMAT": 20, "ANSICHTKAART": 40}.items():
        await materials.add_stock(sku, n)
    kit_order = (await materials.order("GM0363", [("KIT-COMPLEET", 1), ("PLACEMAT", 2)]))["id"]
    picking = await order_in(materials, "picking")

    r = await materials.client.get("/v1/fulfilment/picklist.csv", headers=FULFILMENT)

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = read_csv(r.text)
    assert {row["order_id"] for row in rows} == {kit_order}  # the picking order is no longer to pick
    assert picking not in r.text
    kit = next(row for row in rows if row["sku"] == "KIT-COMPLEET")
    assert kit["postcode"] == "1011 PN" and kit["quantity"] == "1"
    assert "5 × POSTER-A3" in kit["contents"]
    assert "welzijn@example.org" not in r.text  # the picklist needs an address, not the contact


async def test_a_status_upload_applies_valid_rows_and_reports_the_others_by_line(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    to_pick = await order_in(materials, "confirmed")
    to_ship = await order_in(materials, "picking")
    missing_code = await order_in(materials, "picking")
    delivered = await order_in(materials, "delivered")
    upload = "\r\n".join([
        "order_id;status;carrier;tracking_code",                      # line 1, Dutch spreadsheet style
        f"{to_pick};picking;;",                                        # 2 ok
        f"{to_ship};shipped;DHL;JVGL0123",                              # 3 ok
        f"{missing_code};shipped;DHL;",                                 # 4 no tracking code
        f"{delivered};picking;;",                                       # 5 not allowed
        "not-an-order;picking;;",                                      # 6 unknown
        "00000000-0000-0000-0000-000000000000;picking;;",              # 7 unknown
        f"{to_pick};verzonden;;",                                      # 8 unknown status
        "",
    ])

    r = await materials.client.post("/v1/fulfilment/status.csv", content=upload.encode(),
                                    headers={**FULFILMENT, "Content-Type": "text/csv"})

    assert r.status_code == 200, r.text
    result = r.json()
    assert [(a["line"], a["order_id"]) for a in result["applied"]] == [(2, to_pick), (3, to_ship)]
    assert [(e["line"], e["field"]) for e in result["errors"]] == [
        (4, "tracking_code"), (5, "status"), (6, "order_id"), (7, "order_id"), (8, "status")]
    assert await status_of(materials, to_pick) == "picking"
    shipped = (await materials.client.get(f"/v1/orders/{to_ship}", headers=FULFILMENT)).json()
    assert (shipped["status"], shipped["carrier"], shipped["tracking_code"]) == ("shipped", "DHL", "JVGL0123")
    assert await status_of(materials, missing_code) == "picking"
    assert await status_of(materials, delivered) == "delivered"
    await assert_conservation(materials)


async def test_a_status_upload_as_a_form_file_works_and_a_file_without_the_columns_is_refused(
    materials: Materials,
) -> None:
    await materials.add_stock("POSTER-A3", 100)
    order_id = await order_in(materials, "confirmed")
    r = await materials.client.post("/v1/fulfilment/status.csv", headers=FULFILMENT,
                                    files={"file": ("status.csv", f"order_id,status\n{order_id},picking\n")})
    assert r.status_code == 200, r.text
    assert len(r.json()["applied"]) == 1
    bad = await materials.client.post("/v1/fulfilment/status.csv", headers=FULFILMENT,
                                      content=b"id,state\nx,y\n")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "file"
