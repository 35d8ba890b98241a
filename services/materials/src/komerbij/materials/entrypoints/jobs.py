"""Scheduled jobs of the materials service; each takes `now` so tests can run them "a month later"."""

from __future__ import annotations

from datetime import datetime

from komerbij.materials.service import retention
from komerbij.materials.settings import settings_of
from komerbij.runtime.jobs import Job
from komerbij.runtime.service import Runtime


async def purge_contact_details(rt: Runtime, now: datetime) -> int:
    return await retention.purge_contact_details(rt, now, settings_of(rt).contact_retention_days)


async def purge_idempotency_keys(rt: Runtime, now: datetime) -> int:
    return await retention.purge_idempotency_keys(rt, now, settings_of(rt).idempotency_key_ttl_hours)


JOBS = [
    Job("purge-contact-details", 3600, purge_contact_details),
    Job("purge-idempotency-keys", 3600, purge_idempotency_keys),
]
