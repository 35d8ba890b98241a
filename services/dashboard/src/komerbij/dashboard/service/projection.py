"""Applying a run of events to the read model, in the consumer's inbox transaction (set-based: one statement per
table and run, not one per event)."""

from __future__ import annotations

from datetime import datetime

from komerbij.contracts.events import materials as mat
from komerbij.contracts.events import media as med
from komerbij.contracts.events import registration as reg
from komerbij.contracts.events.base import Event
from komerbij.dashboard.adapters import model
from komerbij.dashboard.domain.entities import (
    Version,
    activity_row,
    mention_row,
    order_row,
    rank_of,
    signup_row,
)
from komerbij.runtime.consumer import EventContext


def row_of(event: Event) -> model.Row:
    if isinstance(event, reg.ActivityEvent):
        return activity_row(event)
    if isinstance(event, reg.SignupEvent):
        return signup_row(event)
    if isinstance(event, mat.OrderEvent):
        return order_row(event)
    if isinstance(event, med.MentionEvent):
        return mention_row(event)
    raise TypeError(f"the dashboard keeps nothing of {type(event).__name__}")


async def apply(batch: list[tuple[Event, EventContext]]) -> None:
    conn = batch[0][1].conn
    rows = []
    newest: dict[str, datetime] = {}
    for event, ctx in batch:
        row = row_of(event)
        when = ctx.attributes.time
        rows.append((row, Version(rank_of(row), when, ctx.partition, ctx.offset)))
        newest[ctx.topic] = max(newest.get(ctx.topic, when), when)
    await model.apply(conn, rows)
    await model.record_progress(conn, newest)
