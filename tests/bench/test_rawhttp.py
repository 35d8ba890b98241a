"""The load generator's lean HTTP client (`bench.rawhttp`) against a scripted HTTP/1.1 server on 127.0.0.1: it must
read answers the way any HTTP client does (Content-Length, chunked, keep-alive decided by the answer) and never lose
a request to a connection the server has closed, or its numbers would count client bugs as server errors."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from bench.rawhttp import RawClient, RawHTTPError

Answer = Callable[[bytes, int], bytes]  # (request head + body, request number on the connection) -> raw answer


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + (await reader.readexactly(length) if length else b"")


class Server:
    def __init__(self, answer: Answer, *, close_after: int | None = None) -> None:
        self.answer = answer
        self.close_after = close_after  # close the connection after this many answers, without saying so
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while self.close_after is None or served < self.close_after:
                request = await _read_request(reader)
                self.requests.append(request)
                writer.write(self.answer(request, served))
                await writer.drain()
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., asyncio.Future[tuple[Server, str]]]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer, **kwargs: int) -> tuple[Server, str]:
        script = Server(answer, **kwargs)
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return script, f"http://127.0.0.1:{port}"

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()
        await server.wait_closed()


def _json(status: int, body: object, *extra: str) -> bytes:
    data = orjson.dumps(body)
    head = [f"HTTP/1.1 {status} X", "Content-Type: application/json", f"Content-Length: {len(data)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def test_a_json_post_is_sent_whole_and_its_answer_read_over_one_kept_connection(serve) -> None:
    script, url = await serve(lambda req, n: _json(201, {"n": n, "echo": orjson.loads(req.split(b"\r\n\r\n", 1)[1])}))
    async with RawClient(url) as client:
        for i in range(3):
            r = await client.post("/v1/orders", json={"i": i, "naam": "Zoë"}, headers={"Idempotency-Key": f"k{i}"})
            assert r.status_code == 201 and r.json() == {"n": i, "echo": {"i": i, "naam": "Zoë"}}
    assert script.connections == 1
    first = script.requests[0]
    assert first.startswith(b"POST /v1/orders HTTP/1.1\r\n")
    assert b"Content-Type: application/json" in first and b"Idempotency-Key: k0" in first
    assert b"Host: 127.0.0.1:" in first


async def test_a_chunked_answer_is_read_to_its_end(serve) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n")
    _, url = await serve(lambda req, n: chunked)
    async with RawClient(url) as client:
        assert (await client.get("/x")).json() == {"a": 1}
        assert (await client.get(url + "/y")).json() == {"a": 1}  # absolute URLs too, as the scenarios send


async def test_connection_close_in_the_answer_opens_a_new_connection_for_the_next(serve) -> None:
    script, url = await serve(lambda req, n: _json(200, {}, "Connection: close"), close_after=1)
    async with RawClient(url) as client:
        for _ in range(3):
            assert (await client.get("/")).status_code == 200
    assert script.connections == 3


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    # uvicorn closes a keep-alive connection idle for 5 s. A server in a thread of its own closes after one answer;
    # the client's event loop is blocked meanwhile (time.sleep), so the FIN is on the socket but unprocessed, as when
    # a busy generator picks an idle client: the request must go over a new connection, not be lost on the old one.
    accepted: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    answer = _json(200, {"ok": True})

    def serve_two() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            accepted.append(conn)
            conn.recv(65536)
            conn.sendall(answer)
            conn.close()

    thread = threading.Thread(target=serve_two, daemon=True)
    thread.start()
    try:
        async with RawClient(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=5) as client:
            assert (await client.get("/")).status_code == 200
            time.sleep(0.2)  # noqa: ASYNC251 - the loop must not see the FIN before the next request
            assert (await client.get("/")).status_code == 200
        thread.join(5)
        assert len(accepted) == 2
    finally:
        listener.close()


async def test_an_answer_cut_off_is_an_error_not_a_status(serve) -> None:
    _, url = await serve(lambda req, n: b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"half", close_after=1)
    async with RawClient(url) as client:
        with pytest.raises(RawHTTPError):
            await client.get("/")
