"""`make run`: the whole system on this machine, stopped cleanly by Ctrl-C or SIGTERM.

PostgreSQL (one database per service) and Kafka keep their data under `.run/`, so a second `make run` finds it again;
logs of every process go to `.run/logs/`, mail to `.run/mail/` as `.eml` files. Every child runs in its own session
with a parent-death signal, so even if this process is killed nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from komerbij.devtools import frontend
from komerbij.devtools.cli import DEV_SECRET
from komerbij.devtools.frontdoor import FrontDoor
from komerbij.devtools.kafka import KafkaServer
from komerbij.devtools.keycloak import API_AUDIENCE, DEMO_PASSWORD, WEB_CLIENT, WEB_CLIENT_SECRET, KeycloakServer
from komerbij.devtools.postgres import PostgresServer, bindir, ensure_database
from komerbij.devtools.processes import die_with_parent, port_open, repo_root, stop_process
from komerbij.devtools.prometheus import PrometheusServer, find_binary, scrape_config, write_config
from komerbij.devtools.smtp import start_catcher
from komerbij.runtime.kafka import ensure_topics


@dataclass(frozen=True)
class Service:
    name: str
    port: int


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


SERVICES = [
    Service("registration", _port("REGISTRATION_PORT", 8001)),
    Service("materials", _port("MATERIALS_PORT", 8002)),
    Service("media", _port("MEDIA_PORT", 8003)),
    Service("notifications", _port("NOTIFICATIONS_PORT", 8004)),
    Service("dashboard", _port("DASHBOARD_PORT", 8005)),
]


# The demo accounts of deploy/keycloak/komerbij-realm.json (password: komerbij), as the README lists them.
DEMO_ACCOUNTS = ("organisator-amsterdam", "organisator-amsterdam-2", "organisator-rotterdam", "partner-ouderenfonds",
                 "moderator", "communicatie", "magazijn", "beheerder")
# Signs the session cookie every service reads: for this machine only, like DEV_SECRET.
DEV_SESSION_SECRET = "komerbij-local-session-secret-not-for-production"


def missing_prerequisites() -> list[str]:
    problems = []
    if not frontend.built():
        problems.append("the pages' CSS and fonts are not built: run `make install` (needs npm)")
    if shutil.which("java") is None:
        problems.append("Java 17+ is missing: apt-get install openjdk-17-jre-headless")
    if shutil.which("mvn") is None:
        problems.append("Maven is missing (it fetches the Kafka jars): apt-get install maven")
    try:
        bindir()
    except RuntimeError:
        problems.append("PostgreSQL server binaries are missing: apt-get install postgresql")
    return problems


class System:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.logs = run_dir / "logs"
        self.pg = PostgresServer(run_dir / "pg", port=_port("POSTGRES_PORT", 55432))
        self.kafka = KafkaServer(run_dir / "kafka", port=_port("KAFKA_PORT", 9092),
                                 controller_port=_port("KAFKA_CONTROLLER_PORT", 9093))
        self.smtp_port = _port("SMTP_PORT", 1025)
        self.prometheus_port = _port("PROMETHEUS_PORT", 9090)
        self.keycloak = KeycloakServer(run_dir / "keycloak", port=_port("KEYCLOAK_PORT", 8080),
                                       management_port=_port("KEYCLOAK_MANAGEMENT_PORT", 9000))
        self.front_door = FrontDoor(run_dir / "nginx", port=_port("FRONTDOOR_PORT", 8000),
                                    upstreams={s.name: s.port for s in SERVICES})
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.prometheus: PrometheusServer | None = None
        self.smtp = None

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        ports = (self.front_door.port, self.keycloak.port, self.pg.port, self.kafka.port, self.smtp_port,
                 *(s.port for s in SERVICES))
        busy = [p for p in ports if port_open(p)]
        if busy:
            raise RuntimeError(f"ports already in use: {busy} (is another `make run` still running?)")
        say(f"starting; the pages will be at {self.front_door.url}")
        say(f"Keycloak on {self.keycloak.url} (starting in the background, ~30 s)")
        self.keycloak.launch()  # a JVM that needs half a minute: it starts while the rest does
        say(f"PostgreSQL on 127.0.0.1:{self.pg.port} (data in {self.pg.data_dir})")
        self.pg.start()
        for svc in SERVICES:
            asyncio.run(ensure_database(self.pg.dsn(), f"komerbij_{svc.name}"))
        say(f"Kafka on {self.kafka.bootstrap} (jars cached in ~/.cache/komerbij)")
        self.kafka.start()
        created = asyncio.run(ensure_topics(self.kafka.bootstrap))
        say(f"topics ensured ({len(created)} created)")
        self.smtp = start_catcher(self.run_dir / "mail", port=self.smtp_port)
        say(f"SMTP catcher on 127.0.0.1:{self.smtp_port}, mail kept in {self.run_dir / 'mail'}")
        for svc in SERVICES:
            self.services[svc.name] = self._start_service(svc)
        self.front_door.start()
        say(f"front door (nginx) on {self.front_door.url}")
        self._start_prometheus()
        self._wait_ready()  # Keycloak may still be booting: main() says when login works

    def _start_service(self, svc: Service) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PORT": str(svc.port),
            "DATABASE_URL": self.pg.dsn(f"komerbij_{svc.name}"),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            "JWT_SECRET": os.environ.get("JWT_SECRET", DEV_SECRET),
            "JWT_JWKS_URL": self.keycloak.jwks_url,  # Keycloak's RS256 tokens as well as `komerbij token`'s
            "JWT_ISSUER": self.keycloak.issuer,
            "JWT_AUDIENCE": API_AUDIENCE,
            "OIDC_ISSUER": self.keycloak.issuer,
            "OIDC_CLIENT_ID": WEB_CLIENT,
            "OIDC_CLIENT_SECRET": WEB_CLIENT_SECRET,
            "SESSION_SECRET": os.environ.get("SESSION_SECRET", DEV_SESSION_SECRET),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{svc.port}",
            "LOAD_DEMO_DATA": os.environ.get("LOAD_DEMO_DATA", "true"),
            # A development machine: the public development secret is accepted, and feeds and webhooks may reach
            # this machine (local test feeds, webhook receivers); every other non-public address stays refused.
            "KOMERBIJ_DEV": os.environ.get("KOMERBIJ_DEV", "true"),
            "OUTBOUND_ALLOWED_NETWORKS": os.environ.get("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8"),
            # the front door (nginx on this machine) names the client in X-Forwarded-For/-Proto
            "TRUSTED_PROXIES": os.environ.get("TRUSTED_PROXIES", "127.0.0.1/32"),
        }
        if svc.name in ("registration", "notifications"):  # one makes the cancel links' tokens, one mails them
            env["CANCEL_LINK_SECRET"] = os.environ.get("CANCEL_LINK_SECRET", "komerbij-local-cancel-links-not-for-prod")
        if svc.name == "media":  # the nieuwsflits links to its archive page at the front door
            env["PAGES_BASE_URL"] = self.front_door.url
        if svc.name == "notifications":
            env.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp_port),
                        "PAGES_BASE_URL": self.front_door.url})  # the links in mails open pages at the front door
        log = open(self.logs / f"{svc.name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen([sys.executable, "-m", f"komerbij.{svc.name}"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)

    def _start_prometheus(self) -> None:
        if find_binary("prometheus") is None:
            say("Prometheus not installed (apt-get install prometheus): skipping it")
            return
        # deploy/prometheus/prometheus.yml names the default ports; this copy follows any port overrides
        config = scrape_config(
            {s.name: [f"127.0.0.1:{s.port}"] for s in SERVICES},
            rule_files=[repo_root() / "deploy" / "prometheus" / "alerts.yml"],
        )
        data_dir = self.run_dir / "prometheus"
        data_dir.mkdir(parents=True, exist_ok=True)
        server = PrometheusServer(write_config(data_dir / "prometheus.yml", config), port=self.prometheus_port,
                                  data_dir=data_dir, preexec_fn=die_with_parent)
        server.start()
        self.prometheus = server

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        pending = {s.name: s for s in SERVICES}
        while pending and time.monotonic() < deadline:
            for name, svc in list(pending.items()):
                proc = self.services[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.logs / (name + '.log')}")
                try:
                    if httpx.get(f"http://127.0.0.1:{svc.port}/readyz", timeout=2).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        if pending:
            raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(pending)}; see {self.logs}")

    def stop(self) -> None:
        for proc in self.services.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.services.values():
            stop_process(proc, timeout=40)
        self.front_door.stop()
        self.keycloak.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.smtp is not None:
            self.smtp.stop()
        self.kafka.stop()
        self.pg.stop()


def say(message: str) -> None:
    print(f"komerbij: {message}", flush=True)


def print_urls(system: System) -> None:
    lines = ["", f"komerbij is running at {system.front_door.url}  <- the pages, for people", "",
             f"  {'front door':<14} {system.front_door.url}   (pages; JSON APIs under /api/<service>/)"]
    for svc in SERVICES:
        lines.append(f"  {svc.name:<14} http://127.0.0.1:{svc.port}/docs   (ready: /readyz, metrics: /metrics)")
    lines.append(f"  {'kafka':<14} {system.kafka.bootstrap}")
    lines.append(f"  {'postgresql':<14} {system.pg.dsn()}")
    lines.append(f"  {'smtp catcher':<14} 127.0.0.1:{system.smtp_port} -> {system.run_dir / 'mail'}")
    if system.prometheus is not None:
        lines.append(f"  {'prometheus':<14} http://127.0.0.1:{system.prometheus_port}")
    lines.append(f"  {'keycloak':<14} {system.keycloak.url}/admin   (admin / admin; realm komerbij)")
    lines.append(f"  {'logs':<14} {system.logs}")
    lines.append(f"  log in on the pages as {', '.join(DEMO_ACCOUNTS)}; password: {DEMO_PASSWORD}")
    lines.append("  a token:       .venv/bin/komerbij token --role organiser --municipality GM0363")
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


def main() -> int:
    problems = missing_prerequisites()
    if problems:
        for p in problems:
            print(f"komerbij: {p}", file=sys.stderr)
        return 1
    run_dir = Path(os.environ.get("KOMERBIJ_RUN_DIR", repo_root() / ".run"))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    system = System(run_dir)
    started = time.monotonic()
    try:
        system.start()
        print_urls(system)
        say(f"ready in {time.monotonic() - started:.1f}s")
        login_ready = False
        while not stop.wait(1):
            if not login_ready and system.keycloak.ready():
                login_ready = True
                say(f"Keycloak ready after {time.monotonic() - started:.1f}s: log in at {system.front_door.url}/login")
            children = {**system.services, "keycloak": system.keycloak.proc, "nginx": system.front_door.proc}
            for name, proc in children.items():
                if proc is not None and proc.poll() is not None:
                    say(f"{name} exited with {proc.returncode}; see {system.logs / (name + '.log')}; stopping")
                    stop.set()
        return 0
    except Exception as exc:
        print(f"komerbij: {exc}", file=sys.stderr)
        return 1
    finally:
        say("stopping ...")
        system.stop()
        say("stopped")
