"""The nieuwsflits' scheduled work: release mails at the relay's pace, and report progress to media."""

from __future__ import annotations

from datetime import datetime

from komerbij.notifications.service import newsletters
from komerbij.runtime.jobs import Job
from komerbij.runtime.service import Runtime

PACE_TICK_SECONDS = 0.25  # releases come in steps of a quarter of a second's budget
PROGRESS_TICK_SECONDS = 2.0


async def release(rt: Runtime, now: datetime) -> int:
    return await newsletters.release(rt, now)


async def report(rt: Runtime, now: datetime) -> int:
    return await newsletters.report(rt, now)


def jobs() -> list[Job]:
    return [Job("newsletter-pace", PACE_TICK_SECONDS, release),
            Job("newsletter-progress", PROGRESS_TICK_SECONDS, report)]
