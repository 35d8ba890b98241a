"""The far ends of notifications' wires, each one a fault can be done to: an SMTP server that can be taken down and
brought back on the same port, and a webhook receiver that answers 200, 500 or slowly on request.

Both keep everything they were handed, duplicates included: the invariants count what arrived, not what a
deduplicating mail program or receiver would show.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from aiosmtpd.controller import Controller
from notifications.receivers import verify

from komerbij.devtools.processes import free_port


@dataclass(frozen=True)
class Mail:
    message_id: str
    recipients: tuple[str, ...]
    subject: str
    received_at: float


class Mailbox:
    """An aiosmtpd server on a port of its own; `stop()` drops it (sessions too, as a crash would), `start()` brings a
    new one up on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else content.encode()
        message = message_from_bytes(raw, policy=policy.default)
        mail = Mail(str(message["Message-ID"] or ""), tuple(envelope.rcpt_tos), str(message["Subject"] or ""),
                    time.monotonic())
        with self._lock:
            self.mails.append(mail)
        return "250 OK"

    @property
    def up(self) -> bool:
        return self._controller is not None

    def start(self) -> Mailbox:
        if self._controller is None:
            controller = Controller(self, hostname="127.0.0.1", port=self.port)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def snapshot(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)


Mode = Literal["ok", "fail", "slow"]


@dataclass(frozen=True)
class Call:
    webhook_id: str
    event_id: str
    verified: bool
    status: int  # what the receiver answered (a slow answer may reach a sender that gave up already)
    processed: bool  # acted upon: a 2xx answer, slow or not


class Receiver:
    """A webhook receiver (Standard Webhooks signatures checked) whose behaviour a fault switches: `ok` answers 204,
    `fail` answers 500 without acting, `slow` acts and answers 204 only after `slow_seconds` (longer than the sender
    waits, so the sender sees a timeout for a message that was in fact taken)."""

    def __init__(self, secret: str, slow_seconds: float = 6.0) -> None:
        self.secret = secret
        self.mode: Mode = "ok"
        self.slow_seconds = slow_seconds
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                ok = verify(receiver.secret, self.headers, body)
                try:
                    event_id = str(json.loads(body).get("id"))
                except ValueError:
                    event_id = ""
                mode = receiver.mode
                status = 401 if not ok else 500 if mode == "fail" else 204
                with receiver._lock:
                    receiver.calls.append(Call(self.headers.get("webhook-id", ""), event_id, ok, status,
                                               processed=status == 204))
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)
