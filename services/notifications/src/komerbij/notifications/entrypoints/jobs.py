"""Scheduled work: the dispatcher, the daily digest, the privacy purge; and the delivery metrics."""

from __future__ import annotations

import asyncio
import logging
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

log = logging.getLogger(__name__)
STOP_RECORDING_SECONDS = 5.0  # beyond the send timeouts, for a stopping round to record what it sent
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


async def dispatch(rt: Runtime, now: datetime, stopping: asyncio.Event | None = None) -> int:
    """Rounds while there is more to do (with a fresh `now` each): a full round means more is waiting, and a
    finished mail may have been what a person's next mail waited for (a round takes a mailbox's first open mail).
    A round of retries only is the last: they wait for their time. Once `stopping` is set, no further round."""
    counter = _counter(rt)
    d = dispatcher(rt)
    total = 0
    while True:
        outcomes = await dispatch_due(d, now, stopping)
        for outcome in outcomes:
            counter.labels(outcome.channel, outcome.status).inc()
        total += len(outcomes)
        finished = any(o.status != "retrying" for o in outcomes)
        if (not finished and len(outcomes) < d.settings.dispatch_batch_size) or (stopping and stopping.is_set()):
            return total
        now = rt.clock.now()


class DispatchWhenDue:
    """The `dispatch` job: a round as soon as a delivery is recorded, else every `interval` seconds.

    The scheduler runs a job, then sleeps its interval; this job does its own waiting (so it is scheduled with
    interval 0): until the `deliveries` notification or the interval, whichever comes first, then `dispatch`.
    Polling stays because retries fall due later without any notification, and to cover a lost LISTEN connection.

    The scheduler cancels the job when the service stops (SIGTERM). A round is not cancelled mid-way (mails the relay
    took would go unrecorded and be sent again after the restart): it is told to start no further send, and given
    until the sends in flight end (their timeouts bound them) and it has recorded them. Should even that not
    happen in time, it is cancelled after all and the lease brings its rows back.
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
            stopping = asyncio.Event()
            rounds = asyncio.create_task(dispatch(rt, rt.clock.now(), stopping), name="dispatch-rounds")
            try:
                return await asyncio.shield(rounds)
            except asyncio.CancelledError:
                stopping.set()
                await _let_finish(rounds, stop_grace(settings_of(rt)))
                raise
        except asyncio.CancelledError:
            # The scheduler cancels its jobs only when the service stops: the LISTEN connection goes with it.
            await wakeup.close()
            raise


def stop_grace(s: Settings) -> float:
    """How long a stopping service waits for its dispatch round: its sends in flight end within their timeouts
    (none is started once it stops), and recording takes a moment more."""
    return max(s.smtp_timeout_seconds, s.webhook_timeout_seconds) + STOP_RECORDING_SECONDS


async def _let_finish(rounds: asyncio.Task[int], grace: float) -> None:
    done, _ = await asyncio.wait({rounds}, timeout=grace)
    if not done:
        log.warning("dispatch round still busy %gs after the stop; cancelled, its lease brings its rows back", grace)
        rounds.cancel()
    await asyncio.gather(rounds, return_exceptions=True)


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
