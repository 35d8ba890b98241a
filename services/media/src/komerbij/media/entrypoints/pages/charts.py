"""Charts drawn on the server as inline SVG: no script, nothing fetched, readable without CSS.

Every chart is an image with a title and a description (`role="img"`), and the page puts the same numbers in a table
beside it, which is what screen readers and spreadsheets use. Colours are presentation attributes (the pages' CSP
allows no inline styles): articles in berry, syndicated copies in orange, each at more than 3:1 against the cream
page, and copies stand 2 px apart from the articles so that the two never touch. Widths are percentages and text
keeps its size, so the charts fit a phone without shrinking their labels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

from komerbij.media.entrypoints.pages.rendering import number, short_day

ARTICLE_FILL = "#7a1f3d"  # berry: 10.0:1 on cream #fff8ee
COPY_FILL = "#c2410c"  # orange: 5.2:1 on cream
INK = "#1f1a17"
GRID = "#8c7f73"  # 3.6:1 on cream
HALO = "#fff8ee"
FONT_SIZE = 15
_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    articles: int
    copies: int

    @property
    def mentions(self) -> int:
        return self.articles + self.copies


def _pct(part: float, whole: float) -> str:
    return f"{(100 * part / whole) if whole else 0:.3f}%"


def _frame(title: str, description: str, height: int, body: list[str]) -> Markup:
    n = next(_ids)
    head = (f'<svg class="komerbij-chart" width="100%" height="{height}" role="img" '
            f'aria-labelledby="grafiek-{n}-titel grafiek-{n}-uitleg" xmlns="http://www.w3.org/2000/svg" '
            f'font-size="{FONT_SIZE}" fill="{INK}">'
            f'<title id="grafiek-{n}-titel">{escape(title)}</title>'
            f'<desc id="grafiek-{n}-uitleg">{escape(description)}</desc>')
    return Markup(head + "".join(body) + "</svg>")


def _legend(y: int) -> list[str]:
    return [
        f'<rect x="0" y="{y - 11}" width="12" height="12" fill="{ARTICLE_FILL}"/>',
        f'<text x="18" y="{y}">artikel</text>',
        f'<rect x="90" y="{y - 11}" width="12" height="12" fill="{COPY_FILL}"/>',
        f'<text x="108" y="{y}">overgenomen kopie</text>',
    ]


def _label(x: str, y: float, text: str, *, anchor: str = "start", dx: int = 0) -> str:
    """Text with a cream halo, legible where it crosses a bar or a grid line."""
    return (f'<text x="{x}" y="{y:g}" dx="{dx}" text-anchor="{anchor}" stroke="{HALO}" stroke-width="4" '
            f'stroke-linejoin="round" paint-order="stroke">{escape(text)}</text>')


ROW_HEIGHT = 46
BAR_HEIGHT = 16
BAR_ROOM = 0.82  # the longest bar takes 82% of the width; its number goes after it


def bar_chart(bars: Sequence[Bar], title: str, description: str) -> Markup:
    """One row per category: its name, then a bar of articles and copies, then the number of mentions."""
    most = max((b.mentions for b in bars), default=0)
    scale = most / BAR_ROOM if most else 1
    has_copies = any(b.copies for b in bars)
    top = 26 if has_copies else 4
    body = _legend(14) if has_copies else []
    for i, bar in enumerate(bars):
        y = top + i * ROW_HEIGHT
        body.append(f'<text x="0" y="{y + 14}">{escape(bar.label)}</text>')
        bar_y = y + 20
        if bar.articles:
            body.append(f'<rect x="0" y="{bar_y}" width="{_pct(bar.articles, scale)}" height="{BAR_HEIGHT}" '
                        f'fill="{ARTICLE_FILL}"/>')
        if bar.copies:
            shift = 2 if bar.articles else 0
            body.append(f'<rect x="{_pct(bar.articles, scale)}" y="{bar_y}" width="{_pct(bar.copies, scale)}" '
                        f'height="{BAR_HEIGHT}" fill="{COPY_FILL}" transform="translate({shift} 0)"/>')
        body.append(f'<text x="{_pct(bar.mentions, scale)}" y="{bar_y + 13}" dx="8" '
                    f'font-weight="700">{number(bar.mentions)}</text>')
    return _frame(title, description, top + len(bars) * ROW_HEIGHT + 4, body)


PLOT_TOP, PLOT_HEIGHT, AXIS_ROOM = 30, 190, 34
MAX_DAY_LABELS = 7


def _ticks(most: int) -> list[int]:
    """Up to four round grid values from 0 to at least `most`."""
    if most <= 0:
        return [0]
    raw = most / 3
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return list(range(0, most + step, step))


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_chart(days: Sequence[date], counts: dict[date, Bar], title: str, description: str) -> Markup:
    """Mentions per day as columns, every day of the period (days without a mention stay empty)."""
    n = max(len(days), 1)
    ticks = _ticks(max((b.mentions for b in counts.values()), default=0))
    top_value = ticks[-1] or 1
    has_copies = any(b.copies for b in counts.values())
    body = _legend(14) if has_copies else []

    def y_of(value: float) -> float:
        return PLOT_TOP + PLOT_HEIGHT * (1 - value / top_value)

    for tick in ticks:
        y = y_of(tick)
        body.append(f'<line x1="0" x2="100%" y1="{y:g}" y2="{y:g}" stroke="{GRID}" stroke-width="1"/>')
    # the columns in a plot of their own: one unit per day across, one per mention up
    gap = top_value * 2 / PLOT_HEIGHT  # ~2 px between articles and copies
    columns = [f'<svg x="0" y="{PLOT_TOP}" width="100%" height="{PLOT_HEIGHT}" viewBox="0 0 {n} {top_value}" '
               f'preserveAspectRatio="none">']
    for i, day in enumerate(days):
        bar = counts.get(day)
        if bar is None or not bar.mentions:
            continue
        width, x = 0.7, i + 0.15
        if bar.articles:
            columns.append(f'<rect x="{x:g}" y="{top_value - bar.articles:g}" width="{width}" '
                           f'height="{bar.articles:g}" fill="{ARTICLE_FILL}"/>')
        if bar.copies:
            lift = gap if bar.articles else 0
            columns.append(f'<rect x="{x:g}" y="{top_value - bar.mentions - lift:g}" width="{width}" '
                           f'height="{bar.copies:g}" fill="{COPY_FILL}"/>')
    columns.append("</svg>")
    body += columns
    for tick in ticks[1:]:
        body.append(_label("100%", y_of(tick) - 4, number(tick), anchor="end"))
    stride = max(1, math.ceil(n / MAX_DAY_LABELS))
    axis_y = PLOT_TOP + PLOT_HEIGHT + 22
    for i in range(0, len(days), stride):
        if i / n > 0.88:
            break  # no room for its label at the right edge
        body.append(f'<line x1="{_pct(i + 0.5, n)}" x2="{_pct(i + 0.5, n)}" y1="{PLOT_TOP + PLOT_HEIGHT}" '
                    f'y2="{PLOT_TOP + PLOT_HEIGHT + 6}" stroke="{GRID}"/>')
        body.append(f'<text x="{_pct(i + 0.5, n)}" y="{axis_y}" dx="-4">{escape(short_day(days[i]))}</text>')
    return _frame(title, description, PLOT_TOP + PLOT_HEIGHT + AXIS_ROOM, body)
