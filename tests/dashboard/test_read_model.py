"""The dashboard's figures for a fixed set of events, through real Kafka and PostgreSQL and the real service: exact,
the same after duplicates, late events, a redelivery of everything and a rebuild from the topics.

The events are of an edition year no other test uses, so the shared topics' other events cannot touch the figures
checked here (the rebuild replays all of them).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from support.drain import drain
from support.infra import Infra
from support.kafka import start_group_at_end
from support.services import RunningService, auth, running, settings_env

from komerbij.contracts.events import materials as mat
from komerbij.contracts.events import media as med
from komerbij.contracts.events import registration as reg
from komerbij.dashboard.app import build_spec
from komerbij.dashboard.entrypoints import metrics
from komerbij.dashboard.service.rebuild import GroupActive, rebuild

from .script import Script, fixed_events

TOPICS = ["materials.orders", "media.mentions", "registration.activities", "registration.signups"]
COMMS = auth("comms")


@asynccontextmanager
async def dashboard(env: dict[str, str], group: str) -> AsyncIterator[RunningService]:
    async with running(build_spec(group), env) as svc:
        yield svc


def duplicates_and_late_events(s: Script, ids: dict[str, str]) -> None:
    """What the topics bring besides: copies of events already sent (same id), and events that come after later
    ones (a dead letter replayed: its id new to the dashboard, its content older)."""
    o2 = s.add(s.order(mat.OrderConfirmed, ids["O2"], "GM0363", "confirmed", (5,)))
    s.add(o2.event, event_id=o2.event_id, at=o2.time)  # the same event twice
    first = s.sent[0]  # A1 submitted, written again: the inbox knows it
    s.add(first.event, event_id=first.event_id, at=first.time)
    before_update = next(x.time for x in s.sent if isinstance(x.event, reg.ActivityUpdated))
    s.add(s.activity(reg.ActivityPublished, ids["A6"], "GM0599", "koffie_ontmoeting", 8, "published"),
          at=before_update - timedelta(minutes=1))  # older than the capacity change
    s.add(s.signup(reg.SignupConfirmed, ids["S3"], ids["A1"], 4))  # newer, but a cancelled sign-up stays cancelled
    s.add(s.order(mat.OrderShipped, ids["O1"], "GM0363", "shipped", (2, 10), carrier="PostNL", tracking_code="x"))
    s.add(s.mention(med.MentionRecorded, ids["M4"], (10, 3), ["GM0363"], 50))  # a deleted mention stays deleted


def expected_amsterdam(s: Script, ids: dict[str, str]) -> dict[str, Any]:
    latest = [ids[k] for k in ("M3", "M2", "M1")]
    by_id = {x.event.mention_id: x.event for x in s.sent if isinstance(x.event, med.MentionEvent)}
    return {
        "municipality": {"code": "GM0363", "name": "Amsterdam", "province": "Noord-Holland"},
        "edition": s.edition,
        "participating": True,
        "activities": {
            "by_status": {"submitted": 1, "published": 2, "rejected": 1, "cancelled": 1},
            "by_category": [{"category": "eettafel", "published": 1}, {"category": "wandelen_bewegen", "published": 1}],
            "signups": 4, "participants": 8, "waitlisted": 4, "capacity": 10, "participants_in_limited": 7,
            "published_with_limit": 1, "fill_rate": 0.7,
        },
        "kit_orders": {"total": 3, "by_status": {"delivered": 1, "confirmed": 1, "rejected": 1}, "items": 17,
                       "delivered": 1, "items_delivered": 12},
        "mentions": {
            "total": 3, "articles": 2, "copies": 1, "reach_estimate": 1700, "reach_unknown": 0,
            "latest": [{"title": by_id[i].title, "url": by_id[i].url, "outlet": "De Krant", "medium": "print",
                        "published_at": by_id[i].published_at.isoformat(), "copy": i == ids["M2"]} for i in latest],
        },
    }


def expected_rotterdam(edition: int) -> dict[str, Any]:
    return {
        "activities": {"by_status": {"submitted": 0, "published": 1, "rejected": 0, "cancelled": 0},
                       "by_category": [{"category": "koffie_ontmoeting", "published": 1}],
                       "signups": 1, "participants": 5, "waitlisted": 0, "capacity": 12, "participants_in_limited": 5,
                       "published_with_limit": 1, "fill_rate": 5 / 12},
        "kit_orders": {"total": 1, "by_status": {"cancelled": 1}, "items": 0, "delivered": 0, "items_delivered": 0},
        "mentions_total": 1, "mentions_next_edition": 1,
    }


async def figures(svc: RunningService, edition: int) -> dict[str, Any]:
    """Everything the checks compare: two municipalities, the national overview and the CSV."""
    got = {}
    for code in ("GM0363", "GM0599", "GM0518"):
        r = await svc.client.get(f"/v1/municipalities/{code}", params={"edition": edition}, headers=COMMS)
        assert r.status_code == 200, r.text
        got[code] = r.json()
    later = await svc.client.get("/v1/municipalities/GM0599", params={"edition": edition + 1}, headers=COMMS)
    got["GM0599 next"] = later.json()["mentions"]
    nat = await svc.client.get("/v1/municipalities", params={"edition": edition}, headers=COMMS)
    assert nat.status_code == 200, nat.text
    got["national"] = nat.json()
    got["csv"] = (await svc.client.get("/v1/municipalities.csv", params={"edition": edition}, headers=COMMS)).text
    return got


def check(got: dict[str, Any], s: Script, ids: dict[str, str]) -> None:
    assert got["GM0363"] == expected_amsterdam(s, ids)
    rotterdam, want = got["GM0599"], expected_rotterdam(s.edition)
    assert rotterdam["activities"] == want["activities"]
    assert rotterdam["kit_orders"] == want["kit_orders"]
    assert (rotterdam["mentions"]["total"], rotterdam["mentions"]["copies"], rotterdam["mentions"]["reach_estimate"]) \
        == (1, 1, 500)
    assert (got["GM0599 next"]["total"], got["GM0599 next"]["reach_estimate"]) == (1, 75)  # M5: the next edition
    haag = got["GM0518"]
    assert haag["participating"] and haag["kit_orders"]["items"] == 1 and haag["mentions"]["reach_estimate"] == 200
    national = got["national"]
    assert (national["municipalities_total"], national["participating_total"], national["mentions_distinct"]) == (
        342, 3, 3)
    assert {m["code"] for m in national["participating"]} == {"GM0363", "GM0599", "GM0518"}
    provinces = {p["key"]: p for p in national["provinces"]}
    assert (provinces["Noord-Holland"]["participating"], provinces["Zuid-Holland"]["participating"]) == (1, 2)
    assert provinces["Zuid-Holland"]["orders"] == 1 and provinces["Zuid-Holland"]["mentions"] == 2
    country = national["country"]
    assert (country["published"], country["participants"], country["orders"], country["items"]) == (3, 13, 3, 18)
    lines = got["csv"].splitlines()
    assert len(lines) == 343
    assert f"{s.edition},GM0363,Amsterdam,Noord-Holland,yes,2,1,1,4,8,4,10,0.700,2,17,1,3,1700" in lines


async def committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def metric(svc: RunningService, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in (await svc.client.get("/metrics")).text.splitlines():
        if line.startswith(name + ("{" if labels else "")) and (not labels or wanted in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_figures_are_exact_for_a_fixed_set_of_events_through_duplicates_a_redelivery_and_a_rebuild(
    infra: Infra,
) -> None:
    bootstrap = infra.kafka_bootstrap
    group = f"dashboard-test-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(bootstrap, group, TOPICS)
    before = await committed(bootstrap, group)
    env = settings_env(infra, infra.new_database("dashboard"), METRICS_REFRESH_SECONDS="0.2")
    script = Script(edition=random.randint(2200, 2900))
    ids = fixed_events(script)
    await script.publish(bootstrap)
    duplicates_and_late_events(script, ids)
    await script.publish(bootstrap)

    async with dashboard(env, group) as svc:
        await drain(bootstrap, groups={group: TOPICS})
        first = await figures(svc, script.edition)
        check(first, script, ids)
        assert await metric(svc, "komerbij_inbox_duplicates_total") == 2  # the two copies sent with the same id
        await metrics.refresh(svc.runtime)
        for topic in TOPICS:
            assert await metric(svc, "komerbij_read_model_newest_event_timestamp_seconds", topic=topic) == \
                script.newest(topic).timestamp()
        with pytest.raises(GroupActive):  # a rebuild while the dashboard runs would fight it for the offsets
            await rebuild(env["DATABASE_URL"], bootstrap, group, TOPICS)

    # A redelivery of everything: the group's offsets back to before the events, the same service again.
    await commit(bootstrap, group, before)
    async with dashboard(env, group) as svc:
        await drain(bootstrap, groups={group: TOPICS})
        assert await metric(svc, "komerbij_inbox_duplicates_total") >= len(script.sent)
        assert await figures(svc, script.edition) == first

    # A rebuild from the topics: the model forgotten (its rows, its inbox), the group at the topics' start.
    done = await rebuild(env["DATABASE_URL"], bootstrap, group, TOPICS)
    assert set(done.starts) == set(TOPICS) and done.forgotten >= len(ids)  # every row of ours, made again
    async with dashboard(env, group) as svc:
        await drain(bootstrap, groups={group: TOPICS}, timeout=180)
        assert await figures(svc, script.edition) == first
