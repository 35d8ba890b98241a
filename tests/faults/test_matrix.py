"""The fault matrix against the whole running system: steady load, one fault, then the invariants.

Per case: the load runs a few seconds, the fault is done while it runs (and lasts as long as the case says), the load
goes on briefly after the fault is over and stops; then the drain barrier waits, with a deadline, for the system to
come to rest (notifications at the end of every topic, outboxes empty, no delivery open), and the invariants are
checked against everything the case's load set in motion. Time to recover runs from the end of the fault to rest
with every invariant holding. The row goes into the table whether the case passes or not.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from support.drain import drain, no_open_deliveries

from komerbij.notifications.app import build_spec

from .conftest import FULL, Systems
from .invariants import Outcome, check, window_start
from .load import Load
from .matrix import CASES, OUTAGE_SECONDS, Case

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WARM_UP_SECONDS = 4.0  # steady load before the fault
TAIL_SECONDS = 3.0  # load after it: what comes in once the fault is over must go through as well
RECOVERY_SECONDS = 240.0  # deadline for coming to rest; the longest retry wait is 30 s
CONSUMER_GROUP = "notifications"
CONSUMED = build_spec(CONSUMER_GROUP).events.topics  # type: ignore[union-attr]


def _param(case: Case) -> Any:
    marks = [] if case.subset_outage is not None else [pytest.mark.faults_full]
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
async def test_no_event_is_lost_or_applied_twice(case: Case, systems: Systems, report: list[dict[str, Any]]) -> None:
    outage = OUTAGE_SECONDS if FULL or case.subset_outage is None else case.subset_outage
    began = time.monotonic()
    system = await systems.ready()
    print(f"{case.name}: system ready after {time.monotonic() - began:.1f} s")
    label = f"{case.name}-{uuid.uuid4().hex[:4]}"
    window = await window_start(system, label, CONSUMED)
    load = Load(system, label)
    stop = asyncio.Event()
    running = asyncio.create_task(load.run(stop))
    try:
        await asyncio.sleep(WARM_UP_SECONDS)
        fault_began = time.monotonic()
        await case.run(system, window, outage)
        fault_over = time.monotonic()
        await asyncio.sleep(TAIL_SECONDS)
    finally:
        stop.set()
        await running

    print(f"{case.name}: load stopped; {load.summary()}")
    rest_error = None
    try:
        notifications = system.dsn["notifications"]
        await drain(system.kafka.bootstrap, groups={CONSUMER_GROUP: CONSUMED}, outboxes=list(system.dsn.values()),
                    also=[no_open_deliveries(notifications)], timeout=RECOVERY_SECONDS)
        at_rest: float | None = time.monotonic()
    except Exception as exc:  # not at rest in time (or a part unreachable): judged as it stands
        at_rest, rest_error = None, f"not at rest after {RECOVERY_SECONDS:.0f} s: {exc}"
        systems.broken = True
    print(f"{case.name}: at rest: {at_rest is not None} after {time.monotonic() - fault_over:.1f} s")
    try:
        outcome = await check(system, window, load, resend_explained=case.resend_explained)
    except Exception as exc:
        systems.broken = True
        outcome = Outcome(broken=[f"invariants could not be read: {exc!r}"])
    if rest_error:
        outcome.broken.insert(0, rest_error)
    lost, duplicated, resent = (sum(b.values()) for b in (outcome.lost, outcome.duplicated, outcome.resent))
    holds = not (lost or duplicated or outcome.broken)
    report.append({
        "case": case.name, "what": case.what, "fault_seconds": round(fault_over - fault_began, 1),
        "accepted": {kind: len(load.accepted(kind)) for kind in ("signup", "order", "activity", "mention")},
        "requests": load.summary(), "events": outcome.counts.get("events", 0), "by_type": outcome.by_type,
        "lost": lost, "duplicated": duplicated, "resent": resent,
        "holds": holds, "at_rest_after": round(at_rest - fault_over, 1) if at_rest is not None else None,
        "details": outcome.describe(),
    })
    assert holds, f"{case.name}: {outcome.describe()}"
