"""Steady load through the services' HTTP APIs, the way people make it: residents signing up (each with an address of
their own), organisers ordering the kit and fulfilment moving orders on, activities published, mentions recorded.

Every request is recorded with its outcome: accepted (2xx, with the id the service gave), refused (an answer that
is not 2xx: a service that is down or not ready refuses, and nothing is expected of a refused request), or unknown
(no answer: the connection broke while the service may have acted). The invariants judge what the services' own
databases hold, so an unknown outcome that did take effect is held to the same account; the accepted ids are checked
to be among it.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from support.services import auth

from komerbij.runtime.reference import municipalities

from .system import MUNICIPALITY, ORGANISER, System, activity_body

COMMS = auth("comms", subject="faults-comms")
FULFILMENT = auth("fulfilment", subject="faults-fulfilment")
# Orders go round the municipalities, so the quota of one (100 posters, 20 placemats an edition) lasts long.
ORDERING = sorted(municipalities())
# Seconds between two requests of each kind: ~5 requests a second together, which two shared cores keep up with.
PACE = {"signup": 0.5, "order": 1.0, "fulfilment": 1.0, "activity": 2.5, "mention": 2.5}


@dataclass(frozen=True)
class Op:
    kind: str
    outcome: str  # "accepted" | "refused" | "unknown"
    id: str | None = None
    status: int | None = None


@dataclass
class Load:
    system: System
    label: str
    ops: list[Op] = field(default_factory=list)
    _published: list[str] = field(default_factory=list)
    _to_fulfil: deque[list[Any]] = field(default_factory=deque)  # [order id, its municipality, moves done]
    _counter: itertools.count = field(default_factory=itertools.count)

    def accepted(self, kind: str) -> list[str]:
        return [op.id for op in self.ops if op.kind == kind and op.outcome == "accepted" and op.id]

    def summary(self) -> dict[str, dict[str, int]]:
        counts: dict[str, Counter[str]] = {}
        for op in self.ops:
            counts.setdefault(op.kind, Counter())[op.outcome] += 1
        return {kind: dict(c) for kind, c in sorted(counts.items())}

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; every kind keeps its own pace, a slow or failing answer delays only its own kind."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
            loops = [self._every(PACE[kind], stop, getattr(self, f"_{kind}"), client, kind) for kind in PACE]
            await asyncio.gather(*loops)

    async def _every(self, pace: float, stop: asyncio.Event, step: Any, client: httpx.AsyncClient, kind: str) -> None:
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            await step(client)
            rest = pace - (asyncio.get_running_loop().time() - started)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(rest, 0.05))
            except TimeoutError:
                pass

    async def _call(self, kind: str, client: httpx.AsyncClient, method: str, url: str,
                    **kwargs: Any) -> httpx.Response | None:
        try:
            r = await client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            self.ops.append(Op(kind, "refused"))  # nothing was sent
            return None
        except httpx.TransportError:
            self.ops.append(Op(kind, "unknown"))  # sent, and the answer lost: it may have been acted upon
            return None
        if r.is_success:
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            self.ops.append(Op(kind, "accepted", str(body.get("id") or ""), r.status_code))
        else:
            self.ops.append(Op(kind, "refused", None, r.status_code))
        return r

    def _n(self) -> int:
        return next(self._counter)

    async def _signup(self, client: httpx.AsyncClient) -> None:
        n = self._n()
        activities = self.system.world.activities + self._published
        activity = activities[n % len(activities)]
        url = f"{self.system.url('registration')}/v1/activities/{activity}/signups"
        await self._call("signup", client, "POST", url,
                         json={"name": f"Deelnemer {n}", "email": f"deelnemer-{self.label}-{n}@faults.example",
                               "phone": None, "party_size": 1 + n % 2, "consent": True})

    async def _order(self, client: httpx.AsyncClient) -> None:
        n = self._n()
        code = ORDERING[(zlib.crc32(self.label.encode()) + n) % len(ORDERING)]
        headers = {**auth("organiser", municipality=code, subject=f"faults-organiser-{code}"),
                   "Idempotency-Key": str(uuid.uuid4())}
        r = await self._call("order", client, "POST", f"{self.system.url('materials')}/v1/orders", headers=headers,
                             json={"lines": [{"sku": "POSTER-A3", "quantity": 1 + n % 3},
                                             {"sku": "PLACEMAT", "quantity": 1}],
                                   "delivery_address": {"organisation": f"Gemeente {code}", "street": "Markt 1",
                                                        "postcode": "1011 PN", "city": "Ergens"},
                                   "contact": {"email": f"bestelling-{self.label}-{n}@faults.example"},
                                   "wanted_by": str(date(2027, 9, 20))})
        if r is not None and r.is_success and r.json().get("status") == "confirmed":
            self._to_fulfil.append([r.json()["id"], code, 0])

    async def _fulfilment(self, client: httpx.AsyncClient) -> None:
        """One move of the oldest confirmed order: every fourth is cancelled by its municipality, the others are
        picked, shipped and delivered, one move per turn, so stock moves between on hand, reserved and shipped."""
        if not self._to_fulfil:
            return
        entry = self._to_fulfil[0]
        order, code, done = entry
        base = f"{self.system.url('materials')}/v1/orders/{order}"
        if int(uuid.UUID(order)) % 4 == 0:
            self._to_fulfil.popleft()
            organiser = auth("organiser", municipality=code, subject=f"faults-organiser-{code}")
            await self._call("cancel", client, "POST", f"{base}/cancel", headers=organiser)
            return
        moves = [{"status": "picking"}, {"status": "shipped", "carrier": "PostNL", "tracking_code": f"3S{order[:8]}"},
                 {"status": "delivered"}]
        r = await self._call("fulfilment", client, "POST", f"{base}/status", headers=FULFILMENT, json=moves[done])
        if r is not None and r.is_success:
            entry[2] += 1
            if entry[2] == len(moves):
                self._to_fulfil.popleft()
        elif r is not None and r.status_code == 409:
            self._to_fulfil.popleft()  # moved on already (an earlier answer was lost): leave it where it is
        else:
            self._to_fulfil.rotate(-1)  # no answer: another order first, this one comes again

    async def _activity(self, client: httpx.AsyncClient) -> None:
        n = self._n()
        base = f"{self.system.url('registration')}/v1/activities"
        r = await self._call("activity", client, "POST", base, headers=ORGANISER,
                             json=activity_body(f"Koffie {self.label} {n}"))
        if r is None or not r.is_success:
            return
        activity = r.json()["id"]
        p = await self._call("publish", client, "POST", f"{base}/{activity}/publish",
                             headers=auth("moderator", subject="faults-moderator"))
        if p is not None and p.is_success:
            self._published.append(activity)

    async def _mention(self, client: httpx.AsyncClient) -> None:
        n = self._n()
        await self._call("mention", client, "POST", f"{self.system.url('media')}/v1/mentions", headers=COMMS,
                         json={"outlet_id": self.system.world.outlet, "published_at": "2027-10-02",
                               "title": f"Samen aan tafel in Amsterdam ({self.label} {n})",
                               "url": f"https://parool.faults.example/{self.label}/{n}"})


assert MUNICIPALITY in ORDERING
