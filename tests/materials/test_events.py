"""Events leave through the outbox onto Kafka: read back with a plain aiokafka consumer and validated against the
committed JSON Schemas (the contract other services build on)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
from aiokafka import AIOKafkaConsumer
from support.infra import Infra
from support.services import auth, eventually

from komerbij.contracts.topics import MATERIALS_ORDERS, MATERIALS_STOCK
from materials.harness import Materials

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
FULFILMENT = auth("fulfilment")
PREFIX = "nl.komerbij.materials."


async def consume_all(infra: Infra, wanted_ids: set[str]) -> dict[str, tuple[str, str, bytes, int, int]]:
    """ce_id → (type, key, value, partition, offset) for every wanted event, reading the topics from the start."""
    consumer = AIOKafkaConsumer(
        MATERIALS_ORDERS.name, MATERIALS_STOCK.name, bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"materials-test-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[str, tuple[str, str, bytes, int, int]] = {}
    try:
        async def more() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    headers = {k: v.decode() for k, v in rec.headers}
                    if headers.get("ce_id") in wanted_ids:
                        found[headers["ce_id"]] = (headers["ce_type"], rec.key.decode(), rec.value, rec.partition,
                                                   rec.offset)
            return wanted_ids <= set(found)

        await eventually(more, timeout=60, interval=0)
    finally:
        await consumer.stop()
    return found


async def test_every_event_type_reaches_kafka_and_validates_against_its_committed_schema(
    materials: Materials, infra: Infra,
) -> None:
    await materials.add_stock("POSTER-A3", 60)
    await materials.add_stock("POSTER-A3", -5, reason="beschadigd")
    shipped = (await materials.order("GM0363", [("POSTER-A3", 10)]))["id"]  # 55 → 45: below 50, StockLow
    for step, extra in (("picking", {}), ("shipped", {"carrier": "PostNL", "tracking_code": "3SKOM42"}),
                        ("delivered", {})):
        r = await materials.client.post(f"/v1/orders/{shipped}/status", json={"status": step, **extra},
                                        headers=FULFILMENT)
        assert r.status_code == 200, r.text
    cancelled = (await materials.order("GM0599", [("POSTER-A3", 1)]))["id"]
    r = await materials.client.post(f"/v1/orders/{cancelled}/cancel",
                                    headers=auth("organiser", municipality="GM0599"))
    assert r.status_code == 200
    rejected = (await materials.order("GM0599", [("PLACEMAT", 1)]))["id"]

    outbox = await materials.conn_fetch("SELECT id::text, type, key FROM outbox ORDER BY seq")
    events = await consume_all(infra, {r["id"] for r in outbox})

    types = {t for t, *_ in events.values()}
    assert types == {f"{PREFIX}{t}.v1" for t in (
        "stock.adjusted", "stock.low", "order.placed", "order.confirmed", "order.rejected", "order.picking",
        "order.shipped", "order.delivered", "order.cancelled")}
    for row in outbox:
        type_, key, value, *_ = events[row["id"]]
        assert (type_, key) == (row["type"], row["key"])
        schema = json.loads((SCHEMAS / f"{type_}.json").read_text())
        jsonschema.validate(json.loads(value), schema, cls=jsonschema.Draft202012Validator)

    def payloads(order_id: str) -> list[dict[str, Any]]:
        mine = sorted((off, json.loads(v)) for t, k, v, _, off in events.values() if k == order_id)
        return [p for _, p in mine]

    # One key, one partition: a consumer sees an order's story in the order it happened.
    assert [p["status"] for p in payloads(shipped)] == ["placed", "confirmed", "picking", "shipped", "delivered"]
    assert payloads(shipped)[3]["tracking_code"] == "3SKOM42"
    assert [p["status"] for p in payloads(cancelled)] == ["placed", "confirmed", "cancelled"]
    assert payloads(rejected)[-1]["reason"] == "out_of_stock"
    assert "niet genoeg voorraad van Placemat" in payloads(rejected)[-1]["message"]
    low = [json.loads(v) for t, _, v, *_ in events.values() if t == PREFIX + "stock.low.v1"]
    assert [(p["sku"], p["stock_on_hand"], p["threshold"]) for p in low] == [("POSTER-A3", 45, 50)]
    adjusted = sorted(json.loads(v)["delta"] for t, _, v, *_ in events.values() if t == PREFIX + "stock.adjusted.v1")
    assert adjusted == [-5, 60]


def test_the_committed_materials_schemas_match_the_event_models() -> None:
    from komerbij.contracts.events.materials import EVENTS
    from komerbij.contracts.schemas import schema_of

    for cls in EVENTS:
        committed = json.loads((SCHEMAS / f"{cls.TYPE}.json").read_text())
        assert committed == json.loads(json.dumps(schema_of(cls), sort_keys=True)), cls.TYPE
