"""The coverage dashboard (`/media/dekking`): for a period, the totals and the mentions per day, medium, scope,
province, outlet and municipality, each as a chart drawn on the server with the same numbers in a table; a CSV of
those numbers and a print layout for the programme team's report.

The numbers are the API's `/v1/coverage` (the same use case). Reach is an estimate and says so; no money figure
(advertising-value equivalent) is ever shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from komerbij.media.domain.coverage import CampaignPeriod, campaign_period
from komerbij.media.domain.mentions import MEDIA, SCOPES
from komerbij.media.entrypoints.pages.charts import Bar, bar_chart, day_chart, days_of
from komerbij.media.entrypoints.pages.forms import fail, parse_day
from komerbij.media.entrypoints.pages.rendering import AMSTERDAM, COMMS, MEDIUM_LABELS, SCOPE_LABELS, pages
from komerbij.media.service import coverage as coverage_service
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.csvcells import csv_text
from komerbij.runtime.http import ProblemError, field_error
from komerbij.runtime.reference import dutch_date
from komerbij.runtime.service import runtime_of

router = web.page_router()
MAX_DAYS = 366  # a year; a longer view is the API's or the CSV's
CHART_ROWS = 15  # more categories than this: the chart shows the largest, the table has them all


@dataclass
class Breakdown:
    """One way of splitting the period's mentions: a chart and the table with the same numbers."""

    key: str
    heading: str
    rows: list[dict[str, Any]]
    chart: Markup
    note: str = ""
    label_heading: str = "Naam"
    charted: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _bars(rows: list[dict[str, Any]]) -> list[Bar]:
    return [Bar(r["label"], r["articles"], r["copies"]) for r in rows]


def _labelled(rows: list[dict[str, Any]], labels: dict[str, str] | None = None,
              order: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    out = [{**r, "label": (labels or {}).get(r["key"], r.get("name") or r["key"])} for r in rows]
    if order is not None:
        return sorted(out, key=lambda r: order.index(r["key"]) if r["key"] in order else len(order))
    return sorted(out, key=lambda r: (-r["mentions"], r["label"].lower()))


def _category(key: str, heading: str, rows: list[dict[str, Any]], what: str, note: str = "",
              label_heading: str = "Naam") -> Breakdown:
    shown = rows[:CHART_ROWS]
    description = "; ".join(f"{r['label']}: {r['mentions']}" for r in shown) or "geen vermeldingen"
    if len(rows) > len(shown):
        description += f"; en nog {len(rows) - len(shown)} met minder vermeldingen (zie de tabel)"
    chart = bar_chart(_bars(shown), f"Vermeldingen {what}", description) if rows else Markup("")
    return Breakdown(key, heading, rows, chart, note, label_heading, len(shown))


def breakdowns(report: dict[str, Any], start: date, end: date) -> list[Breakdown]:
    day_rows = [{**r, "label": dutch_date(date.fromisoformat(r["key"]))} for r in report["by_day"]]
    counts = {date.fromisoformat(r["key"]): Bar(r["label"], r["articles"], r["copies"]) for r in day_rows}
    busiest = sorted(day_rows, key=lambda r: -r["mentions"])[:3]
    description = (f"Van {dutch_date(start)} tot en met {dutch_date(end)}. Drukste dagen: "
                   + ", ".join(f"{r['label']} ({r['mentions']})" for r in busiest) if busiest
                   else "Geen vermeldingen in deze periode.")
    per_day = Breakdown("dag", "Vermeldingen per dag", day_rows,
                        day_chart(days_of(start, end), counts, "Vermeldingen per dag", description),
                        "De tabel noemt alleen de dagen met vermeldingen.", "Dag")
    return [
        per_day,
        _category("medium", "Per soort medium", _labelled(report["by_medium"], MEDIUM_LABELS, MEDIA),
                  "per soort medium", label_heading="Soort medium"),
        _category("bereikgebied", "Landelijk, regionaal of lokaal",
                  _labelled(report["by_scope"], SCOPE_LABELS, SCOPES), "per bereikgebied",
                  label_heading="Bereikgebied"),
        _category("provincie", "Per provincie", _labelled(report["by_province"]), "per provincie",
                  "Een vermelding telt mee in elke provincie die ze betreft: die van het medium en die van de "
                  "plaatsen die ze noemt. Landelijke vermeldingen zonder plaats staan in geen provincie.",
                  "Provincie"),
        _category("mediatitel", "Per mediatitel", _labelled(report["by_outlet"]), "per mediatitel",
                  label_heading="Mediatitel"),
        _category("gemeente", "Per gemeente", _labelled(report["by_municipality"]), "per gemeente",
                  "Een vermelding telt mee bij elke gemeente die ze noemt.", "Gemeente"),
    ]


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def query(self) -> str:
        return f"from={self.start.isoformat()}&to={self.end.isoformat()}"


def read_period(request: Request, default: CampaignPeriod) -> tuple[web.Form, Period | None]:
    """The period asked for (from/to, as the API names them), or the campaign's; None with messages at the fields."""
    asked = {k: request.query_params.get(k, "").strip() for k in ("from", "to")}
    form = web.Form(values={k: v for k, v in asked.items() if v})
    days: dict[str, date] = {}
    for name, fallback, example in (("from", default.start, "1-9-2026"), ("to", default.end, "31-10-2026")):
        if not asked[name]:
            days[name] = fallback
            form.values[name] = fallback.isoformat()
            continue
        try:
            days[name] = parse_day(asked[name])
        except ValueError:
            form.errors[name] = f"Vul een geldige datum in, bijvoorbeeld {example}."
    if form.errors:
        return form, None
    start, end = days["from"], days["to"]
    try:
        coverage_service.period_bounds(start, end)
        if end < start:
            raise field_error("query.to", "De einddatum ligt voor de begindatum.")
        if (end - start).days >= MAX_DAYS:
            raise field_error("query.to", "Kies een periode van hoogstens een jaar; voor meer: de CSV per jaar.")
    except ProblemError as problem:
        return fail(form, problem), None
    return form, Period(start, end)


def _presets(default: CampaignPeriod) -> list[dict[str, str]]:
    last = campaign_period(default.week_start - timedelta(days=365))
    return [
        {"label": f"Week tegen Eenzaamheid {default.year}, met twee weken ervoor en erna",
         "query": f"from={default.start}&to={default.end}"},
        {"label": f"Alleen de week van {default.year} ({dutch_date(default.week_start)} tot en met "
                  f"{dutch_date(default.week_end)})", "query": f"from={default.week_start}&to={default.week_end}"},
        {"label": f"Week tegen Eenzaamheid {last.year}, met twee weken ervoor en erna",
         "query": f"from={last.start}&to={last.end}"},
    ]


@router.get("/media/dekking", response_class=HTMLResponse)
async def dashboard(request: Request, who: Principal = COMMS) -> HTMLResponse:
    rt = runtime_of(request)
    today = rt.clock.now().astimezone(AMSTERDAM).date()
    default = campaign_period(today)
    form, period = read_period(request, default)
    context: dict[str, Any] = {"form": form, "period": period, "presets": _presets(default), "today": today}
    if period is None:
        return pages.render(request, "coverage.html", status_code=422, report=None, breakdowns=[], **context)
    report = await coverage_service.coverage(rt, period.start, period.end)
    return pages.render(request, "coverage.html", report=report,
                        breakdowns=breakdowns(report, period.start, period.end), **context)


CSV_HEADER = ("indeling", "sleutel", "naam", "vermeldingen", "artikelen", "kopieen", "geschat_bereik",
              "vermeldingen_zonder_bereik")
_CSV_PARTS = (("dag", "by_day"), ("medium", "by_medium"), ("bereikgebied", "by_scope"),
              ("provincie", "by_province"), ("mediatitel", "by_outlet"), ("gemeente", "by_municipality"))


def coverage_csv(report: dict[str, Any]) -> str:
    """The dashboard's numbers, one row per bar, for the programme team's own spreadsheets."""
    totals = report["totals"]
    rows: list[list[Any]] = [["totaal", "", f"{report['from']} t/m {report['to']}", totals["mentions"],
                              totals["articles"], totals["copies"], totals["reach_estimate"],
                              totals["reach_unknown"]]]
    labels = {"medium": MEDIUM_LABELS, "bereikgebied": SCOPE_LABELS}
    for part, key in _CSV_PARTS:
        for r in report[key]:
            name = r.get("name") or labels.get(part, {}).get(r["key"], r["key"])
            rows.append([part, r["key"], name, r["mentions"], r["articles"], r["copies"], r["reach_estimate"],
                         r["reach_unknown"]])
    return csv_text(CSV_HEADER, rows)


@router.get("/media/dekking.csv")
async def dashboard_csv(request: Request, who: Principal = COMMS) -> Response:
    rt = runtime_of(request)
    default = campaign_period(rt.clock.now().astimezone(AMSTERDAM).date())
    form, period = read_period(request, default)
    if period is None:
        raise web.PageError(422, "Periode klopt niet", " ".join(form.errors.values()))
    report = await coverage_service.coverage(rt, period.start, period.end)
    name = f"dekking-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(coverage_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "private, no-store"})
