from __future__ import annotations

import uuid

from probe import effects, spec
from support.infra import Infra
from support.services import eventually, running, settings_env


async def test_event_written_through_outbox_is_consumed_once(infra: Infra) -> None:
    run = f"smoke-{uuid.uuid4().hex[:6]}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=f"probe-{run}")
    async with running(spec(env["PROBE_GROUP"]), env) as svc:
        r = await svc.client.post("/probe/adjust", json={"key": "k1", "n": 1, "run": run})
        assert r.status_code == 201
        rows = await eventually(lambda: effects(svc.runtime, run))
        assert [(k, n) for _, k, n in rows] == [("k1", 1)]
        ready = await svc.client.get("/readyz")
        assert ready.status_code == 200, ready.text
