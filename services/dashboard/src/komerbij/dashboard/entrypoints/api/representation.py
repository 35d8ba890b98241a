"""The figures as JSON (field names in English, as every API here)."""

from __future__ import annotations

from typing import Any

from komerbij.dashboard.domain.figures import Counts, Line, MunicipalityFigures, Overview
from komerbij.runtime.reference import Municipality


def _place(m: Municipality) -> dict[str, str]:
    return {"code": m.code, "name": m.name, "province": m.province}


def municipality_json(f: MunicipalityFigures) -> dict[str, Any]:
    a, o, m = f.activities, f.orders, f.mentions
    return {
        "municipality": _place(f.municipality),
        "edition": f.edition,
        "participating": f.participating,
        "activities": {
            "by_status": dict(a.by_status),
            "by_category": [{"category": c, "published": n} for c, n in a.by_category],
            "signups": a.signups, "participants": a.participants, "waitlisted": a.waitlisted,
            "capacity": a.capacity, "participants_in_limited": a.participants_limited,
            "published_with_limit": a.limited, "fill_rate": a.fill_rate,
        },
        "kit_orders": {
            "total": o.total, "by_status": dict(o.by_status), "items": o.items, "delivered": o.delivered,
            "items_delivered": o.items_delivered,
        },
        "mentions": {
            "total": m.total, "articles": m.articles, "copies": m.copies, "reach_estimate": m.reach,
            "reach_unknown": m.reach_unknown,
            "latest": [{"title": x.title, "url": x.url, "outlet": x.outlet_name, "medium": x.medium,
                        "published_at": x.published_at.isoformat(), "copy": x.is_copy} for x in m.latest],
        },
    }


def _counts(c: Counts) -> dict[str, Any]:
    return {**{k: getattr(c, k) for k in c.__dataclass_fields__}, "fill_rate": c.fill_rate}


def _line(line: Line) -> dict[str, Any]:
    return {"key": line.key, "name": line.name, "municipalities": line.municipalities,
            "participating": line.participating, **_counts(line.counts)}


def overview_json(o: Overview) -> dict[str, Any]:
    return {
        "edition": o.edition,
        "municipalities_total": o.country.municipalities,
        "participating_total": o.country.participating,
        "mentions_distinct": o.mentions_in_country,
        "country": _line(o.country),
        "provinces": [_line(p) for p in o.provinces],
        "participating": [{**_place(m), **_counts(c)} for m, c in o.participating],
    }
