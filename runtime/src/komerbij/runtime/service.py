"""How a komerbij service is put together: one `ServiceSpec` in, one FastAPI app out.

The lifespan starts, in order: the database pool and migrations, the dead-letter producer, the FastStream broker with
the service's event subscribers, the outbox relay, scheduled jobs and the metrics refresher; and stops them in reverse
on SIGTERM (uvicorn's signal handling ends the lifespan; FastStream waits for in-flight messages).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from komerbij.contracts import TOPICS, Event
from komerbij.runtime import db, logs
from komerbij.runtime.auth import TokenVerifier
from komerbij.runtime.bodylimit import BodyLimitMiddleware
from komerbij.runtime.consumer import BoundConsumer, EventRouter, RetryPolicy
from komerbij.runtime.http import JSONResponse, ObservabilityMiddleware, document_problems, install_problem_handlers
from komerbij.runtime.jobs import Clock, Job, Scheduler, SystemClock
from komerbij.runtime.kafka import make_broker, make_producer
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.outbound import OutboundPolicy
from komerbij.runtime.outbox import OutboxRelay, add_event, add_event_after, purge_sent
from komerbij.runtime.ratelimit import RateLimiter
from komerbij.runtime.settings import ServiceSettings, check_startup, load_settings
from komerbij.runtime.web.install import install as install_web

log = logging.getLogger(__name__)
Refresher = Callable[["Runtime"], Awaitable[None]]
Hook = Callable[["Runtime"], Awaitable[None]]


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    settings_class: type[ServiceSettings]
    migrations_package: str
    routers: list[APIRouter] = field(default_factory=list)
    events: EventRouter | None = None
    publishes: list[type[Event]] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    refreshers: list[Refresher] = field(default_factory=list)
    on_start: list[Hook] = field(default_factory=list)
    default_port: int = 8000


class UnitOfWork:
    """One use case, one transaction: state changes and their events (outbox rows) commit together.

    Built on asyncpg's own context managers (through an exit stack), so a task cancelled anywhere in here, even
    while acquiring, gives its connection back and the pool can close.
    """

    def __init__(self, pool: asyncpg.Pool, source: str) -> None:
        self._pool = pool
        self.source = source
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> UnitOfWork:
        async with AsyncExitStack() as stack:
            self.conn: asyncpg.Connection = await stack.enter_async_context(self._pool.acquire())
            await stack.enter_async_context(self.conn.transaction())
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)  # type: ignore[arg-type]

    async def emit(self, event: Event) -> str:
        return await add_event(self.conn, event, source=self.source)

    async def emit_after(self, change: str, args: Sequence[object], event: Event) -> str:
        """`change` and the event's outbox row in one statement (`outbox.add_event_after`)."""
        return await add_event_after(self.conn, change, args, event, source=self.source)


class Runtime:
    """What a running service has: settings, pool, metrics, broker. Routes reach it as `request.app.state.runtime`."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings, clock: Clock) -> None:
        self.spec = spec
        self.settings = settings
        self.clock = clock
        self.source = f"/komerbij/{spec.name}"
        self.metrics = Metrics(spec.name)
        self.verifier = TokenVerifier(
            secret=settings.jwt_secret, jwks_url=settings.jwt_jwks_url, issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        self.outbound = OutboundPolicy.from_settings(settings)  # every feed and webhook request goes through it
        self.broker: KafkaBroker = make_broker(
            settings.kafka_bootstrap_servers, service=spec.name, registry=self.metrics.registry
        )
        for cls in spec.publishes:  # declared for the AsyncAPI document; publishing goes through the outbox
            self.broker.publisher(cls.TOPIC, schema=cls, title=f"{cls.TOPIC}:{cls.__name__}")
        self.pool: asyncpg.Pool
        self.migrations = db.load_migrations("runtime", "komerbij.runtime.migrations") + db.load_migrations(
            spec.name, spec.migrations_package
        )
        self.migrated = False
        self.relay: OutboxRelay | None = None
        self.consumer: BoundConsumer | None = None
        self._dlq_producer: AIOKafkaProducer | None = None
        self._scheduler: Scheduler | None = None
        self._refresh_task: asyncio.Task[None] | None = None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.pool, self.source)

    async def start(self) -> None:
        s = self.settings
        self.pool = await db.create_pool(s.database_url, max_size=s.db_pool_max_size)
        self.metrics.watch_pool(self.pool)
        await db.migrate(self.pool, self.migrations)
        self.migrated = True
        for hook in self.spec.on_start:
            await hook(self)
        # aiokafka clients bind to the running loop, so they are made here and not in __init__
        self._dlq_producer = make_producer(s.kafka_bootstrap_servers, client_id=f"komerbij-{self.spec.name}-dlq")
        await self._dlq_producer.start()
        if self.spec.events is not None:
            self.consumer = self.spec.events.bind(
                self.broker, pool=self.pool, dead_letters=self._dlq_producer, metrics=self.metrics,
                policy=RetryPolicy(s.retry_max_attempts, s.retry_initial_backoff_seconds,
                                   s.retry_max_backoff_seconds),
                source=self.source, max_records=s.consumer_batch_max_records,
                time_budget=s.consumer_batch_time_budget_seconds,
            )
        await self.broker.start()
        self.relay = OutboxRelay(
            self.pool, dsn=s.database_url, bootstrap=s.kafka_bootstrap_servers, service=self.spec.name,
            metrics=self.metrics, batch_size=s.outbox_batch_size, poll_interval=s.outbox_poll_interval_seconds,
            max_attempts=s.outbox_max_attempts, retry_backoff=s.outbox_retry_backoff_seconds,
        )
        await self.relay.start()
        jobs = [*self.spec.jobs, Job("housekeeping", 3600, _housekeeping)]
        self._scheduler = Scheduler(self, jobs, self.clock)
        await self._scheduler.start()
        self._refresh_task = asyncio.create_task(self._refresh_metrics(), name="metrics-refresh")
        log.info("service started")

    async def stop(self) -> None:
        # Stop taking new messages first (in-flight ones finish and commit), then the background work.
        await self.broker.stop()
        if self._refresh_task:
            self._refresh_task.cancel()
            await asyncio.gather(self._refresh_task, return_exceptions=True)
        if self._scheduler:
            await self._scheduler.stop()
        if self.relay:
            await self.relay.stop()
        if self._dlq_producer:
            await self._dlq_producer.stop()
        await self.pool.close()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1")
            checks["postgres"] = "ok"
        except Exception as exc:
            checks["postgres"] = f"error: {type(exc).__name__}"
        checks["migrations"] = "ok" if self.migrated else "pending"
        checks["kafka"] = "ok" if await self.broker.ping(timeout=2) else "error: unreachable"
        if self.consumer is not None:  # its events wait while it cannot reach PostgreSQL
            checks["consumer"] = "waiting for database" if self.consumer.waiting_for_database else "ok"
        self.metrics.ready.set(1 if all(v == "ok" for v in checks.values()) else 0)
        return checks

    async def _refresh_metrics(self) -> None:
        while True:
            for refresh in [_readiness, _consumer_lag, *self.spec.refreshers]:
                try:
                    await refresh(self)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("metrics refresh failed", exc_info=True)
            await asyncio.sleep(self.settings.metrics_refresh_seconds)


async def _readiness(rt: Runtime) -> None:
    await rt.readiness()  # keeps komerbij_service_ready current between probes


async def _consumer_lag(rt: Runtime) -> None:
    for subscriber in rt.broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None:
            continue
        group = getattr(subscriber, "group_id", "") or ""
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            committed = await consumer.committed(tp)
            if highwater is None:
                continue
            rt.metrics.consumer_lag.labels(group, tp.topic, str(tp.partition)).set(
                max(highwater - (committed or 0), 0)
            )


# An inbox record must outlive every copy of its event that Kafka could still deliver (e.g. after an offset reset).
INBOX_RETENTION = timedelta(milliseconds=max(t.retention_ms for t in TOPICS.values() if t.consumed)) + timedelta(days=1)


async def _housekeeping(rt: Runtime, now: datetime) -> None:
    """Sent outbox rows are history (with personal data, for some topics); old inbox records can never match again."""
    async with rt.pool.acquire() as conn:
        await purge_sent(conn, now - timedelta(days=7))
        await conn.execute("DELETE FROM inbox WHERE processed_at < $1", now - INBOX_RETENTION)


def create_app(spec: ServiceSpec, settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load_settings(spec.settings_class)
    check_startup(settings)
    logs.configure_logging(spec.name, settings.log_level)
    runtime = Runtime(spec, settings, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # FastAPI's native OpenTelemetry off: ops watch Prometheus (/metrics), and its per-request look-ups were up to 5 %
    # of a sign-up's profile (BENCHMARKS.md).
    app = FastAPI(title=spec.title, description=spec.description, version="1.0.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})
    app.state.runtime = runtime
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    install_problem_handlers(app)
    document_problems(app)
    install_web(app, settings)  # pages: session cookie, /static, /login and /logout, Dutch error pages
    # Outermost last: the real client address first, then the correlation id, then the body limit (it holds for
    # whoever reads the body, FastAPI's parsing before the token check included).
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes)
    app.add_middleware(ObservabilityMiddleware, metrics=runtime.metrics)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=[str(n) for n in settings.proxy_networks])

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    @app.get("/readyz", tags=["ops"], summary="Kafka and PostgreSQL reachable, migrations applied")
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi", tags=["ops"], summary="AsyncAPI 3.0 document of this service's topics")
    async def asyncapi(request: Request) -> JSONResponse:
        doc = AsyncAPI(runtime.broker, title=f"komerbij {spec.name}", version="1.0.0",
                       description=spec.description)
        return JSONResponse(doc.to_specification().to_jsonable())

    for router in spec.routers:
        app.include_router(router)
    return app


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


async def migrate_only(spec: ServiceSpec, settings: ServiceSettings) -> list[str]:
    """Apply the runtime's and the service's migrations and stop: the step a deployment runs before a new version
    serves (Kubernetes: the Deployment's init container). Same lock and same files as at service start."""
    migrations = db.load_migrations("runtime", "komerbij.runtime.migrations") + db.load_migrations(
        spec.name, spec.migrations_package
    )
    pool = await db.create_pool(settings.database_url, max_size=1)
    try:
        return await db.migrate(pool, migrations)
    finally:
        await pool.close()


def serve(spec: ServiceSpec) -> None:
    """`python -m komerbij.<service>`: run the service with uvicorn on $PORT (default: the service's port);
    `python -m komerbij.<service> migrate`: only apply its database migrations, then exit."""
    import os
    import sys

    settings = load_settings(spec.settings_class)
    if sys.argv[1:] == ["migrate"]:
        logs.configure_logging(spec.name, settings.log_level)
        applied = asyncio.run(migrate_only(spec, settings))
        log.info("migrations done", extra={"applied": len(applied)})
        return
    if sys.argv[1:]:
        print(f"usage: python -m komerbij.{spec.name} [migrate]", file=sys.stderr)
        raise SystemExit(2)
    app = create_app(spec, settings)
    port = int(os.environ.get("PORT", spec.default_port))
    host = os.environ.get("HOST", "127.0.0.1")
    # proxy_headers=False: the app's own ProxyHeadersMiddleware trusts TRUSTED_PROXIES only (uvicorn's default
    # would trust X-Forwarded-For from 127.0.0.1). uvloop and httptools: the event loop and HTTP parser in C that
    # production uvicorn runs on (`uvicorn[standard]`); the bare baseline app went from 1.19 to ~0.75 ms CPU per
    # request with them.
    # One process per replica (see README "Processes"): Kubernetes adds replicas per core, each with its own relay,
    # consumer and jobs, instead of a process manager inside the container.
    uvicorn.run(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=30, proxy_headers=False,
                loop="uvloop", http="httptools")
