"""Held edits: a change to what the public reads of a published activity, waiting for a moderator.

The activity itself keeps the approved version (what the agenda, the page and the calendars show); the edit holds
only the proposed values of the held fields (`activity.HELD_FIELDS`), in the form the API takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from komerbij.registration.domain.activity import HELD_FIELDS

EditStatus = Literal["pending", "approved", "rejected", "superseded", "withdrawn"]


@dataclass(frozen=True)
class HeldEdit:
    id: str
    activity_id: str
    status: EditStatus
    fields: dict[str, Any]
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


def held_part(approved: Mapping[str, Any], intended: Mapping[str, Any]) -> dict[str, Any]:
    """The held fields whose intended value differs from the approved one (both in the same, API form)."""
    return {k: intended[k] for k in HELD_FIELDS if intended[k] != approved[k]}


def difference(approved: Mapping[str, Any], proposed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a moderator compares: per changed field, the approved and the proposed value."""
    return [{"field": k, "approved": approved.get(k), "proposed": proposed[k]} for k in HELD_FIELDS if k in proposed]
