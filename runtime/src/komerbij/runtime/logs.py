"""JSON-lines logging with the service name and the correlation id of the request or event being handled.

The correlation id lives in a context variable: the HTTP middleware sets it from `X-Correlation-ID` (or makes one),
the outbox copies it into the `ce_correlationid` header, and the consumer sets it again from there, so one id
follows a request through every service. Log calls pass ids and types, never names, addresses or phone numbers.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
event_type: ContextVar[str | None] = ContextVar("event_type", default=None)

# What a caller may choose as correlation id: a UUID, a W3C trace id, `req-1234`... Anything else (control
# characters that forge log lines, kilobytes that bloat every log line and Kafka header) is replaced.
_CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def accepted_correlation_id(value: str | bytes | None) -> str:
    """The caller's correlation id when it is short and plain, else a fresh one."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value and _CORRELATION_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id.get()
        record.event_type = getattr(record, "event_type", None) or event_type.get()
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{correlation_id}{event_type}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka reports every broker hiccup at ERROR; the relay and consumers report what matters themselves.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
