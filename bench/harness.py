"""The benchmarks' infrastructure: the tests' own Kafka + PostgreSQL and real service processes, reused, not copied.

`tests/support` starts the infrastructure exactly as `make test` does (free ports, a temporary folder of its own), so a
running `make run` is never touched. Services run as real uvicorn processes (`ServiceProcess`), which is what a client
meets in production, and what py-spy and psutil can observe from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from support.infra import Infra, start_infra
from support.services import ServiceProcess, settings_env

from komerbij.runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# settings_env() is tuned for tests (metrics every second, short retries); a benchmark measures the defaults.
PRODUCTION_DEFAULTS = {
    name.upper(): str(ServiceSettings.model_fields[name].default)
    for name in ("metrics_refresh_seconds", "outbox_poll_interval_seconds", "retry_initial_backoff_seconds",
                 "retry_max_backoff_seconds", "retry_max_attempts", "log_level")
}


@contextlib.contextmanager
def infrastructure() -> Iterator[Infra]:
    """Always our own broker and database: inherited KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL (e.g. of `make run`) would
    make `start_infra` use those, and a benchmark must never load someone else's system."""
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
        os.environ.pop(name, None)
    with start_infra() as infra:
        yield infra


def service_env(infra: Infra, database_url: str, **extra: str) -> dict[str, str]:
    env = settings_env(infra, database_url, **PRODUCTION_DEFAULTS)
    env.update(extra)
    # bench.baseline_app runs as `python -m`, so the repository root must be importable in the child too.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


@dataclass
class Sampler:
    """Samples a process's RSS and CPU time from outside (psutil) every `interval` seconds, in a thread, so the
    numbers do not depend on the sampled process's event loop."""

    pid: int
    interval: float = 0.2
    peak_rss: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.proc = psutil.Process(self.pid)

    def cpu_seconds(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss
            except psutil.Error:
                return
            self.peak_rss = max(self.peak_rss, rss)
            self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.interval)

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name=f"rss-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)


@contextlib.contextmanager
def service(module: str, env: Mapping[str, str], log_dir: Path, *, keep_log: bool = True) -> Iterator[ServiceProcess]:
    """A service as a real process; stopped with SIGTERM (as in production) whatever happens."""
    proc = ServiceProcess(module, env, log_dir)
    try:
        proc.start(timeout=90)
        yield proc
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.terminate(timeout=40)
        if keep_log and proc.log_path.exists():
            RESULTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(proc.log_path, RESULTS / f"last-{proc.log_path.name}")


@dataclass
class Profiler:
    """py-spy attached to a process for a bounded time; raw collapsed stacks go to bench/results/ (git-ignored)."""

    pid: int
    name: str
    seconds: float
    rate: int = 100
    path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Profiler:
        py_spy = Path(sys.executable).with_name("py-spy")
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.path = RESULTS / f"{time.strftime('%Y%m%dT%H%M%S')}-{self.name}.folded"
        # --nonblocking: the profiled process is never paused, so the profile costs it (almost) nothing.
        self.proc = subprocess.Popen(
            [str(py_spy), "record", "--pid", str(self.pid), "--duration", str(int(self.seconds)), "--rate",
             str(self.rate), "--format", "raw", "--nonblocking", "--output", str(self.path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        return self

    async def finish(self) -> Path | None:
        """Wait for the recording to end on its own (its duration bounds it); a hung py-spy is killed."""
        assert self.proc is not None
        deadline = time.monotonic() + self.seconds + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self.path if self.path and self.path.exists() else None


def database_cpu_seconds(database: str) -> float:
    """CPU time of the PostgreSQL backends serving `database` (their title is `postgres: USER DATABASE HOST ...`).

    Backends live as long as the pool's connections, so a difference over a measured phase is that phase's database
    CPU; the shared background processes (WAL writer, checkpointer) are not counted."""
    total = 0.0
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            title = " ".join(p.info["cmdline"] or [])
            if title.startswith("postgres: ") and f" {database} " in title:
                t = p.cpu_times()
                total += t.user + t.system
    return total


def other_load() -> dict[str, Any]:
    """What else is running on the machine (busy processes outside this benchmark), for the record."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(["pid", "name", "cmdline"]) if p.pid not in mine]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(1.0)
    busy = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            cpu = p.cpu_percent(None)
            if cpu >= 5:
                cmd = " ".join(p.info["cmdline"] or [p.info["name"] or "?"])
                busy.append({"pid": p.pid, "cpu_percent": round(cpu, 1), "cmd": cmd[:120]})
    return {"loadavg": [round(x, 2) for x in os.getloadavg()],
            "busy_processes": sorted(busy, key=lambda b: -b["cpu_percent"])[:10]}
