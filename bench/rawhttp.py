"""A lean HTTP/1.1 client for the load generator: one keep-alive connection, requests written as bytes, answers
parsed by httptools (llhttp, the parser uvicorn itself runs on), on an `asyncio.Protocol`.

Why: httpx costs the generator ~2.2 ms of CPU per request (BENCHMARKS.md, "The client"), on the same two cores as the
server, PostgreSQL and Kafka; an open loop at 300/s spent most of a core on the client alone, and a 1,000-order burst
needed ~2.5 s of client CPU before any server work. This client does the same protocol work a browser or proxy would
(a real TCP connection per client, request line, Host, Content-Type, Content-Length, JSON body; status line, headers,
Content-Length or chunked body, keep-alive decided by the answer's headers), for the service and the baseline alike,
and does nothing else: no cookies, redirects, compression, proxies, TLS or HTTP/2 — none of which the targets use on
127.0.0.1. The surface is the slice of httpx's the scenarios call (`post`, `get`, `.status_code`, `.json()`, `.text`),
so `--client httpx` still runs every scenario as before.
"""

from __future__ import annotations

import asyncio
import select
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson


class RawHTTPError(OSError):
    """Transport or protocol failure (connection lost, unparseable answer, timeout): counted like httpx's errors."""


class Response:
    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RawHTTPError(f"unparseable answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RawHTTPError("connection closed before the answer was complete"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._headers, self._body = {}, []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        response = Response(self.parser.get_status_code(), self._headers, b"".join(self._body))
        if not self.parser.should_keep_alive():
            self.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(response)

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class RawClient:
    """One connection at a time (opened on first use, reopened after the server closed it), one request at a time —
    the same shape as the generator's single-connection httpx clients."""

    def __init__(self, base_url: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._address: tuple[str, int] | None = None

    def _target(self, url: str) -> tuple[tuple[str, int], str]:
        if not url.startswith(("http://", "https://")):
            if self.base_url is None:
                raise ValueError(f"relative URL {url!r} without a base_url")
            url = self.base_url + url
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only plain http:// with a host: {url!r}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return (parts.hostname, parts.port or 80), path

    async def request(self, method: str, url: str, *, json: Any = None, headers: dict[str, str] | None = None,
                      ) -> Response:
        address, path = self._target(url)
        body = orjson.dumps(json) if json is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {address[0]}:{address[1]}", "Accept: */*"]
        if json is not None:
            head.append("Content-Type: application/json")
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                if self._conn is None or self._conn.closed or self._address != address or self._stale():
                    if self._conn is not None:
                        self._conn.close()
                    _, self._conn = await loop.create_connection(_Connection, *address)
                    self._address = address
                conn = self._conn
                conn.waiter = loop.create_future()
                assert conn.transport is not None
                conn.transport.write(data)
                return await conn.waiter
        except TimeoutError:
            if self._conn is not None:
                self._conn.close()  # an answer may still come: this connection cannot be reused
            raise
        except RawHTTPError:
            raise
        except OSError as exc:
            raise RawHTTPError(str(exc)) from exc

    def _stale(self) -> bool:
        """An idle keep-alive connection with something to read has been closed by the server (uvicorn closes idle
        ones after 5 s) and its EOF is not processed yet: reusing it would lose the request. The same check httpcore
        makes before reusing a pooled connection."""
        assert self._conn is not None and self._conn.transport is not None
        sock = self._conn.transport.get_extra_info("socket")
        if sock is None:
            return True
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)

    async def post(self, url: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Response:
        return await self.request("POST", url, json=json, headers=headers)

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> Response:
        return await self.request("GET", url, headers=headers)

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
