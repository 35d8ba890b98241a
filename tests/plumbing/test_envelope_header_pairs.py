"""`header_pairs` (the CloudEvents headers as text, which the outbox and notifications' notices store) is what
`to_kafka_headers` puts on a record, and what `from_kafka_headers` reads back (issue 19 made both one function)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from komerbij.contracts import CloudEventAttributes, from_kafka_headers, header_pairs, to_kafka_headers

FULL = CloudEventAttributes(id="e-1", source="/komerbij/registration", type="nl.komerbij.x.v1",
                            time=datetime(2027, 10, 1, 12, 30, 5, 123456, tzinfo=UTC), subject="k",
                            correlationid="c-1")
BARE = CloudEventAttributes(id="e-2", source="/s", type="t",
                            time=datetime(2027, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def _as_before(attrs: CloudEventAttributes) -> list[tuple[str, bytes]]:
    """`to_kafka_headers` as it was written before issue 19: the reference."""
    headers: list[tuple[str, bytes]] = []
    for name in ("id", "source", "type", "specversion", "subject", "correlationid"):
        value = getattr(attrs, name)
        if value is not None:
            headers.append(("ce_" + name, value.encode()))
    headers.append(("ce_time", attrs.time.isoformat().encode()))
    headers.append(("content-type", attrs.datacontenttype.encode()))
    return headers


@pytest.mark.parametrize("attrs", [FULL, BARE], ids=["all attributes", "no subject or correlation id"])
def test_header_pairs_are_the_kafka_headers_as_text_and_read_back(attrs: CloudEventAttributes) -> None:
    assert to_kafka_headers(attrs) == _as_before(attrs)
    assert header_pairs(attrs) == [[k, v.decode()] for k, v in _as_before(attrs)]
    assert from_kafka_headers(to_kafka_headers(attrs)) == attrs
