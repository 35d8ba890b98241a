"""Fixtures of the materials tests: the service on the session's real Kafka and PostgreSQL, with a test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.infra import Infra
from support.services import running, settings_env

from komerbij.materials.app import SPEC
from materials.harness import ControlledClock, Materials, june_2027


@pytest.fixture
def clock() -> ControlledClock:
    return june_2027()


@pytest.fixture
async def materials(infra: Infra, clock: ControlledClock) -> AsyncIterator[Materials]:
    dsn = infra.new_database("materials")
    env = settings_env(infra, dsn, DB_POOL_MAX_SIZE="10")
    async with running(SPEC, env, clock=clock) as svc:
        yield Materials(svc, clock, dsn)
