"""Registration services on the session's real Kafka and PostgreSQL: `svc`, one per test module, for tests that only
look at what they made themselves; `own_svc`, one per test (its own database), for tests that count."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from support.infra import Infra
from support.services import RunningService, running, settings_env

from komerbij.registration.app import SPEC

PUBLIC_BASE_URL = "https://agenda.example.nl"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc(infra: Infra) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("registration"), PUBLIC_BASE_URL=PUBLIC_BASE_URL)
    async with running(SPEC, env) as service:
        yield service


@pytest_asyncio.fixture(loop_scope="module")
async def own_svc(infra: Infra) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("registration"), PUBLIC_BASE_URL=PUBLIC_BASE_URL)
    async with running(SPEC, env) as service:
        yield service
