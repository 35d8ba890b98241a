"""Organisations own kit orders, people act for them (issue 14): every organiser of the ordering municipality may
read, list and cancel its orders; nobody of another organisation may, whatever the token's subject."""

from __future__ import annotations

from typing import Any

from support.services import auth

from materials.harness import Materials

ORDERED_BY = {"municipality": "GM0363", "subject": "inkoop-anna"}
CALLERS: dict[str, tuple[dict[str, Any], bool]] = {
    "same organisation, other subject": ({"municipality": "GM0363", "subject": "inkoop-bert"}, True),
    "same subject, other organisation": ({"municipality": "GM0599", "subject": "inkoop-anna"}, False),
    "other organisation": ({"municipality": "GM0599", "subject": "rotterdam-carla"}, False),
    "same subject as a national partner": ({"partner": "zonnebloem", "subject": "inkoop-anna"}, False),
}


async def _order(m: Materials) -> str:
    headers = auth("organiser", **ORDERED_BY)
    r = await m.client.post("/v1/orders", headers=headers, json={
        "lines": [{"sku": "POSTER-A3", "quantity": 2}], "wanted_by": "2027-09-20",
        "delivery_address": {"organisation": "Gemeente Amsterdam", "street": "Amstel 1", "postcode": "1011 PN",
                             "city": "Amsterdam"},
        "contact": {"email": "inkoop@example.org"}})
    assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
    return r.json()["id"]


async def test_matrix_of_order_routes_by_organisation_not_subject(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    failures = []
    for label, (who, allowed) in {**CALLERS, "admin": ({}, True)}.items():
        headers = auth("admin") if label == "admin" else auth("organiser", **who)
        order_id = await _order(materials)
        read = await materials.client.get(f"/v1/orders/{order_id}", headers=headers)
        listed = await materials.client.get("/v1/orders", headers=headers)
        cancel = await materials.client.post(f"/v1/orders/{order_id}/cancel", headers=headers)
        seen = listed.status_code == 200 and order_id in {o["id"] for o in listed.json()["items"]}
        got = (read.status_code, seen, cancel.status_code)
        denied = read.status_code in (403, 404) and not seen and cancel.status_code in (403, 404)
        if (got != (200, True, 200)) if allowed else not denied:
            failures.append(f"{label}: read/listed/cancel = {got}, expected {'allowed' if allowed else 'denied'}")
        still = await materials.client.get(f"/v1/orders/{order_id}", headers=auth("organiser", **ORDERED_BY))
        assert still.json()["status"] == ("cancelled" if allowed else "confirmed"), label
    assert not failures, "\n".join(failures)
