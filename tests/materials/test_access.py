"""Who may do what: an auth matrix over every protected route, and municipalities kept apart."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from support.services import JWT_SECRET, auth

from materials.harness import Materials, order_body

GM0363 = auth("organiser", municipality="GM0363", subject="organiser-GM0363")
GM0599 = auth("organiser", municipality="GM0599", subject="organiser-GM0599")
FULFILMENT = auth("fulfilment")
ADMIN = auth("admin")


@pytest.fixture
async def order_id(materials: Materials) -> str:
    await materials.add_stock("POSTER-A3", 500)
    return (await materials.order("GM0363", [("POSTER-A3", 5)]))["id"]


async def call(m: Materials, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> int:
    r = await m.client.request(method, path, headers=headers, **kwargs)
    return r.status_code


async def test_auth_matrix_over_the_protected_routes(materials: Materials, order_id: str) -> None:
    """(route, caller) → status: no token 401, wrong role 403, other municipality 403/404, right caller 2xx."""
    csv_upload = {"content": f"order_id,status\n{order_id},delivered\n".encode(),
                  "headers_extra": {"Content-Type": "text/csv"}}
    routes: list[tuple[str, str, dict[str, Any], dict[str, dict[str, str]], dict[str, int]]] = [
        ("POST", "/v1/catalog/POSTER-A3/stock", {"json": {"delta": 5, "reason": "nagedrukt"}},
         {"organiser": GM0363, "fulfilment": FULFILMENT, "admin": ADMIN},
         {"organiser": 403, "fulfilment": 403, "admin": 201}),
        ("GET", "/v1/catalog/POSTER-A3/adjustments", {},
         {"organiser": GM0363, "fulfilment": FULFILMENT, "admin": ADMIN},
         {"organiser": 403, "fulfilment": 403, "admin": 200}),
        ("POST", "/v1/orders", {"json": order_body([("POSTER-A3", 1)])},
         {"fulfilment": FULFILMENT, "comms": auth("comms"), "organiser": GM0363},
         {"fulfilment": 403, "comms": 403, "organiser": 201}),
        ("GET", f"/v1/orders/{order_id}", {},
         {"comms": auth("comms"), "other": GM0599, "organiser": GM0363, "fulfilment": FULFILMENT, "admin": ADMIN},
         {"comms": 403, "other": 404, "organiser": 200, "fulfilment": 200, "admin": 200}),
        ("GET", "/v1/orders", {},
         {"moderator": auth("moderator"), "organiser": GM0363, "fulfilment": FULFILMENT},
         {"moderator": 403, "organiser": 200, "fulfilment": 200}),
        ("GET", "/v1/orders?municipality=GM0363", {},
         {"other": GM0599, "organiser": GM0363},
         {"other": 403, "organiser": 200}),
        ("GET", "/v1/fulfilment/picklist.csv", {},
         {"organiser": GM0363, "fulfilment": FULFILMENT},
         {"organiser": 403, "fulfilment": 200}),
        ("POST", f"/v1/orders/{order_id}/status", {"json": {"status": "picking"}},
         {"organiser": GM0363, "fulfilment": FULFILMENT},
         {"organiser": 403, "fulfilment": 200}),
        ("POST", "/v1/fulfilment/status.csv", csv_upload,
         {"organiser": GM0363, "fulfilment": FULFILMENT},
         {"organiser": 403, "fulfilment": 200}),
    ]
    seen: dict[tuple[str, str, str], int] = {}
    for method, path, kwargs, callers, _expected in routes:
        kwargs = dict(kwargs)
        extra = kwargs.pop("headers_extra", {})
        assert await call(materials, method, path, extra, **kwargs) == 401, (method, path)
        for name, headers in callers.items():
            seen[(method, path, name)] = await call(materials, method, path, {**headers, **extra}, **kwargs)
    wanted = {(method, path, name): code for method, path, _, _, exp in routes for name, code in exp.items()}
    assert seen == wanted


async def test_an_expired_or_forged_token_is_refused(materials: Materials, order_id: str) -> None:
    expired = auth("organiser", municipality="GM0363", ttl=-10)
    forged = jwt.encode({"sub": "x", "role": "admin", "exp": 4_000_000_000}, "not-the-secret" * 3,
                        algorithm="HS256")
    assert JWT_SECRET not in forged
    for headers in (expired, {"Authorization": f"Bearer {forged}"}):
        r = await materials.client.get(f"/v1/orders/{order_id}", headers=headers)
        assert r.status_code == 401


async def test_an_organiser_of_gm0363_cannot_read_list_or_cancel_an_order_of_gm0599(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    theirs = (await materials.order("GM0599", [("POSTER-A3", 5)]))["id"]
    mine = (await materials.order("GM0363", [("POSTER-A3", 5)]))["id"]

    read = await materials.client.get(f"/v1/orders/{theirs}", headers=GM0363)
    cancel = await materials.client.post(f"/v1/orders/{theirs}/cancel", headers=GM0363)
    listed = await materials.client.get("/v1/orders", headers=GM0363)
    unknown = await materials.client.get("/v1/orders/00000000-0000-0000-0000-000000000000", headers=GM0363)

    assert read.status_code == 404 and cancel.status_code == 404
    assert read.json()["title"] == unknown.json()["title"]  # indistinguishable from an order that does not exist
    assert [o["id"] for o in listed.json()["items"]] == [mine]
    still = await materials.client.get(f"/v1/orders/{theirs}", headers=GM0599)
    assert still.json()["status"] == "confirmed"
    own_cancel = await materials.client.post(f"/v1/orders/{theirs}/cancel", headers=GM0599)
    assert own_cancel.status_code == 200


async def test_ordering_needs_a_token_with_a_known_municipality(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    for headers in (auth("organiser"), auth("organiser", municipality="GM9999"), ADMIN):
        r = await materials.client.post("/v1/orders", json=order_body(), headers=headers)
        assert r.status_code == 403
    assert await materials.conn_fetch("SELECT id FROM orders") == []


async def test_fulfilment_and_admin_can_filter_orders_by_municipality_and_status(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    a = (await materials.order("GM0363", [("POSTER-A3", 5)]))["id"]
    b = (await materials.order("GM0599", [("POSTER-A3", 5)]))["id"]
    rejected = (await materials.order("GM0599", [("PLACEMAT", 1)]))["id"]
    by_municipality = await materials.client.get("/v1/orders?municipality=GM0599", headers=FULFILMENT)
    by_status = await materials.client.get("/v1/orders?status=confirmed", headers=ADMIN)
    assert {o["id"] for o in by_municipality.json()["items"]} == {b, rejected}
    assert {o["id"] for o in by_status.json()["items"]} == {a, b}
    assert (await materials.client.get("/v1/orders?status=bogus", headers=ADMIN)).status_code == 422
