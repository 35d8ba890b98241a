"""Running services in tests: in-process (ASGI, lifespan included) or as real processes (for SIGTERM/SIGKILL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from komerbij.devtools.processes import free_port, stop_process
from komerbij.runtime.auth import issue_token
from komerbij.runtime.service import Runtime, ServiceSpec, create_app

JWT_SECRET = "test-secret-for-komerbij-tests-only-0123456789"
CANCEL_LINK_SECRET = "test-cancel-link-secret-for-komerbij-tests-only"


def settings_env(infra: Any, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "JWT_SECRET": JWT_SECRET,
        "CANCEL_LINK_SECRET": CANCEL_LINK_SECRET,
        "RETRY_INITIAL_BACKOFF_SECONDS": "0.05",
        "RETRY_MAX_BACKOFF_SECONDS": "0.2",
        "RETRY_MAX_ATTEMPTS": "3",
        "OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
        "METRICS_REFRESH_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        # The tests' feed servers and webhook receivers listen on this machine; every other private or
        # reserved address stays refused, as in production.
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
        # notifications' own key (outside development it is required and must differ from JWT_SECRET)
        "UNSUBSCRIBE_SECRET": "unsubscribe-key-for-komerbij-tests-only",
    }
    env.update(extra)
    return env


def token(role: str, *, municipality: str | None = None, partner: str | None = None, subject: str | None = None,
          ttl: int = 3600) -> str:
    return issue_token(JWT_SECRET, role=role, municipality=municipality, partner=partner, subject=subject,
                       ttl_seconds=ttl)


def auth(role: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, **kwargs)}"}


@dataclass
class RunningService:
    client: httpx.AsyncClient
    runtime: Runtime


@asynccontextmanager
async def running(spec: ServiceSpec, env: Mapping[str, str], **app_kwargs: Any) -> AsyncIterator[RunningService]:
    """The service's app with its whole lifespan (broker, relay, jobs), reached through an in-process client."""
    settings = spec.settings_class(**{k.lower(): v for k, v in env.items()})
    app = create_app(spec, settings, **app_kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningService(client, app.state.runtime)


class ServiceProcess:
    """A service as a real OS process, for the guarantees that hinge on signals."""

    def __init__(self, module: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.module = module
        self.port = free_port()
        self.env = {**os.environ, **env, "PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        self.log_path = log_dir / f"{module.replace('.', '_')}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", self.module], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.module} not ready: {self.log_path.read_text()[-3000:]}")

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        stop_process(self.proc, sig=signal.SIGTERM, timeout=timeout)
        return self.proc.returncode

    def kill(self) -> None:
        assert self.proc is not None
        stop_process(self.proc, sig=signal.SIGKILL, timeout=10)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


async def eventually(check: Any, *, timeout: float = 30, interval: float = 0.2, what: str | None = None) -> Any:
    """Poll an async check until it returns something truthy; `what` names the condition in the failure."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    name = what or getattr(check, "__name__", "condition").replace("_", " ")
    raise AssertionError(f"{name}: not met within {timeout}s (last: {last!r})")
