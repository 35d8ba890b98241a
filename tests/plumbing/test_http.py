"""The HTTP side every service shares: problem JSON, auth, health, AsyncAPI, config errors, correlation ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from probe import effects, spec
from support.infra import Infra
from support.kafka import data, header, read_topic
from support.services import JWT_SECRET, auth, eventually, running, settings_env, token

from komerbij.runtime.auth import TokenVerifier
from komerbij.runtime.http import ProblemError


@pytest.fixture
async def probe(infra: Infra):
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=f"g-{uuid.uuid4().hex[:6]}")
    async with running(spec(env["PROBE_GROUP"]), env) as svc:
        yield svc


async def test_validation_errors_are_422_problem_json_naming_each_field(probe) -> None:
    r = await probe.client.post("/probe/adjust", json={"key": "", "n": "many"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["title"] == "Ongeldige invoer"
    assert {e["field"] for e in body["errors"]} == {"key", "n", "run"}


async def test_unknown_route_is_problem_json(probe) -> None:
    r = await probe.client.get("/nope")
    assert r.status_code == 404 and r.json()["title"] == "Niet gevonden"


AUTH_MATRIX = [
    ("no token", None, 401),
    ("not a jwt", {"Authorization": "Bearer not-a-token"}, 401),
    ("wrong secret", {"Authorization": "Bearer " + jwt.encode(
        {"sub": "x", "role": "organiser", "municipality": "GM0363", "exp": int(time.time()) + 600}, "other",
        algorithm="HS256")}, 401),
    ("expired", {"Authorization": "Bearer " + token("organiser", municipality="GM0363", ttl=-10)}, 401),
    ("wrong role", auth("comms"), 403),
    ("other municipality", auth("organiser", municipality="GM0599"), 403),
    ("right organiser", auth("organiser", municipality="GM0363"), 200),
    ("admin", auth("admin"), 200),
]


@pytest.mark.parametrize(("case", "headers", "status"), AUTH_MATRIX, ids=[c[0] for c in AUTH_MATRIX])
async def test_auth_matrix(probe, case: str, headers: dict | None, status: int) -> None:
    r = await probe.client.get("/probe/municipalities/GM0363", headers=headers or {})
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["content-type"] == "application/problem+json"


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", key
    server.shutdown()


def test_rs256_tokens_are_checked_against_the_issuers_jwks(jwks_server) -> None:
    url, key = jwks_server
    verifier = TokenVerifier(secret=None, jwks_url=url, issuer="https://id.example", audience="komerbij")
    claims = {"sub": "u1", "role": "moderator", "iss": "https://id.example", "aud": "komerbij",
              "exp": int(time.time()) + 600}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(good).role == "moderator"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(ProblemError) as err:
        verifier.verify(forged)
    assert err.value.status == 401
    hs = jwt.encode(claims, JWT_SECRET, algorithm="HS256")  # algorithm confusion must not pass
    with pytest.raises(ProblemError):
        verifier.verify(hs)


async def test_health_readiness_docs_and_asyncapi(probe) -> None:
    assert (await probe.client.get("/healthz")).json()["status"] == "ok"
    ready = (await probe.client.get("/readyz")).json()
    assert ready["checks"] == {"postgres": "ok", "migrations": "ok", "kafka": "ok", "consumer": "ok"}
    assert "/probe/adjust" in (await probe.client.get("/openapi.json")).json()["paths"]
    assert (await probe.client.get("/docs")).status_code == 200
    asyncapi = (await probe.client.get("/asyncapi")).json()
    assert asyncapi["asyncapi"].startswith("3.")
    assert any("materials.stock" in json.dumps(ch) for ch in asyncapi["channels"].values())


async def test_correlation_id_flows_from_request_to_event_to_downstream_handler(infra: Infra, probe) -> None:
    run, cid = f"cid-{uuid.uuid4().hex[:6]}", f"req-{uuid.uuid4().hex[:8]}"
    r = await probe.client.post("/probe/adjust", json={"key": "k", "n": 1, "run": run},
                                headers={"X-Correlation-ID": cid})
    assert r.headers["x-correlation-id"] == cid
    records = await read_topic(infra.kafka_bootstrap, "materials.stock", keep=lambda r: data(r).get("reason") == run,
                               until=lambda rs: len(rs) >= 1)
    assert header(records[0], "ce_correlationid") == cid
    await eventually(lambda: effects(probe.runtime, run))
    async with probe.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT correlation_id FROM effects WHERE run = $1", run) == cid


@pytest.mark.parametrize(
    ("missing", "variable"),
    [("DATABASE_URL", "DATABASE_URL"), ("JWT_SECRET", "JWT_SECRET"), ("KAFKA_BOOTSTRAP_SERVERS",
                                                                        "KAFKA_BOOTSTRAP_SERVERS")],
)
def test_missing_configuration_stops_the_service_with_one_line_naming_the_variable(missing: str,
                                                                                    variable: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "JWT_SECRET", "KAFKA_BOOTSTRAP_SERVERS"}}
    env.update({"DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "JWT_SECRET": "s",
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    env.pop(missing)
    result = subprocess.run([sys.executable, "-m", "komerbij.registration"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr


def test_invalid_configuration_value_names_the_variable() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "JWT_SECRET": "s",
           "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "RETRY_MAX_ATTEMPTS": "lots"}
    result = subprocess.run([sys.executable, "-m", "komerbij.materials"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "RETRY_MAX_ATTEMPTS" in result.stderr.strip()


