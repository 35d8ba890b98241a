"""Scheduled jobs (purges, digests, feed polls): plain async functions run every N seconds.

A job receives the time from a clock, never from `datetime.now()` itself, so tests can run "30 days later" by
calling the same function with a clock they control.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[Runtime, datetime], Awaitable[object]]


class Scheduler:
    def __init__(self, runtime: Runtime, jobs: list[Job], clock: Clock) -> None:
        self._runtime = runtime
        self._jobs = jobs
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"job-{job.name}") for job in self._jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _loop(self, job: Job) -> None:
        while True:
            try:
                await job.run(self._runtime, self._clock.now())
                self._runtime.metrics.job_runs.labels(job.name, "ok").inc()
            except asyncio.CancelledError:
                raise
            except Exception:
                self._runtime.metrics.job_runs.labels(job.name, "error").inc()
                log.exception("job failed", extra={"job": job.name})
            await asyncio.sleep(job.interval_seconds)
