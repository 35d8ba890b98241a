"""Business gauges for Prometheus, refreshed from the database (labels: status only)."""

from __future__ import annotations

from komerbij.registration.adapters import activities, signups
from komerbij.registration.domain.activity import STATUSES
from komerbij.runtime.service import Runtime

SIGNUP_STATUSES = ("confirmed", "waitlisted", "cancelled")


async def refresh(rt: Runtime) -> None:
    activity_gauge = rt.metrics.gauge("komerbij_activities", "Activities by moderation status", ["status"])
    signup_gauge = rt.metrics.gauge("komerbij_signups", "Sign-ups by status", ["status"])
    async with rt.pool.acquire() as conn:
        by_activity = await activities.count_by_status(conn)
        by_signup = await signups.count_by_status(conn)
    for status in STATUSES:
        activity_gauge.labels(status).set(by_activity.get(status, 0))
    for status in SIGNUP_STATUSES:
        signup_gauge.labels(status).set(by_signup.get(status, 0))
