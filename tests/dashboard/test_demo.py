"""`make run`'s demo data reaches the dashboard: registration, materials and media start with LOAD_DEMO_DATA, and
Amsterdam's figures (what organisator-amsterdam sees on /gemeente/GM0363) show their activity, kit order and mentions,
the current edition's and the earlier one's, from the topics alone."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

import pytest
from support.infra import Infra, own_kafka
from support.kafka import start_group_at_end
from support.services import RunningService, auth, running, settings_env

from komerbij.dashboard.app import build_spec
from komerbij.dashboard.domain.editions import current_edition
from komerbij.materials.app import SPEC as MATERIALS
from komerbij.media.app import SPEC as MEDIA
from komerbij.registration.app import SPEC as REGISTRATION

from .test_access import session

TOPICS = ["materials.orders", "media.mentions", "registration.activities", "registration.signups"]


async def amsterdam(svc: RunningService, edition: int) -> dict[str, Any]:
    r = await svc.client.get("/v1/municipalities/GM0363", params={"edition": edition}, headers=auth("comms"))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.slow  # a broker of its own
async def test_the_demo_data_shows_on_amsterdams_dashboard(infra: Infra) -> None:
    # A broker of its own: the demo data is the same in every service that loads it (Amsterdam, this edition), so on
    # a Kafka shared with another test run that run's demo orders and activities would add to the exact figures.
    with own_kafka(infra.workdir) as kafka:
        await _demo_on_the_dashboard(infra, kafka.bootstrap)


async def _demo_on_the_dashboard(infra: Infra, bootstrap: str) -> None:
    group = f"dashboard-demo-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(bootstrap, group, TOPICS)
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    async with AsyncExitStack() as services:
        dashboard = await services.enter_async_context(
            running(build_spec(group), settings_env(infra, infra.new_database("dashboard_demo"), **kafka)))
        for name, spec in (("registration", REGISTRATION), ("materials", MATERIALS), ("media", MEDIA)):
            env = settings_env(infra, infra.new_database(f"{name}_demo_for_dashboard"), LOAD_DEMO_DATA="true",
                               **kafka)
            await services.enter_async_context(running(dataclasses.replace(spec, jobs=[]), env))
        edition = current_edition(dashboard.runtime.clock.now().date())
        deadline = time.monotonic() + 60
        while True:
            now = await amsterdam(dashboard, edition)
            if now["activities"]["by_status"]["published"] and now["kit_orders"]["total"] and now["mentions"]["total"]:
                break
            assert time.monotonic() < deadline, f"the demo data did not reach the dashboard within 60 s: {now}"
            await asyncio.sleep(0.3)
        # registration's "Samen koken in De Linde" (12 places), materials' order of 2 kits and 10 postcards,
        # media's Trouw piece looking ahead; the AD piece of the past week belongs to the earlier edition
        assert now["activities"]["by_status"] == {"published": 1, "submitted": 0, "cancelled": 0, "rejected": 0}
        assert now["activities"]["by_category"] == [{"category": "eettafel", "published": 1}]
        assert now["activities"]["capacity"] == 12
        assert (now["kit_orders"]["total"], now["kit_orders"]["items"]) == (1, 12)
        assert [m["outlet"] for m in now["mentions"]["latest"]] == ["Trouw"]
        earlier = await amsterdam(dashboard, edition - 1)
        assert [m["outlet"] for m in earlier["mentions"]["latest"]] == ["Algemeen Dagblad"]
        page = await dashboard.client.get("/gemeente/GM0363", cookies=session("organiser of Amsterdam"))
        assert page.status_code == 200
        for shown in ("Amsterdam: de week in cijfers", "Eettafel", "Amsterdam zoekt gastvrouwen"):
            assert shown in page.text, shown
