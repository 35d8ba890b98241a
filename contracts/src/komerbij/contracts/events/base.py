"""The base of every event model.

An event class names its CloudEvents type (versioned: a breaking change needs a new `.v2` class), the topic it travels
on and the field whose value is the Kafka key, so ordering per key holds from outbox to consumer.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    KEY_FIELD: ClassVar[str]

    @property
    def key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))

    @classmethod
    def short_name(cls) -> str:
        return cls.__name__
