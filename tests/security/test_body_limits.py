"""Request bodies are limited while they stream in, before any route or token check reads them: 413, problem JSON.

Before, a 2 GB JSON body to the public sign-up route, or a huge upload to /v1/mentions/import without a token,
was read whole. Now the default (MAX_BODY_BYTES) holds for every JSON route and upload routes name a larger limit.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from support.infra import Infra
from support.services import RunningService, auth, running, settings_env

from komerbij.materials.app import SPEC as MATERIALS
from komerbij.media.app import SPEC as MEDIA
from komerbij.media.entrypoints.api.models import MAX_IMPORT_BYTES
from komerbij.registration.app import SPEC as REGISTRATION
from komerbij.runtime.settings import ServiceSettings

from .served import Served, served

DEFAULT_LIMIT = ServiceSettings.model_fields["max_body_bytes"].default
CHUNK = 16 * 1024
FIVE_MB = 5 * 1024 * 1024


class CountingBody:
    """A streamed body that counts how much of it the server pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:  # JSON whitespace: the body is never complete enough to parse anyway
            self.pulled += CHUNK
            yield b" " * CHUNK


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def registration(infra: Infra) -> AsyncIterator[RunningService]:
    async with running(REGISTRATION, settings_env(infra, infra.new_database("sec_bodies"))) as svc:
        yield svc


def _assert_problem(r: object, limit: int) -> None:
    assert r.status_code == 413, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    problem = r.json()  # type: ignore[attr-defined]
    assert problem["title"] == "Verzoek te groot" and problem["max_bytes"] == limit
    assert str(limit) in problem["detail"]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_streamed_5_mb_body_to_the_public_sign_up_is_413_after_pulling_only_the_limit(
    registration: RunningService,
) -> None:
    body = CountingBody(FIVE_MB)
    r = await registration.client.post(f"/v1/activities/{uuid.uuid4()}/signups", content=body,
                                       headers={"content-type": "application/json"})
    _assert_problem(r, DEFAULT_LIMIT)
    assert body.pulled <= DEFAULT_LIMIT + CHUNK, f"the server pulled {body.pulled} of {FIVE_MB} bytes"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_declared_length_over_the_limit_is_413_before_a_byte_is_read(registration: RunningService) -> None:
    body = CountingBody(FIVE_MB)
    r = await registration.client.post(f"/v1/activities/{uuid.uuid4()}/signups", content=body,
                                       headers={"content-type": "application/json", "content-length": str(FIVE_MB)})
    _assert_problem(r, DEFAULT_LIMIT)
    assert body.pulled == 0


@pytest.mark.asyncio(loop_scope="module")
async def test_a_body_within_the_limit_still_reaches_the_route(registration: RunningService) -> None:
    r = await registration.client.post(f"/v1/activities/{uuid.uuid4()}/signups",
                                       json={"name": "Truus", "email": "truus@example.org", "consent": True})
    assert r.status_code == 404, r.text  # the route ran: no such activity


# Over real HTTP (uvicorn): the 413 comes back while the client is still sending, and the connection is closed.

@pytest.fixture(scope="module")
def media_http(infra: Infra) -> Iterator[Served]:
    with served(MEDIA, settings_env(infra, infra.new_database("sec_bodies_media"))) as service:
        yield service


def _exchange(url: str, head: str, body_parts: list[bytes]) -> bytes:
    """Sends the head and the parts (not the rest of the body), then reads what the server answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            raise AssertionError(f"no answer within 30 s while the body was still incomplete: {answer!r}") from None
    return answer


def test_over_http_a_declared_5_mb_upload_without_a_token_is_413_before_the_body_is_sent(
    media_http: Served,
) -> None:
    head = (f"POST /v1/mentions/import HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {MAX_IMPORT_BYTES * 2}\r\n\r\n")
    answer = _exchange(media_http.url, head, [b"--b\r\n"])
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large", answer[:300]
    assert b"connection: close" in rest.lower() and b'"max_bytes"' in rest


def test_over_http_a_chunked_body_is_cut_off_once_it_passes_the_limit(media_http: Served) -> None:
    head = (f"POST /v1/outlets HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth('comms')['Authorization']}\r\nTransfer-Encoding: chunked\r\n\r\n")
    parts = [f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n" for _ in range(DEFAULT_LIMIT // CHUNK + 2)]
    answer = _exchange(media_http.url, head, parts)  # no terminating chunk: the server must not wait for it
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]


def _export(rows: int, cell_bytes: int) -> bytes:
    """A vendor export whose unmapped `notitie` column makes it large without many mentions to record."""
    lines = [f"2027-10-01,Omroep Groot,online,regional,Kom erbij {i},{'x' * cell_bytes}" for i in range(rows)]
    return ("date,outlet,medium,scope,title,notitie\n" + "\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(("rows", "cell_bytes"), [(20, 100_000), (110, 100_000)])
def test_the_import_route_takes_more_than_the_default_up_to_its_own_limit(media_http: Served, rows: int,
                                                                          cell_bytes: int) -> None:
    export = _export(rows, cell_bytes)
    r = httpx.post(f"{media_http.url}/v1/mentions/import", headers=auth("comms"), timeout=60,
                   files={"file": ("export.csv", export, "text/csv")})
    if len(export) > MAX_IMPORT_BYTES:
        _assert_problem(r, MAX_IMPORT_BYTES + 64 * 1024)
    else:
        assert len(export) > DEFAULT_LIMIT and r.status_code == 200, r.text[:500]
        assert r.json()["created"] == rows, {k: v for k, v in r.json().items() if k != "ids"}


def test_an_upload_with_a_cell_over_the_csv_field_limit_is_422_not_a_server_error(media_http: Served) -> None:
    r = httpx.post(f"{media_http.url}/v1/mentions/import", headers=auth("comms"), timeout=60,
                   files={"file": ("export.csv", _export(1, 200_000), "text/csv")})
    assert r.status_code == 422, r.text[:500]
    assert [e["field"] for e in r.json()["errors"]] == ["file"]


async def test_a_status_upload_with_a_cell_over_the_csv_field_limit_is_422(infra: Infra) -> None:
    async with running(MATERIALS, settings_env(infra, infra.new_database("sec_bodies_materials"))) as svc:
        upload = "order_id,status\n" + "x" * 200_000 + ",shipped\n"
        r = await svc.client.post("/v1/fulfilment/status.csv", content=upload.encode(),
                                  headers={**auth("fulfilment"), "content-type": "text/csv"})
    assert r.status_code == 422, r.text[:500]
    assert [e["field"] for e in r.json()["errors"]] == ["file"]
