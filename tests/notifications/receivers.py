"""The other ends of the wire, real and in-process: an SMTP server (aiosmtpd) and a webhook receiver (HTTP).

The webhook receiver checks every signature itself (Standard Webhooks, written out here independently of the
service's code) and dedupes by `webhook-id` the way the specification asks receivers to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from komerbij.devtools.processes import free_port


class _CountingSMTP(SMTP):
    def connection_made(self, transport: Any) -> None:
        self.event_handler.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class MailSink:
    """Keeps every message it is handed; `for_address` answers what one recipient got.

    `connections` counts SMTP connections (the controller's own start-up probe included: compare differences).
    Misbehaviour on request: `refuse` answers 550 to RCPT of those addresses; `drop_once` hangs up instead of
    answering the DATA of the first message to such an address (a connection lost mid-round).
    `smtp` goes to aiosmtpd's SMTP (STARTTLS, AUTH); `sessions` says per message whether it came over TLS and who
    logged in.
    """

    def __init__(self, **smtp: Any) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.sessions: list[tuple[bool, str | None]] = []
        self.connections = 0
        self.refuse: set[str] = set()
        self.drop_once: set[str] = set()
        self.port = free_port()
        self._controller = _Controller(self, hostname="127.0.0.1", port=self.port, **smtp)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        dropped = self.drop_once.intersection(envelope.rcpt_tos)
        if dropped:
            self.drop_once -= dropped
            server.transport.close()
            return "421 4.3.0 Connection dropped by the test"  # never arrives: the connection is gone
        content = envelope.original_content or envelope.content
        message = message_from_bytes(content if isinstance(content, bytes) else content.encode(),
                                     policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        login = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
        self.sessions.append((session.ssl is not None, login))
        return "250 OK"

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def for_address(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]

    def with_message_ids(self, ids: set[str]) -> list[tuple[list[str], EmailMessage]]:
        """Every copy taken of these messages (a resend keeps its Message-ID): on a Kafka shared with another test
        run, a service also mails what that run's events bring, so a test counts its own deliveries' mails."""
        return [(rcpts, m) for rcpts, m in self.messages if m["Message-ID"] in ids]

    async def received(self, address: str, subject_part: str = "") -> list[EmailMessage]:
        """What `address` got with `subject_part` in the subject, in the shape `eventually` polls.

        Other services' tests publish on the same topics in a full run, so tests look for their own mail only.
        """
        return [m for m in self.for_address(address) if subject_part in str(m["Subject"])]


@dataclass
class Hook:
    """One receiving endpoint. Other services' tests may publish events this hook's partner is subscribed to, so
    behaviour and questions are per webhook-id / event id."""

    secret: str
    fail_first: int = 0  # answer 500 to the first N requests of each webhook-id, then 2xx
    always_fail: bool = False
    hold_event: str | None = None  # keep the first request of this event open until released (or the sender dies)
    released: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def of_event(self, event_id: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["body"]["id"] == event_id]

    def ids_of(self, event_id: str) -> list[str]:
        return [r["id"] for r in self.of_event(event_id)]


def verify(secret: str, headers: Any, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.partition(",")[2] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in offered)


class WebhookReceiver:
    def __init__(self) -> None:
        self.hooks: dict[str, Hook] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hook = receiver.hooks.get(self.path.removeprefix("/hook/"))
                if hook is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                ok = verify(hook.secret, self.headers, body)
                webhook_id = self.headers["webhook-id"]
                data = json.loads(body)
                with receiver.lock:
                    hook.requests.append({"id": webhook_id, "at": time.monotonic(), "verified": ok, "body": data})
                    seen = sum(1 for r in hook.requests if r["id"] == webhook_id)
                    failing = hook.always_fail or seen <= hook.fail_first
                if hook.hold_event == data["id"] and len(hook.of_event(data["id"])) == 1:
                    hook.released.wait(60)
                    return  # the sender is gone by now; nobody reads an answer
                status = 401 if not ok else 500 if failing else 204
                self.send_response(status)
                self.end_headers()

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    def add(self, name: str, **options: Any) -> Hook:
        secret = "whsec_" + base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()
        self.hooks[name] = Hook(secret=secret, **options)
        return self.hooks[name]

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        for hook in self.hooks.values():
            hook.released.set()
        self._server.shutdown()
        self._server.server_close()
