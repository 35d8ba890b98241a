"""The front door (real nginx, configured from deploy/frontdoor/routes.yaml) in front of four stand-in services that
answer with their own name: every path reaches the service that owns it, the way routes.yaml says.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from support.infra import make_workdir

from komerbij.devtools import run
from komerbij.devtools.frontdoor import COMPOSE_CONFIG, FrontDoor, compose_config, load_routes
from komerbij.devtools.processes import free_port, repo_root

ROUTES = load_routes()


class StandIn(BaseHTTPRequestHandler):
    """Answers every request with the service's name, the path it got and the forwarding headers it saw."""

    service = ""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = json.dumps({"service": self.service, "path": self.path, "body": length,
                           "forwarded_for": self.headers.get("x-forwarded-for"),
                           "forwarded_proto": self.headers.get("x-forwarded-proto"),
                           "host": self.headers.get("host")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def front_door() -> Iterator[FrontDoor]:
    servers = []
    for name in ROUTES.services:
        handler = type(f"StandIn_{name}", (StandIn,), {"service": name})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((name, server))
    door = FrontDoor(make_workdir() / "nginx", port=free_port(),
                     upstreams={name: s.server_port for name, s in servers})
    with door:
        yield door
    for _, server in servers:
        server.shutdown()


def page_paths() -> list[tuple[str, str]]:
    paths = []
    for service, prefixes in ROUTES.pages.items():
        for prefix in prefixes:
            paths += [(prefix, service)] if prefix == "/" else [(prefix, service), (f"{prefix}/iets/dieper", service)]
    return paths


@pytest.mark.parametrize(("path", "service"), page_paths())
def test_each_page_path_reaches_the_service_that_owns_it(front_door: FrontDoor, path: str, service: str) -> None:
    answer = httpx.get(front_door.url + path).json()
    assert answer["service"] == service
    assert answer["path"] == path  # pages keep their path


def test_a_path_that_only_starts_like_a_prefix_goes_to_the_default(front_door: FrontDoor) -> None:
    assert httpx.get(f"{front_door.url}/mediawijsheid").json()["service"] == "registration"
    assert httpx.get(f"{front_door.url}/bestellenlijst").json()["service"] == "registration"


@pytest.mark.parametrize("service", list(ROUTES.services))
def test_the_api_of_each_service_is_under_api_with_the_prefix_taken_off(front_door: FrontDoor, service: str) -> None:
    answer = httpx.get(f"{front_door.url}/api/{service}/v1/things?x=1").json()
    assert answer == {**answer, "service": service, "path": "/v1/things?x=1"}


@pytest.mark.parametrize("service", list(ROUTES.services))
def test_metrics_stay_off_the_front_door(front_door: FrontDoor, service: str) -> None:
    assert httpx.get(f"{front_door.url}/api/{service}/metrics").status_code == 404


def test_the_services_learn_the_client_address_scheme_and_host(front_door: FrontDoor) -> None:
    answer = httpx.get(f"{front_door.url}/agenda", headers={"X-Forwarded-Proto": "https"}).json()
    assert answer["forwarded_for"] == "127.0.0.1"
    assert answer["forwarded_proto"] == "http"  # what nginx saw, not what a client claims
    assert answer["host"] == f"127.0.0.1:{front_door.port}"  # so the services build the right callback URL


def test_request_bodies_are_limited_per_service_with_a_problem_answer(front_door: FrontDoor) -> None:
    fits = httpx.post(f"{front_door.url}/api/media/v1/mentions/import", content=b"x" * 5_000_000)
    assert fits.json()["body"] == 5_000_000
    too_large = httpx.post(f"{front_door.url}/api/registration/v1/activities", content=b"x" * 2_000_000)
    assert too_large.status_code == 413
    assert too_large.headers["content-type"] == "application/problem+json"
    assert too_large.json()["title"] == "Verzoek te groot"


def test_each_services_upload_limit_fits_under_its_front_door_limit() -> None:
    limits = {"materials": importlib.import_module("komerbij.materials.entrypoints.api.fulfilment").MAX_UPLOAD_BYTES,
              "media": importlib.import_module("komerbij.media.entrypoints.api.models").MAX_IMPORT_BYTES}
    for service, limit in limits.items():
        allowed = int(ROUTES.services[service].max_body.rstrip("m")) * 1024 * 1024
        assert allowed > limit, f"{service}: nginx would refuse uploads the service accepts"


def test_a_stopped_service_gives_a_dutch_page(front_door: FrontDoor, tmp_path: Path) -> None:
    door = FrontDoor(tmp_path / "nginx", port=free_port(), upstreams={n: free_port() for n in ROUTES.services})
    with door:
        answer = httpx.get(f"{door.url}/bestellen")
    assert answer.status_code == 503 and "Even niet bereikbaar" in answer.text


def test_the_compose_configuration_is_the_one_routes_yaml_gives() -> None:
    committed = (repo_root() / COMPOSE_CONFIG).read_text()
    assert committed == compose_config(), "run `python -m komerbij.devtools.frontdoor compose` and commit the file"


def test_routes_yaml_knows_the_services_and_ports_make_run_starts() -> None:
    assert {name: r.port for name, r in ROUTES.services.items()} == {s.name: s.port for s in run.SERVICES}


def test_compose_runs_the_front_door_with_that_configuration() -> None:
    compose = yaml.safe_load((repo_root() / "docker-compose.yml").read_text())
    nginx = compose["services"]["frontdoor"]
    assert f"./{COMPOSE_CONFIG}:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert nginx["ports"] == ["127.0.0.1:8000:8000"]
    assert set(nginx["depends_on"]) >= set(ROUTES.services)


@pytest.mark.parametrize(("path", "service"), [("/", "registration"), ("/agenda/123", "registration"),
                                               ("/magazijn", "materials"), ("/unsubscribe/abc", "notifications"),
                                               ("/api/media/v1/feeds", "media"), ("/api/onbekend/x", "registration")])
def test_routes_owner_tells_which_service_answers(path: str, service: str) -> None:
    assert ROUTES.owner(path) == service
