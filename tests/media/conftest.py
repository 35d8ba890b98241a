"""The media service running in-process against the session's real Kafka and PostgreSQL.

The scheduled feed poll is left out of the running service: tests call the same job function with a `now` they
choose, so the scheduler's clock never races the test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from support.infra import Infra
from support.services import RunningService, running, settings_env

from komerbij.media.app import SPEC


@pytest.fixture
async def media(infra: Infra) -> AsyncIterator[RunningService]:
    # 2 s: a feed that answers must never time out because a loaded machine paused this process (at 0.5 s a good
    # feed once did, in a full run); the slow feed of the tests holds its answer far longer than that.
    env = settings_env(infra, infra.new_database("media"), MEDIA_FEED_TIMEOUT_SECONDS="2")
    async with running(dataclasses.replace(SPEC, jobs=[]), env) as svc:
        yield svc


async def metric(svc: RunningService, line_prefix: str) -> float:
    text = (await svc.client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_prefix} not exported")
