"""The matrix's table: one row per fault, as `make faults` prints it and docs/RELIABILITY.md records it."""

from __future__ import annotations

from typing import Any

COLUMNS = ("fault", "fault lasted", "accepted", "events", "lost", "duplicated", "resent (same id)", "time to recover")


def _cell(row: dict[str, Any], column: str) -> str:
    if column == "fault":
        return f"`{row['case']}`"
    if column == "fault lasted":
        return f"{row['fault_seconds']:.0f} s" if row["fault_seconds"] >= 0.5 else "—"
    if column == "accepted":
        accepted = row["accepted"]
        return ", ".join(f"{accepted.get(k, 0)} {name}" for k, name in
                         (("signup", "sign-ups"), ("order", "orders"), ("activity", "activities"),
                          ("mention", "mentions")))
    if column == "time to recover":
        if row["at_rest_after"] is None:
            return "not at rest"
        return f"{row['at_rest_after']:.1f} s" if row["holds"] else f"✗ (at rest after {row['at_rest_after']:.0f} s)"
    if column == "resent (same id)":
        return str(row["resent"])
    return str(row[column])


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(row, c) for c in COLUMNS) + " |" for row in rows]
    notes = [f"- `{row['case']}`: " + row["details"].replace("\n", "; ") for row in rows
             if row["details"] != "all invariants hold"]
    return "\n".join(lines + (["", *notes] if notes else []))
