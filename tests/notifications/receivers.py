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

from komerbij.devtools.processes import free_port


class MailSink:
    """Keeps every message it is handed; `for_address` answers what one recipient got."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = message_from_bytes(content if isinstance(content, bytes) else content.encode(),
                                     policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def for_address(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]

    async def received(self, address: str) -> list[EmailMessage]:
        """`for_address` in the shape `eventually` polls."""
        return self.for_address(address)

    def unique_for(self, address: str) -> dict[str, EmailMessage]:
        """By Message-ID: what a recipient whose mail program dedupes would see."""
        return {m["Message-ID"]: m for m in self.for_address(address)}


@dataclass
class Hook:
    secret: str
    fail_first: int = 0  # answer 500 this many times, then 200
    always_fail: bool = False
    hold_first: bool = False  # keep the first request open until released (or the sender dies)
    released: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)
    processed: set[str] = field(default_factory=set)

    def ids(self) -> list[str]:
        return [r["id"] for r in self.requests]

    def event_ids(self) -> list[str]:
        return [r["body"]["id"] for r in self.requests]


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
                with receiver.lock:
                    hook.requests.append({"id": self.headers["webhook-id"], "at": time.monotonic(),
                                          "verified": ok, "body": json.loads(body)})
                    first = len(hook.requests) == 1
                    failing = hook.always_fail or len(hook.requests) <= hook.fail_first
                    if ok and (not failing or (hook.hold_first and first)):
                        # Standard Webhooks receivers act on a webhook-id once; a repeat only gets its 2xx.
                        hook.processed.add(self.headers["webhook-id"])
                if hook.hold_first and first:
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
