"""Input of the nieuwsflits: what an edition is composed of. The pages read their forms into the same model."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
MAX_SECTIONS = 6
MAX_ACTIVITIES = 12
MAX_DATES = 10


class SectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: Line
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class DateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    label: Line


class EditionIn(BaseModel):
    """An edition as comms compose it. "In de media" is every featured mention published from `period_from` up to
    and including `period_to`; `activity_ids` are picked from the agenda, shown in this order."""

    model_config = ConfigDict(extra="forbid")

    title: Line
    intro: Text = ""
    period_from: date | None = None
    period_to: date | None = None
    sections: list[SectionIn] = Field(default=[], max_length=MAX_SECTIONS)
    activity_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default=[], max_length=MAX_ACTIVITIES)
    dates: list[DateIn] = Field(default=[], max_length=MAX_DATES)
