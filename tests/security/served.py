"""A service app behind a real uvicorn server in a thread: real HTTP on a free port, and the app object at hand
(to give its runtime a resolver of the test's own, so nothing it is asked to fetch is ever looked up in DNS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from komerbij.devtools.processes import free_port
from komerbij.runtime.outbound import OutboundPolicy
from komerbij.runtime.service import Runtime, ServiceSpec, create_app


@dataclass
class Served:
    url: str
    app: FastAPI

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime


@contextmanager
def served(spec: ServiceSpec, env: Mapping[str, str], *, outbound: OutboundPolicy | None = None,
           **app_kwargs: Any) -> Iterator[Served]:
    """`outbound` replaces the runtime's policy before anything (a job, a route) can use it."""
    settings = spec.settings_class(**{k.lower(): v for k, v in env.items()})
    app = create_app(spec, settings, **app_kwargs)
    if outbound is not None:
        app.state.runtime.outbound = outbound
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, proxy_headers=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{spec.name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{spec.name} did not start within 60 s on port {port}")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(60)
        if thread.is_alive():
            raise RuntimeError(f"{spec.name} did not stop within 60 s")
