"""Use cases of the fulfilment partner that span many orders: the picklist as CSV, and status changes in bulk (a CSV
upload, or the orders ticked on the warehouse page).

Every change is its own transaction (`lifecycle.change_status`): a bad row is reported with its line and does not stop
the good ones, so the partner fixes the few and sends those again. The API and the warehouse page both call these.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from komerbij.materials.adapters import orders
from komerbij.materials.domain.orders import STATUSES, RuleViolation, TransitionNotAllowed, UnknownOrder
from komerbij.materials.service import lifecycle
from komerbij.runtime.csvcells import csv_text
from komerbij.runtime.service import Runtime

PICKLIST_COLUMNS = ("order_id", "municipality", "organisation", "attention", "street", "postcode", "city",
                    "wanted_by", "sku", "name", "unit", "quantity", "contents")
MAX_UPLOAD_BYTES = 2_000_000


@dataclass(frozen=True)
class StatusChange:
    """One requested move; `line` is the CSV line (or the position on the page) it came from."""

    line: int
    order_id: str | None
    status: str | None
    carrier: str | None = None
    tracking_code: str | None = None


@dataclass(frozen=True)
class Applied:
    line: int
    order_id: str
    status: str


@dataclass(frozen=True)
class RowError:
    line: int
    order_id: str | None
    field: str
    message: str


@dataclass(frozen=True)
class StatusResult:
    applied: list[Applied]
    errors: list[RowError]


async def picklist_csv(rt: Runtime) -> str:
    """Confirmed orders, one row per order line, kits spelled out; no contact data (an address is enough to ship)."""
    async with rt.pool.acquire() as conn:
        rows = await orders.picklist(conn)
    # Organisation, attention and address are typed by organisers: csv_text keeps them from running as formulas.
    return csv_text(PICKLIST_COLUMNS, ([r["id"], r["municipality"], r["organisation"], r["attention"], r["street"],
                                        r["postcode"], r["city"], r["wanted_by"], r["sku"], r["name"], r["unit"],
                                        r["quantity"], r["contents"]] for r in rows))


def decode_upload(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RuleViolation("file", "Het bestand is geen UTF-8-tekst; sla het op als CSV (UTF-8).") from None


def read_status_csv(text: str) -> list[StatusChange]:
    """Columns `order_id,status[,carrier,tracking_code]`, separated by `,` or `;` (Dutch spreadsheets write `;`).
    A file that cannot be read as such is a RuleViolation on `file`; a row with a problem of its own is not."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        columns = {(c or "").strip().lower() for c in reader.fieldnames or ()}
        missing = sorted({"order_id", "status"} - columns)
        if missing:
            raise RuleViolation("file", f"Kolom(men) ontbreken in de kopregel: {', '.join(missing)}.")
        changes = []
        for raw_row in reader:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw_row.items() if isinstance(v, str)}
            if not any(row.values()):
                continue
            changes.append(StatusChange(reader.line_num, row.get("order_id") or None, row.get("status") or None,
                                        row.get("carrier") or None, row.get("tracking_code") or None))
        return changes
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KB field limit: no status file has one
        raise RuleViolation("file", f"Regel {reader.line_num} is geen leesbare CSV ({exc}).") from None


async def apply_status_changes(rt: Runtime, changes: Iterable[StatusChange]) -> StatusResult:
    applied: list[Applied] = []
    errors: list[RowError] = []
    for change in changes:
        error = _check(change)
        if error is None:
            assert change.order_id is not None and change.status is not None
            try:
                await lifecycle.change_status(rt, change.order_id, change.status, rt.clock.now(),
                                              carrier=change.carrier, tracking_code=change.tracking_code)
            except RuleViolation as exc:
                error = RowError(change.line, change.order_id, exc.field, exc.message)
            except TransitionNotAllowed as exc:
                error = RowError(change.line, change.order_id, "status", exc.message_nl)
            except UnknownOrder:
                error = RowError(change.line, change.order_id, "order_id", "Bestelling niet gevonden")
            else:
                applied.append(Applied(change.line, change.order_id, change.status))
                continue
        errors.append(error)
    return StatusResult(applied, errors)


def _check(change: StatusChange) -> RowError | None:
    if not change.order_id or not change.status:
        return RowError(change.line, change.order_id, "order_id" if not change.order_id else "status",
                        "Bestelnummer en status zijn verplicht.")
    if change.status not in STATUSES:
        return RowError(change.line, change.order_id, "status", f"Onbekende status '{change.status}'.")
    return None
