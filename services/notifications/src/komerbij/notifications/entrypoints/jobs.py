"""Scheduled work: the dispatcher, the daily digest, the privacy purge; and the delivery metrics."""

from __future__ import annotations

import asyncio
from datetime import datetime
from weakref import WeakKeyDictionary

from prometheus_client import Counter, Gauge

from komerbij.notifications.adapters import deliveries
from komerbij.notifications.adapters.mail import Mailer
from komerbij.notifications.service import digest, privacy
from komerbij.notifications.service.dispatch import Dispatcher, dispatch_due
from komerbij.notifications.settings import Settings, settings_of
from komerbij.runtime.jobs import Job
from komerbij.runtime.service import Runtime
from komerbij.runtime.wakeup import Wakeup

STATUSES = ("pending", "sending", "retrying", "delivered", "failed", "skipped")
CHANNELS = ("email", "webhook")


def _counter(rt: Runtime) -> Counter:
    return rt.metrics.counter("komerbij_deliveries_total", "Delivery outcomes (delivered, retrying, failed, skipped)",
                              ["channel", "status"])


def _gauge(rt: Runtime) -> Gauge:
    return rt.metrics.gauge("komerbij_deliveries_current", "Deliveries now in each status", ["channel", "status"])


async def register_metrics(rt: Runtime) -> None:
    """on_start hook: series that exist at 0 let rate()/increase() see the very first failure."""
    counter, gauge = _counter(rt), _gauge(rt)
    for channel in CHANNELS:
        for status in ("delivered", "retrying", "failed", "skipped"):
            counter.labels(channel, status)
        for status in STATUSES:
            gauge.labels(channel, status)


async def refresh_delivery_gauge(rt: Runtime) -> None:
    async with rt.pool.acquire() as conn:
        counts = {(r["channel"], r["status"]): r["n"] for r in await deliveries.counts(conn)}
    gauge = _gauge(rt)
    for channel in CHANNELS:
        for status in STATUSES:
            gauge.labels(channel, status).set(counts.get((channel, status), 0))


def dispatcher(rt: Runtime) -> Dispatcher:
    s: Settings = settings_of(rt)
    mailer = Mailer(host=s.smtp_host, port=s.smtp_port, sender=s.mail_from, username=s.smtp_username,
                    password=s.smtp_password, starttls=s.smtp_starttls, timeout=s.smtp_timeout_seconds)
    return Dispatcher(rt.pool, s, mailer, rt.source, rt.clock.now, outbound=rt.outbound)


async def dispatch(rt: Runtime, now: datetime) -> int:
    """One round; a full batch means more is waiting, so go on at once (with a fresh `now`)."""
    counter = _counter(rt)
    d = dispatcher(rt)
    total = 0
    while True:
        outcomes = await dispatch_due(d, now)
        for outcome in outcomes:
            counter.labels(outcome.channel, outcome.status).inc()
        total += len(outcomes)
        if len(outcomes) < d.settings.dispatch_batch_size:
            return total
        now = rt.clock.now()


class DispatchWhenDue:
    """The `dispatch` job: a round as soon as a delivery is recorded, else every `interval` seconds.

    The scheduler runs a job, then sleeps its interval; this job does its own waiting (so it is scheduled with
    interval 0): until the `deliveries` notification or the interval, whichever comes first, then one `dispatch`.
    Polling stays because retries fall due later without any notification, and to cover a lost LISTEN connection.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        # Per runtime: one spec can be started more than once (tests, a restart in the same process).
        self._wakeups: WeakKeyDictionary[Runtime, Wakeup] = WeakKeyDictionary()

    async def __call__(self, rt: Runtime, now: datetime) -> int:
        wakeup = self._wakeups.get(rt)
        if wakeup is None:
            wakeup = self._wakeups[rt] = Wakeup(rt.settings.database_url, deliveries.CHANNEL)
        try:
            await wakeup.listen()
            await wakeup.wait(self.interval)
            # Not the scheduler's `now`, which is as old as the wait: a delivery recorded meanwhile is due by now.
            return await dispatch(rt, rt.clock.now())
        except asyncio.CancelledError:
            # The scheduler cancels its jobs only when the service stops: the LISTEN connection goes with it.
            await wakeup.close()
            raise


async def send_digests(rt: Runtime, now: datetime) -> int:
    return await digest.send_digests(rt, now)


async def purge(rt: Runtime, now: datetime) -> int:
    return await privacy.purge(rt, now)


def jobs(dispatch_interval: float, *, dispatch: bool = True) -> list[Job]:
    """Without `dispatch` the process only consumes (and digests, purges); another replica sends."""
    return [
        *([Job("dispatch", 0, DispatchWhenDue(dispatch_interval))] if dispatch else []),
        Job("digest", 60, send_digests),
        Job("privacy-purge", 3600, purge),
    ]
