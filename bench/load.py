"""Load generators: a closed loop (N clients, each sends its next request when the last one answered) and an open loop
(requests start at a fixed rate whether or not earlier ones finished). Both stop by themselves: at a request count
and at a deadline, whichever comes first."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.rawhttp import RawClient

# One request: given its index, send it and return the HTTP status and the JSON answer (or None).
Request = Callable[[int], Awaitable[tuple[int, Any]]]


@dataclass
class Outcome:
    index: int
    status: int  # 0: transport error or timeout
    started: float  # time.monotonic() when the request was sent (one clock for the whole machine)
    finished: float
    scheduled: float | None = None  # open loop: when it should have started
    body: Any = None
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.finished - self.started


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    stopped_by_deadline: bool = False
    connections: int = 0

    def ok(self, status: int | tuple[int, ...] = (200, 201)) -> list[Outcome]:
        wanted = (status,) if isinstance(status, int) else status
        return [o for o in self.outcomes if o.status in wanted]

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            key = str(o.status) if o.status else (o.error or "error")
            counts[key] = counts.get(key, 0) + 1
        return counts


# All traffic is plain HTTP to 127.0.0.1; still, every httpx client builds an SSL context unless given one, and
# loading the CA bundle costs ~40 ms of CPU per client: 256 clients made on the fly stalled the open loop for 10 s.
SSL_CONTEXT = ssl.create_default_context()


# Which HTTP client the generator uses (`--client`): "raw" (bench.rawhttp, ~10x less client CPU per request) or
# "httpx" (the client of the recorded runs before issue 19). Both speak HTTP/1.1 over one keep-alive connection per
# client to service and baseline alike.
CLIENTS = ("raw", "httpx")
client_kind = "raw"


def use_client(kind: str) -> None:
    global client_kind
    if kind not in CLIENTS:
        raise ValueError(f"client {kind!r}: one of {CLIENTS}")
    client_kind = kind


def http_client(connections: int, timeout: float = 30.0, base_url: str | None = None) -> Any:
    """A client of `connections` keep-alive connections (the generator always asks for one: see `closed_loop`):
    an `httpx.AsyncClient`, or a `RawClient` with the same `post`/`get`/`aclose` surface."""
    if client_kind == "raw" and connections == 1:
        return RawClient(base_url, timeout=timeout)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=timeout, verify=SSL_CONTEXT,
                             **({"base_url": base_url} if base_url else {}))


async def _timed(index: int, request: Request, scheduled: float | None = None) -> Outcome:
    started = time.monotonic()
    try:
        status, body = await request(index)
        return Outcome(index, status, started, time.monotonic(), scheduled, body)
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        return Outcome(index, 0, started, time.monotonic(), scheduled, error=type(exc).__name__)


# A client-bound request: which client (connection) to use, and the request's index.
ClientRequest = Callable[[httpx.AsyncClient, int], Awaitable[tuple[int, Any]]]


async def closed_loop(request: ClientRequest, *, total: int, concurrency: int, max_seconds: float) -> Run:
    """`concurrency` clients share one counter up to `total`; no request starts after `max_seconds`.

    Each client is an `httpx.AsyncClient` whose pool holds one keep-alive connection. One shared pool of 64
    connections cost this process ~10 ms of CPU per request (httpcore walks its pool on every request), measured on
    the 2-core machine: the client, not the server, set the pace, for the baseline and the service alike."""
    run = Run()
    counter = iter(range(total))
    clients = [http_client(1) for _ in range(concurrency)]
    start = time.monotonic()
    deadline = start + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        for index in counter:
            if time.monotonic() >= deadline:
                run.stopped_by_deadline = True
                return
            run.outcomes.append(await _timed(index, lambda i: request(client, i)))

    try:
        await asyncio.gather(*(worker(c) for c in clients))
        run.wall_seconds = time.monotonic() - start
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return run


async def open_loop(request: ClientRequest, *, rate: float, seconds: float, max_in_flight: int,
                    on_done: Callable[[Outcome], None] | None = None) -> Run:
    """Request i is due at start + i/rate. A request that cannot start because `max_in_flight` are still open is
    skipped and counted (status 0, error "skipped: overloaded") instead of queued, so a slow server shows up as lost
    requests rather than as a silently lower rate. Latency is measured from the actual send.

    Connections: a free list of single-connection clients, grown on demand up to `max_in_flight` (see
    `closed_loop` for why not one shared pool)."""
    run = Run()
    total = int(rate * seconds)
    in_flight: set[asyncio.Task[None]] = set()
    idle: list[httpx.AsyncClient] = []
    every: list[httpx.AsyncClient] = []
    start = time.monotonic()

    async def one(client: httpx.AsyncClient, index: int, scheduled: float) -> None:
        try:
            outcome = await _timed(index, lambda i: request(client, i), scheduled)
        finally:
            idle.append(client)
        run.outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)

    try:
        for index in range(total):
            due = start + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(in_flight) >= max_in_flight:
                now = time.monotonic()
                run.outcomes.append(Outcome(index, 0, now, now, due, error="skipped: overloaded"))
                continue
            if not idle:
                every.append(http_client(1))
                idle.append(every[-1])
            task = asyncio.create_task(one(idle.pop(), index, due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight, timeout=60)
        run.wall_seconds = time.monotonic() - start
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*(c.aclose() for c in every), return_exceptions=True)
    run.connections = len(every)
    return run
