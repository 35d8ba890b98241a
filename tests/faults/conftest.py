"""The fault matrix's switches: which cases run, one system shared by the cases, the table they fill.

Plain `make test` runs the cases marked as the subset (see matrix.py); the others are marked `faults_full` and skipped
unless FAULTS_MATRIX=full, which `make faults` sets. The system is built once and shared; a case after which it did
not come back to rest (or a part of it is gone) gets a new one, so every case is judged on its own.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .report import table
from .system import System, launch

FULL = os.environ.get("FAULTS_MATRIX") == "full"
ROWS: list[dict[str, Any]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults_full: a fault-matrix case that only `make faults` runs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    skip = pytest.mark.skip(reason="the full fault matrix runs with `make faults` (FAULTS_MATRIX=full)")
    for item in items:
        if item.get_closest_marker("faults_full"):
            item.add_marker(skip)


class Systems:
    """The running system the cases share, rebuilt when a case left it broken."""

    def __init__(self) -> None:
        self.current: System | None = None
        self.broken = False

    def _healthy(self, system: System) -> bool:
        for svc in system.services.values():
            if svc.proc is None or svc.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{svc.url}/readyz", timeout=5).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
        return system.mailbox.up

    async def ready(self) -> System:
        if self.current is not None and (self.broken or not await asyncio.to_thread(self._healthy, self.current)):
            await asyncio.to_thread(self.close)
        if self.current is None:
            system = System()
            try:
                await launch(system.start)
                await system.prepare()
            except BaseException:
                await asyncio.to_thread(system.stop)
                raise
            self.current, self.broken = system, False
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current.remove()
            self.current = None


@pytest.fixture(scope="session")
def systems() -> Iterator[Systems]:
    holder = Systems()
    yield holder
    holder.close()


@pytest.fixture(scope="session")
def report() -> list[dict[str, Any]]:
    return ROWS


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("FAULTS_REPORT")
    if target and ROWS:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json.dumps(ROWS, indent=2, ensure_ascii=False))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ROWS and not os.environ.get("FAULTS_REPORT"):  # `make faults` prints it itself, with the run's particulars
        terminalreporter.write_sep("=", "fault matrix")
        terminalreporter.write_line(table(ROWS))
