"""The fault matrix: each case is one fault done to the running system under load, and how long it lasts.

`subset` cases also run in `make test` (with the shorter outage given there, so the suite stays quick); `make faults`
runs every case with the issue's durations. `resend_explained` says whether the fault can cut notifications off from
the outcome of a send it had started (the process killed, its database or the SMTP server gone mid-conversation, a
webhook answered after the sender stopped waiting): then a second copy with the same Message-ID / webhook-id is a
counted resend. In every other case a second copy is a duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .invariants import Window
from .poison import KINDS, inject
from .system import SERVICES, System, launch

OUTAGE_SECONDS = 30.0  # the duration of every outage
RESTART_SECONDS = 10.0  # PostgreSQL down between its crash and its start: a restart, not an outage


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    run: Callable[[System, Window, float], Awaitable[None]]  # does the fault; returns when it is over
    resend_explained: bool = False
    subset_outage: float | None = None  # in make test, with this outage (None: only in make faults)


def _kafka_sigkill() -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        await launch(system.restart_kafka)

    return Case("kafka-sigkill", "Kafka broker SIGKILLed and restarted (same port, same data)", run)


def _service_sigkill(name: str, subset: float | None = None) -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        svc = system.services[name]
        await asyncio.to_thread(svc.kill)
        await asyncio.to_thread(svc.start, timeout=120)

    return Case(f"sigkill-{name}", f"{name} SIGKILLed under load and started again", run,
                resend_explained=name == "notifications", subset_outage=subset)


def _service_sigterm(name: str) -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        svc = system.services[name]
        await asyncio.to_thread(svc.terminate, 60)
        await asyncio.to_thread(svc.start, timeout=120)

    return Case(f"sigterm-{name}", f"{name} SIGTERMed under load (graceful stop) and started again", run)


def _database_refusing(name: str, subset: float | None = None) -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        async with system.database_refusing(name):
            await asyncio.sleep(outage)

    return Case(f"db-refuses-{name}", f"{name}'s database cuts its sessions and refuses connections", run,
                resend_explained=name == "notifications", subset_outage=subset)


def _postgres_restart() -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        await launch(system.crash_postgres)
        await asyncio.sleep(min(outage, RESTART_SECONDS))
        await launch(system.pg.start)

    return Case("postgres-restart", f"PostgreSQL (all four databases) crashes (immediate shutdown), is down "
                f"{RESTART_SECONDS:.0f} s and recovers", run, resend_explained=True)


def _smtp_down(subset: float | None = None) -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        await asyncio.to_thread(system.mailbox.stop)
        try:
            await asyncio.sleep(outage)
        finally:
            await asyncio.to_thread(system.mailbox.start)

    return Case("smtp-down", "SMTP server gone (sessions dropped, connections refused), then back", run,
                resend_explained=True, subset_outage=subset)


def _webhook_trouble() -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        receiver = system.receiver
        try:
            receiver.mode = "fail"
            await asyncio.sleep(outage)
            receiver.mode = "slow"
            await asyncio.sleep(outage)
        finally:
            receiver.mode = "ok"

    return Case("webhook-500-slow-ok", "webhook receiver answers 500, then slower than the sender waits, then fine",
                run, resend_explained=True)


def _poison(kind: str, subset: float | None = None) -> Case:
    async def run(system: System, window: Window, outage: float) -> None:
        window.poison += await inject(system.kafka.bootstrap, window.label, kind, window.consumed)

    return Case(f"poison-{kind}", f"a record with a {kind.replace('-', ' ')} on each consumed topic", run,
                subset_outage=subset)


CASES: list[Case] = [
    # make test keeps the two headline faults (a shorter outage); the process and SMTP faults it leaves to
    # make faults have their own tests in make test (tests/notifications/test_crash.py, test_dispatch_stop.py, the
    # deferral tests in test_delivery.py).
    _database_refusing("notifications", subset=10.0),
    _service_sigkill("notifications"),
    _poison("null-header", subset=0.0),
    _smtp_down(),
    _kafka_sigkill(),
    *(_service_sigkill(n) for n in SERVICES if n != "notifications"),
    *(_service_sigterm(n) for n in SERVICES),
    *(_database_refusing(n) for n in SERVICES if n != "notifications"),
    _postgres_restart(),
    _webhook_trouble(),
    *(_poison(k) for k in KINDS if k != "null-header"),
]
