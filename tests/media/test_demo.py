"""`make run` demo data: loaded at start when asked for, and a restart adds nothing."""

from __future__ import annotations

import dataclasses

from support.infra import Infra
from support.services import auth, running, settings_env

from komerbij.media.app import SPEC


async def test_demo_data_loads_once(infra: Infra) -> None:
    env = settings_env(infra, infra.new_database("media_demo"), LOAD_DEMO_DATA="true")
    counts = []
    for _ in range(2):
        async with running(dataclasses.replace(SPEC, jobs=[]), env) as svc:
            mentions = (await svc.client.get("/v1/mentions", headers=auth("comms"))).json()
            outlets = (await svc.client.get("/v1/outlets", headers=auth("comms"))).json()
            counts.append((mentions["total"], outlets["total"]))
    assert counts == [(6, 8), (6, 8)]
