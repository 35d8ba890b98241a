"""Scheduled clean-up: personal data and idempotency keys do not stay longer than they are needed.

Each purge is one statement, so it takes a pooled connection rather than `rt.uow()`: the scheduler cancels jobs at
shutdown, and a cancellation inside `UnitOfWork.__aenter__` (while it starts the transaction) would leave the
connection checked out and make `pool.close()` wait forever (runtime issue reported to the lead).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from komerbij.materials.adapters import orders
from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)


async def purge_contact_details(rt: Runtime, now: datetime, retention_days: int) -> int:
    """Contact e-mail, phone and the 'attention of' name of finished orders (delivered, cancelled, rejected) are
    only needed while the order runs; the address of the organisation is kept for the programme's reporting."""
    async with rt.pool.acquire() as conn:
        purged = await orders.purge_contacts(conn, now - timedelta(days=retention_days), now)
    if purged:
        log.info("contact details purged", extra={"orders": purged})
    return purged


async def purge_idempotency_keys(rt: Runtime, now: datetime, ttl_hours: int) -> int:
    async with rt.pool.acquire() as conn:
        purged = await orders.purge_keys(conn, now - timedelta(hours=ttl_hours))
    if purged:
        log.info("idempotency keys purged", extra={"keys": purged})
    return purged
