"""The whole system behind a real front door, as people reach it: nginx on a free port, the five services as real
processes (each with its own database, Kafka shared), login configured against a Keycloak address.

Keycloak itself is started only by the tests that need it (support.keycloak): the services fetch nothing from the
issuer until the first login or the first RS256 token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from komerbij.contracts import TOPICS
from komerbij.devtools.frontdoor import FrontDoor
from komerbij.devtools.keycloak import API_AUDIENCE, WEB_CLIENT, WEB_CLIENT_SECRET
from komerbij.devtools.processes import free_port
from support.infra import Infra, run_sync
from support.kafka import start_group_at_end
from support.keycloak import KeycloakAddress
from support.services import ServiceProcess, settings_env

SERVICES = ("registration", "materials", "media", "notifications", "dashboard")
SESSION_SECRET = "session-secret-for-komerbij-tests-only"


@dataclass
class Stack:
    front_door: FrontDoor
    services: dict[str, ServiceProcess]
    keycloak: KeycloakAddress

    @property
    def url(self) -> str:
        return self.front_door.url


def stack_env(infra: Infra, name: str, keycloak: KeycloakAddress) -> dict[str, str]:
    env = settings_env(
        infra, infra.new_database(f"page_{name}"),
        OIDC_ISSUER=keycloak.issuer, OIDC_CLIENT_ID=WEB_CLIENT, OIDC_CLIENT_SECRET=WEB_CLIENT_SECRET,
        SESSION_SECRET=SESSION_SECRET, JWT_JWKS_URL=keycloak.jwks_url, JWT_ISSUER=keycloak.issuer,
        JWT_AUDIENCE=API_AUDIENCE, TRUSTED_PROXIES="127.0.0.1/32",  # the front door in front of them
    )
    if name == "notifications":
        # its own consumer group from the end of the shared topics, and a mail port nobody listens on: the
        # notifications of other tests' events are not ours to send
        group = f"notifications-pages-{uuid.uuid4().hex[:6]}"
        run_sync(start_group_at_end(infra.kafka_bootstrap, group, sorted(t for t, d in TOPICS.items() if d.consumed)))
        env.update(CONSUMER_GROUP=group, SMTP_PORT=str(free_port()), DISPATCH_ENABLED="false")
    if name == "dashboard":
        # its own read model from the end of the shared topics: the figures of the page tests' own events
        group = f"dashboard-pages-{uuid.uuid4().hex[:6]}"
        topics = ["materials.orders", "media.mentions", "registration.activities", "registration.signups"]
        run_sync(start_group_at_end(infra.kafka_bootstrap, group, topics))
        env.update(CONSUMER_GROUP=group)
    return env


@contextmanager
def running_stack(infra: Infra, workdir: Path, keycloak: KeycloakAddress) -> Iterator[Stack]:
    workdir.mkdir(parents=True, exist_ok=True)
    processes = {name: ServiceProcess(f"komerbij.{name}", stack_env(infra, name, keycloak), workdir)
                 for name in SERVICES}
    with ExitStack() as stack:
        for process in processes.values():
            stack.callback(lambda p=process: p.proc is not None and p.terminate())
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(lambda p: p.start(timeout=120), processes.values()))
        front_door = FrontDoor(workdir / "nginx", port=free_port(),
                               upstreams={name: p.port for name, p in processes.items()})
        front_door.start()
        stack.callback(front_door.stop)
        yield Stack(front_door, processes, keycloak)
