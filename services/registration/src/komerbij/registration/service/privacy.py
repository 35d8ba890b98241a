"""Participants' contact details live until 30 days after their edition's week; then only counts remain."""

from __future__ import annotations

import logging
from datetime import datetime

from komerbij.registration.adapters import editions, signups
from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)


async def purge_participants(rt: Runtime, now: datetime) -> int:
    """A scheduled job; `now` comes from the scheduler's clock (tests pass their own)."""
    async with rt.uow() as uow:
        due = [e.year for e in await editions.all_editions(uow.conn) if e.purge_due(now)]
        purged = await signups.purge_editions(uow.conn, due) if due else 0
    if purged:
        log.info("participant contact data purged", extra={"signups": purged, "editions": due})
    return purged
