"""Other ends of the wire that misbehave, real and in-process: an SMTP relay (aiosmtpd) and an HTTP receiver.

`FaultyRelay` counts every message it accepts (before anyone dedupes by Message-ID) and can want a login, refuse
our sender, refuse a recipient for now or for good, answer a message's DATA with a 451 once, and take its time
over each DATA. `SlowReceiver` answers webhooks slowly, a byte at a time, or with far too much.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from komerbij.devtools.processes import free_port


class _CountingSMTP(SMTP):
    def connection_made(self, transport: Any) -> None:
        self.event_handler.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class Accepted:
    recipients: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


class FaultyRelay:
    """An SMTP relay whose faults the test switches on and off while it runs.

    * `password`: when set, a login is required and only this password is taken (535 otherwise);
    * `refuse_sender`: MAIL FROM gets this reply (e.g. "550 5.7.1 Sender not allowed");
    * `refuse`: address → reply to RCPT, for good (e.g. "550 ...") or for now ("450 ..."); `refuse_once` likewise,
      once per address;
    * `defer_data_once`: a predicate on the message; the first it matches gets "451" at DATA (a greylist);
    * `data_delay`: seconds each DATA takes before it is answered.
    """

    def __init__(self, *, login: str | None = None, password: str | None = None) -> None:
        self.accepted: list[Accepted] = []
        self.connections = 0
        self.password = password
        self.refuse_sender: str | None = None
        self.refuse: dict[str, str] = {}
        self.refuse_once: dict[str, str] = {}
        self.defer_data_once: Callable[[EmailMessage], bool] | None = None
        self.data_delay = 0.0
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if login is not None:
            kwargs = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self._login = login
        self._controller = _Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (isinstance(data, LoginPassword) and data.login.decode() == self._login
              and data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        if address in self.refuse_once:
            return self.refuse_once.pop(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = message_from_bytes(content if isinstance(content, bytes) else content.encode(),
                                     policy=policy.default)
        rcpts = list(envelope.rcpt_tos)
        for rcpt in rcpts:
            self.in_flight[rcpt] += 1
            self.most_in_flight[rcpt] = max(self.most_in_flight[rcpt], self.in_flight[rcpt])
        try:
            if self.data_delay:
                await asyncio.sleep(self.data_delay)
            if self.defer_data_once is not None and self.defer_data_once(message):  # type: ignore[arg-type]
                self.defer_data_once = None
                return "451 4.7.1 Greylisted, try again later"
            self.accepted.append(Accepted(rcpts, message))  # type: ignore[arg-type]
            return "250 OK"
        finally:
            for rcpt in rcpts:
                self.in_flight[rcpt] -= 1

    def start(self) -> FaultyRelay:
        self._controller.start()
        self.connections = 0  # not the controller's own start-up probe
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Accepted]:
        return [a for a in self.accepted if address in a.recipients]

    def sends_per_message_id(self, only: set[str] | None = None) -> Counter[str]:
        """How often each message (of `only`, if given) was taken: more than once is a second send, however a mail
        program dedupes."""
        return Counter(a.message_id for a in self.accepted if only is None or a.message_id in only)


@dataclass
class Request:
    webhook_id: str
    path: str
    written: int = 0  # body bytes written to the sender
    finished: bool = False  # the whole answer went out
    cut_off: bool = False  # the sender hung up before the answer was out


@dataclass
class SlowReceiver:
    """Webhook answers that try the sender's patience, by path:

    * `/trickle/...`: the first request of a webhook-id gets a 200 whose body comes a byte every 50 ms for up to
      `trickle_for` seconds (never a pause long enough for a per-read timeout); later requests a plain 204;
    * `/huge/...`: a 200 with a body of `huge_bytes`, written as fast as the sender reads;
    * anything else: 204.
    Per webhook-id it keeps how many requests were in flight at once at most.
    """

    trickle_for: float = 20.0
    huge_bytes: int = 128 * 1024 * 1024
    requests: list[Request] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: Counter[str] = field(default_factory=Counter)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                request = Request(self.headers["webhook-id"], self.path)
                with receiver.lock:
                    first = not any(r.webhook_id == request.webhook_id for r in receiver.requests)
                    receiver.requests.append(request)
                    receiver.in_flight[request.webhook_id] += 1
                    receiver.most_in_flight[request.webhook_id] = max(
                        receiver.most_in_flight[request.webhook_id], receiver.in_flight[request.webhook_id])
                try:
                    if self.path.startswith("/trickle/") and first:
                        self._trickle(request)
                    elif self.path.startswith("/huge/"):
                        self._huge(request)
                    else:
                        self.send_response(204)
                        self.end_headers()
                        request.finished = True
                except (BrokenPipeError, ConnectionResetError):
                    request.cut_off = True
                finally:
                    with receiver.lock:
                        receiver.in_flight[request.webhook_id] -= 1
                self.close_connection = True

            def _trickle(self, request: Request) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(10**9))
                self.end_headers()
                until = time.monotonic() + receiver.trickle_for
                while time.monotonic() < until and not receiver.closing.is_set():
                    self.wfile.write(b".")
                    self.wfile.flush()
                    request.written += 1
                    receiver.closing.wait(0.05)

            def _huge(self, request: Request) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(receiver.huge_bytes))
                self.end_headers()
                chunk = b"x" * 65536
                while request.written < receiver.huge_bytes:
                    self.wfile.write(chunk)
                    request.written += len(chunk)
                request.finished = True

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def of(self, webhook_id: str) -> list[Request]:
        return [r for r in self.requests if r.webhook_id == webhook_id]

    def start(self) -> SlowReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
