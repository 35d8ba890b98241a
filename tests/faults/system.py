"""The whole system as it runs in production, on this machine, with every part one a fault can be done to.

A Kafka broker of its own (SIGKILLed and restarted on the same port and data dir), a PostgreSQL server of its own
(one database per service, restartable, a database can be made to refuse connections), the four services as real
processes (`python -m komerbij.<service>`, SIGKILLed or SIGTERMed and started again on the same port), an SMTP
server and a webhook receiver. A municipality partner (Amsterdam) follows published activities, mentions and
sign-ups by webhook and by e-mail, so notifications has real work for every kind of load.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from support.services import JWT_SECRET, ServiceProcess, auth

from komerbij.devtools.kafka import KafkaServer
from komerbij.devtools.postgres import PostgresServer, ensure_database
from komerbij.devtools.processes import free_port, stop_process
from komerbij.runtime.kafka import ensure_topics

from .ends import Mailbox, Receiver

SERVICES = ("registration", "materials", "media", "notifications")
MUNICIPALITY = "GM0363"  # Amsterdam: where the load's activities and mentions are, and whose partner follows them
PARTNER_CONTACT = "meldingen@amsterdam.faults.example"
ADMIN_EMAIL = "voorraad@programmateam.faults.example"
CANCEL_LINK_SECRET = "faults-cancel-link-secret-not-for-production"
STOCK = 1_000_000  # per SKU: the load never runs out, so no order is refused for stock (quota refusals do happen)

# Production's retry schedules are minutes to hours; these keep their shape at a test's scale (docs/RELIABILITY.md).
# The mail schedule is over in 7 s, well within the SMTP outage: a relay that takes no mail at all must not use up a
# mail's tries, however long it is away. The webhook schedule outlasts the minute of the webhook case, as production's
# (28 h) outlasts an endpoint's ordinary trouble.
NOTIFICATIONS_ENV = {
    "MAIL_RETRY_SCHEDULE": "1s,2s,4s",
    "WEBHOOK_RETRY_SCHEDULE": "1s,2s,4s,8s,15s,30s,30s",
    "RETRY_JITTER": "0.1",
    "WEBHOOK_DISABLE_AFTER": "30m",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "SMTP_TIMEOUT_SECONDS": "5",
    "DELIVERY_LEASE_SECONDS": "20",
    "DISPATCH_INTERVAL_SECONDS": "0.5",
    "DIGEST_TIME": "23:59",
    "UNSUBSCRIBE_SECRET": "faults-unsubscribe-secret",
    "PUBLIC_BASE_URL": "http://notifications.faults.test",
    "ADMIN_EMAILS": ADMIN_EMAIL,
}


# PostgreSQL and Kafka are started with a parent-death signal, which Linux ties to the *thread* that started them: a
# process started from a short-lived thread (asyncio.to_thread's, whose pool goes with each test's event loop) would
# be stopped with it. These threads live as long as the test run.
LAUNCHER = ThreadPoolExecutor(2, thread_name_prefix="faults-launcher")


async def launch(fn: Callable[[], None]) -> None:
    """Run `fn` (which may start PostgreSQL or Kafka) on a launcher thread, without blocking the event loop."""
    await asyncio.wrap_future(LAUNCHER.submit(fn))


def _secret(name: str) -> str:
    return "whsec_" + base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()


@dataclass
class World:
    """What the load needs to exist before it starts: published activities to sign up to, an outlet, the partner."""

    activities: list[str] = field(default_factory=list)
    outlet: str = ""
    partner: str = ""


class System:
    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="komerbij-faults-"))
        self.workdir.chmod(0o755)  # the postgres user reaches its data dir below
        self.logs = self.workdir / "logs"
        self.logs.mkdir()
        self.pg = PostgresServer(self.workdir / "pg", port=free_port(), fast=True)
        self.kafka = KafkaServer(self.workdir / "kafka", port=free_port(), controller_port=free_port())
        self.dsn = {name: self.pg.dsn(f"faults_{name}") for name in SERVICES}
        self.mailbox = Mailbox()
        self.receiver = Receiver(_secret("faults-partner"))
        self.services: dict[str, ServiceProcess] = {}
        self.world = World()

    # -- life cycle ---------------------------------------------------------------------------------------------------

    def start(self) -> System:
        """Blocking; call it on a launcher thread (`launch`)."""
        kafka = LAUNCHER.submit(self.kafka.start)  # the JVM starts slowly; PostgreSQL meanwhile
        self.pg.start()
        for name in SERVICES:
            asyncio.run(ensure_database(self.pg.dsn(), f"faults_{name}"))
        kafka.result()
        asyncio.run(ensure_topics(self.kafka.bootstrap))
        self.mailbox.start()
        self.receiver.start()
        for name in SERVICES:
            self.services[name] = ServiceProcess(f"komerbij.{name}", self._env(name), self.logs)
        for svc in self.services.values():
            svc.env["PUBLIC_BASE_URL"] = svc.env.get("PUBLIC_BASE_URL") or svc.url
        self._start_all()
        return self

    def _env(self, name: str) -> dict[str, str]:
        env = {
            "DATABASE_URL": self.dsn[name],
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            "JWT_SECRET": JWT_SECRET,
            "CANCEL_LINK_SECRET": CANCEL_LINK_SECRET,
            "OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
            "METRICS_REFRESH_SECONDS": "5",
            "LOAD_DEMO_DATA": "false",
            "LOG_LEVEL": "INFO",
            "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",  # the webhook receiver is on this machine
        }
        if name == "notifications":
            env.update(NOTIFICATIONS_ENV, SMTP_HOST="127.0.0.1", SMTP_PORT=str(self.mailbox.port))
        return env

    def _start_all(self) -> None:
        with ThreadPoolExecutor(len(self.services)) as pool:
            for started in [pool.submit(svc.start, timeout=180) for svc in self.services.values()]:
                started.result()

    def stop(self) -> None:
        for svc in self.services.values():
            if svc.proc is not None and svc.proc.poll() is None:
                svc.kill()  # nothing to prove about this last stop
        self.receiver.stop()
        self.mailbox.stop()
        self.kafka.stop()
        self.pg.stop()

    def remove(self) -> None:
        if os.environ.get("FAULTS_KEEP_WORKDIR"):
            return
        shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, name: str) -> str:
        return self.services[name].url

    # -- the world the load runs in -----------------------------------------------------------------------------------

    async def prepare(self) -> World:
        async with httpx.AsyncClient(timeout=30) as client:
            for sku in ("POSTER-A3", "POSTER-A2", "VLOERSTICKER", "PLACEMAT", "ANSICHTKAART"):
                r = await client.post(f"{self.url('materials')}/v1/catalog/{sku}/stock", headers=auth("admin"),
                                      json={"delta": STOCK, "reason": "beginvoorraad (faults)"})
                assert r.status_code == 201, r.text
            r = await client.post(f"{self.url('media')}/v1/outlets", headers=auth("comms"),
                                  json={"name": "Het Parool (faults)", "medium": "print", "scope": "regional"})
            assert r.status_code == 201, r.text
            self.world.outlet = r.json()["id"]
            self.world.partner = await self._partner(client)
            for n in range(4):
                self.world.activities.append(await self._published_activity(client, f"Basis {n}"))
        return self.world

    async def _partner(self, client: httpx.AsyncClient) -> str:
        base, headers = self.url("notifications"), auth("admin")
        r = await client.post(f"{base}/v1/partners", headers=headers,
                              json={"name": "Gemeente Amsterdam", "kind": "municipality", "municipality": MUNICIPALITY})
        assert r.status_code == 201, r.text
        partner = r.json()["id"]
        for path, body in (
            ("contacts", {"name": "Team Meedoen", "email": PARTNER_CONTACT}),
            ("webhooks", {"url": self.receiver.url, "secret": self.receiver.secret}),
            ("subscriptions", {"event_types": ["ActivityPublished", "MentionRecorded", "SignupConfirmed"],
                               "municipalities": [MUNICIPALITY], "mode": "immediate"}),
        ):
            r = await client.post(f"{base}/v1/partners/{partner}/{path}", headers=headers, json=body)
            assert r.status_code == 201, r.text
        return partner

    async def _published_activity(self, client: httpx.AsyncClient, title: str) -> str:
        r = await client.post(f"{self.url('registration')}/v1/activities", headers=ORGANISER,
                              json=activity_body(title))
        assert r.status_code == 201, r.text
        activity = r.json()["id"]
        r = await client.post(f"{self.url('registration')}/v1/activities/{activity}/publish", headers=MODERATOR)
        assert r.status_code == 200, r.text
        return activity

    # -- faults -------------------------------------------------------------------------------------------------------

    def restart_kafka(self, *, kill: bool = True) -> None:
        if kill:
            self.kafka.kill()
        else:
            self.kafka.stop()
        self.kafka.start()

    def crash_postgres(self) -> None:
        """Immediate shutdown (SIGQUIT to every PostgreSQL process): sessions die mid-transaction, no checkpoint; the
        next start recovers from the WAL, as after a crash."""
        assert self.pg.proc is not None
        stop_process(self.pg.proc, sig=signal.SIGQUIT, timeout=30)
        self.pg.proc = None

    @asynccontextmanager
    async def database_refusing(self, name: str) -> AsyncIterator[None]:
        """What a failover looks like to a service: its sessions are cut and new ones refused until it is over."""
        database = f"faults_{name}"
        admin = await asyncpg.connect(self.pg.dsn())
        try:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)
            try:
                yield
            finally:
                await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        finally:
            await admin.close()


ORGANISER = auth("organiser", municipality=MUNICIPALITY, subject="faults-organiser-amsterdam")
MODERATOR = auth("moderator", subject="faults-moderator")


def activity_body(title: str) -> dict[str, object]:
    street = int.from_bytes(hashlib.sha256(title.encode()).digest()[:2], "big") % 900 + 100
    return {
        "title": f"{title} in Amsterdam", "description": "Samen koffie drinken en elkaar leren kennen.",
        "category": "koffie_ontmoeting",
        "starts_at": "2027-10-01T14:00:00+02:00", "ends_at": "2027-10-01T16:00:00+02:00",
        "venue": {"name": "Buurtkamer De Linde", "street": f"Lindengracht {street}", "postcode": "1015 KK",
                  "city": "Amsterdam"},
        "municipality": MUNICIPALITY, "target_groups": ["ouderen"], "capacity": None, "price_eur": 0,
        "contact": {"name": "Welzijn West", "email": "info@welzijnwest.faults.example", "phone": "0201234567"},
    }
