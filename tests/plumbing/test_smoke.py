"""The shortest path through the platform: a request's event goes out through the outbox and is applied once, also
when the relay publishes it a second time (as it does after a crash between publishing and stamping it sent)."""

from __future__ import annotations

import uuid

from probe import effects, spec
from support.drain import drain
from support.infra import Infra
from support.kafka import data, header, read_topic, start_group_at_end
from support.services import running, settings_env

TOPIC = "materials.stock"


async def test_event_written_through_outbox_is_consumed_once_even_when_published_twice(infra: Infra) -> None:
    run = f"smoke-{uuid.uuid4().hex[:6]}"
    group = f"probe-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group)
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(spec(group), env) as svc:
        r = await svc.client.post("/probe/adjust", json={"key": "k1", "n": 1, "run": run})
        assert r.status_code == 201
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]}, outboxes=[env["DATABASE_URL"]])
        assert [(k, n) for _, k, n in await effects(svc.runtime, run)] == [("k1", 1)]
        # The relay publishes the very same row again: same event id, a second copy on the topic.
        async with svc.runtime.pool.acquire() as conn:
            assert await conn.execute("UPDATE outbox SET sent_at = NULL") == "UPDATE 1"
            await conn.execute("NOTIFY outbox")
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]}, outboxes=[env["DATABASE_URL"]])
        rows = await effects(svc.runtime, run)
        duplicates = svc.runtime.metrics.duplicates.labels(TOPIC)._value.get()
        ready = await svc.client.get("/readyz")
    copies = await read_topic(infra.kafka_bootstrap, TOPIC, keep=lambda r: data(r).get("reason") == run,
                              until=lambda rs: True, to_end=True)
    assert len(copies) == 2 and len({header(c, "ce_id") for c in copies}) == 1  # the duplicate really was sent
    assert [(k, n) for _, k, n in rows] == [("k1", 1)]
    assert duplicates == 1
    assert ready.status_code == 200, ready.text
