"""Scheduled clean-up: personal data and idempotency keys do not stay longer than they are needed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from komerbij.materials.adapters import orders
from komerbij.runtime.service import Runtime

log = logging.getLogger(__name__)


async def purge_contact_details(rt: Runtime, now: datetime, retention_days: int) -> int:
    """Contact e-mail, phone and the 'attention of' name of finished orders (delivered, cancelled, rejected) are
    only needed while the order runs; the address of the organisation is kept for the programme's reporting."""
    async with rt.uow() as uow:
        purged = await orders.purge_contacts(uow.conn, now - timedelta(days=retention_days), now)
    if purged:
        log.info("contact details purged", extra={"orders": purged})
    return purged


async def purge_idempotency_keys(rt: Runtime, now: datetime, ttl_hours: int) -> int:
    async with rt.uow() as uow:
        purged = await orders.purge_keys(uow.conn, now - timedelta(hours=ttl_hours))
    if purged:
        log.info("idempotency keys purged", extra={"keys": purged})
    return purged
