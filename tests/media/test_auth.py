"""Every media route is comms work: no token 401, another role 403, comms and admin get through."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from support.services import RunningService, auth

Call = Callable[[RunningService, dict[str, str], dict[str, str]], Awaitable[httpx.Response]]


async def _setup(svc: RunningService) -> dict[str, str]:
    comms = auth("comms")
    outlet = (await svc.client.post("/v1/outlets", headers=comms, json={
        "name": "Auth Test", "medium": "online", "scope": "local"})).json()["id"]
    # Port 9 (discard) on localhost: nothing listens, so a poll fails fast and is recorded as an error.
    feed = (await svc.client.post("/v1/feeds", headers=comms, json={
        "outlet_id": outlet, "url": "http://127.0.0.1:9/feed.xml", "interval_seconds": 900})).json()["id"]
    return {"outlet": outlet, "feed": feed}


async def _new_mention(svc: RunningService, ids: dict[str, str]) -> str:
    r = await svc.client.post("/v1/mentions", headers=auth("comms"), json={
        "outlet_id": ids["outlet"], "published_at": "2027-09-30", "title": "Kom erbij",
        "url": f"https://auth.test/{uuid.uuid4()}"})
    return r.json()["id"]


def _unique() -> str:
    return uuid.uuid4().hex[:8]


ROUTES: dict[str, Call] = {
    "POST /v1/outlets": lambda s, h, ids: s.client.post("/v1/outlets", headers=h, json={
        "name": f"Outlet {_unique()}", "medium": "tv", "scope": "national"}),
    "GET /v1/outlets": lambda s, h, ids: s.client.get("/v1/outlets", headers=h),
    "POST /v1/feeds": lambda s, h, ids: s.client.post("/v1/feeds", headers=h, json={
        "outlet_id": ids["outlet"], "url": f"https://feeds.test/{_unique()}.xml", "interval_seconds": 900}),
    "GET /v1/feeds": lambda s, h, ids: s.client.get("/v1/feeds", headers=h),
    "GET /v1/feeds/{id}": lambda s, h, ids: s.client.get(f"/v1/feeds/{ids['feed']}", headers=h),
    "POST /v1/feeds/{id}/poll": lambda s, h, ids: s.client.post(f"/v1/feeds/{ids['feed']}/poll", headers=h),
    "POST /v1/mentions": lambda s, h, ids: s.client.post("/v1/mentions", headers=h, json={
        "outlet_id": ids["outlet"], "published_at": "2027-09-30", "title": "Kom erbij", "note": _unique()}),
    "POST /v1/mentions/import": lambda s, h, ids: s.client.post("/v1/mentions/import", headers=h, files={
        "file": ("e.csv", f"date,outlet,title\n2027-10-01,Auth Test,Kom erbij {_unique()}\n".encode(), "text/csv")}),
    "GET /v1/mentions": lambda s, h, ids: s.client.get("/v1/mentions", headers=h),
    "GET /v1/mentions.csv": lambda s, h, ids: s.client.get("/v1/mentions.csv", headers=h),
    "GET /v1/mentions/{id}": lambda s, h, ids: s.client.get(f"/v1/mentions/{ids['mention']}", headers=h),
    "PATCH /v1/mentions/{id}": lambda s, h, ids: s.client.patch(f"/v1/mentions/{ids['mention']}", headers=h,
                                                                json={"sentiment": "neutral"}),
    "DELETE /v1/mentions/{id}": lambda s, h, ids: s.client.delete(f"/v1/mentions/{ids['mention']}", headers=h),
    "GET /v1/coverage": lambda s, h, ids: s.client.get("/v1/coverage", headers=h),
}


async def test_every_route_needs_the_comms_or_admin_role(media: RunningService) -> None:
    ids = await _setup(media)
    outcomes: dict[str, dict[str, Any]] = {}
    for name, call in ROUTES.items():
        row: dict[str, Any] = {}
        for who, headers in [("none", {}), ("bad", {"Authorization": "Bearer not-a-token"}),
                             ("organiser", auth("organiser", municipality="GM0753")), ("moderator", auth("moderator")),
                             ("fulfilment", auth("fulfilment")), ("comms", auth("comms")), ("admin", auth("admin"))]:
            ids["mention"] = await _new_mention(media, ids)
            r = await call(media, headers, ids)
            row[who] = r.status_code
            if r.status_code in (401, 403):
                assert r.headers["content-type"].startswith("application/problem+json")
        outcomes[name] = row
    for name, row in outcomes.items():
        assert (row["none"], row["bad"]) == (401, 401), name
        assert (row["organiser"], row["moderator"], row["fulfilment"]) == (403, 403, 403), name
        assert 200 <= row["comms"] < 300 and 200 <= row["admin"] < 300, (name, row)

