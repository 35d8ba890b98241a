"""Importing a monitoring vendor's CSV export: good rows become mentions, bad rows are reported, not fatal.

The whole import is one transaction. A row naming an outlet we do not know creates it when the row says which
medium and scope it is; otherwise the row is reported, so coverage is never skewed by guessed media.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from komerbij.media.adapters import store
from komerbij.media.domain.monitoring_export import RowError, parse_export
from komerbij.media.service.recording import Candidate, record
from komerbij.media.settings import settings_of
from komerbij.runtime.service import Runtime


@dataclass
class ImportReport:
    created: list[uuid.UUID] = field(default_factory=list)
    already_known: list[uuid.UUID] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    outlets_created: list[uuid.UUID] = field(default_factory=list)


async def import_export(rt: Runtime, text: str, mapping: dict[str, str] | None, now: datetime) -> ImportReport:
    rows, errors = parse_export(text, mapping)  # raises MappingError for a missing column: the caller says 422
    report = ImportReport(errors=errors)
    window = timedelta(hours=settings_of(rt).media_syndication_window_hours)
    async with rt.uow() as uow:
        for row in rows:
            outlet = await store.outlet_by_name(uow.conn, row.outlet)
            if outlet is None:
                if not (row.medium and row.scope):
                    report.errors.append(RowError(row.line, "outlet", f"onbekend medium {row.outlet!r}; voeg het "
                                                  "eerst toe of vul de kolommen medium en bereikgebied"))
                    continue
                outlet = await store.insert_outlet(uow.conn, uuid.uuid4(), {
                    "name": row.outlet, "medium": row.medium, "scope": row.scope})
                assert outlet is not None
                report.outlets_created.append(outlet["id"])
            result = await record(uow, Candidate(
                outlet_id=outlet["id"], outlet_name=outlet["name"], source="import", title=row.title,
                summary=row.summary, url=row.url, programme=row.programme, reach=row.reach,
                published_at=row.published_at,
            ), now=now, window=window)
            (report.created if result.created else report.already_known).append(result.id)
    report.errors.sort(key=lambda e: e.line)
    return report
