"""How outlets, feeds and mentions look to API clients (JSON) and to spreadsheets (CSV)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from komerbij.media.adapters.store import Row
from komerbij.media.domain.places import provinces_of
from komerbij.runtime.csvcells import csv_text

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def outlet_json(r: Row) -> dict[str, Any]:
    return {"id": str(r["id"]), "name": r["name"], "medium": r["medium"], "scope": r["scope"],
            "province": r["province"], "municipality": r["municipality"], "reach": r["reach"],
            "reach_source": r["reach_source"], "reach_date": r["reach_date"].isoformat() if r["reach_date"] else None}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def feed_json(r: Row) -> dict[str, Any]:
    return {"id": str(r["id"]), "outlet_id": str(r["outlet_id"]), "outlet_name": r["outlet_name"], "url": r["url"],
            "interval_seconds": r["interval_seconds"], "status": r["status"], "last_outcome": r["last_outcome"],
            "last_polled_at": _iso(r["last_polled_at"]), "last_success_at": _iso(r["last_success_at"]),
            "last_error": r["last_error"], "consecutive_failures": r["consecutive_failures"],
            "next_poll_at": _iso(r["next_poll_at"])}


def _mention_outlet(r: Row) -> dict[str, Any]:
    return {"id": str(r["outlet_id"]), "name": r["outlet_name"], "medium": r["medium"], "scope": r["scope"]}


def mention_json(r: Row, copies: list[Row]) -> dict[str, Any]:
    codes = list(r["municipalities"])
    return {
        "id": str(r["id"]), "title": r["title"], "summary": r["summary"], "url": r["url"],
        "canonical_url": r["canonical_url"], "outlet": _mention_outlet(r), "published_at": _iso(r["published_at"]),
        "medium": r["medium"], "scope": r["scope"], "programme": r["programme"], "note": r["note"],
        "reach_estimate": r["effective_reach"], "municipalities": codes,
        "provinces": provinces_of(codes, r["outlet_province"], r["outlet_municipality"]),
        "original_id": str(r["original_id"]) if r["original_id"] else None,
        "copies": [{"id": str(c["id"]), "outlet": _mention_outlet(c), "url": c["url"],
                    "published_at": _iso(c["published_at"])} for c in copies],
        "copies_count": len(copies), "sentiment": r["sentiment"], "tags": list(r["tags"]), "featured": r["featured"],
        "source": r["source"],
    }


CSV_COLUMNS = ("id", "published_at", "outlet", "medium", "scope", "title", "url", "programme", "municipalities",
               "provinces", "original_id", "copies_count", "reach_estimate", "sentiment", "tags", "featured", "source")


def mentions_csv(rows: Iterable[Row], copies_count: dict[Any, int]) -> str:
    # A feed title is anyone's text: csv_text keeps it from running as a spreadsheet formula.
    return csv_text(CSV_COLUMNS, (_mention_row(r, copies_count) for r in rows))


def _mention_row(r: Row, copies_count: dict[Any, int]) -> list[Any]:
    codes = list(r["municipalities"])
    return [r["id"], r["published_at"].astimezone(AMSTERDAM).isoformat(), r["outlet_name"], r["medium"], r["scope"],
            r["title"], r["url"], r["programme"], "|".join(codes),
            "|".join(provinces_of(codes, r["outlet_province"], r["outlet_municipality"])), r["original_id"],
            copies_count.get(r["id"], 0), r["effective_reach"], r["sentiment"], "|".join(r["tags"]),
            "ja" if r["featured"] else "nee", r["source"]]
