"""A media-monitoring vendor's CSV export, read into mention candidates row by row.

Vendors name their columns differently (and in Dutch or English), so columns are found through a mapping: the
defaults below, overridden per import. A bad row is reported with its line and field and skipped; the good rows are
kept. Dates without a time zone are Dutch time.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from komerbij.media.domain.urls import InvalidUrl, canonical_url
from komerbij.runtime.reference import fold

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FIELDS = ("outlet", "title", "published_at", "url", "summary", "reach", "medium", "scope", "programme")
REQUIRED = ("outlet", "title", "published_at")
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "outlet": ("outlet", "bron", "source", "mediatitel", "publicatie", "publication"),
    "title": ("title", "titel", "kop", "headline"),
    "published_at": ("published_at", "date", "datum", "publicatiedatum", "published"),
    "url": ("url", "link"),
    "summary": ("summary", "samenvatting", "lead", "snippet", "tekst"),
    "reach": ("reach", "bereik", "oplage", "audience"),
    "medium": ("medium", "mediatype", "media type", "soort"),
    "scope": ("scope", "niveau", "dekking"),
    "programme": ("programme", "programma", "pagina", "page", "rubriek"),
}
MEDIUM_WORDS = {
    "tv": "tv", "televisie": "tv", "television": "tv", "radio": "radio", "print": "print", "krant": "print",
    "dagblad": "print", "tijdschrift": "print", "magazine": "print", "online": "online", "web": "online",
    "nieuwssite": "online", "website": "online", "social": "social", "sociale media": "social",
    "social media": "social", "podcast": "podcast",
}
SCOPE_WORDS = {"national": "national", "landelijk": "national", "regional": "regional", "regionaal": "regional",
               "local": "local", "lokaal": "local"}
_DATE_FORMATS = ("%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d")


class MappingError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ExportRow:
    line: int
    outlet: str
    title: str
    published_at: datetime
    url: str | None
    summary: str
    reach: int | None
    medium: str | None
    scope: str | None
    programme: str | None


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


def _columns(header: list[str], mapping: dict[str, str] | None) -> dict[str, int]:
    folded = {fold(h).strip(): i for i, h in enumerate(header)}
    found: dict[str, int] = {}
    for field in FIELDS:
        if mapping and field in mapping:
            wanted = fold(mapping[field]).strip()
            if wanted not in folded:
                raise MappingError(f"mapping.{field}", f"kolom {mapping[field]!r} staat niet in het bestand")
            found[field] = folded[wanted]
            continue
        for name in DEFAULT_COLUMNS[field]:
            if name in folded:
                found[field] = folded[name]
                break
    for field in REQUIRED:
        if field not in found:
            raise MappingError(f"mapping.{field}", "geen kolom gevonden; geef de kolomnaam op in de mapping")
    return found


def parse_datetime(value: str) -> datetime:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError("onbekende datum; gebruik bijvoorbeeld 2027-09-30 of 30-09-2027 14:00") from None
    if isinstance(parsed, date) and not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=AMSTERDAM)


def parse_reach(value: str) -> int | None:
    text = re.sub(r"[\s.,]", "", value)
    if not text:
        return None
    if not text.isdigit():
        raise ValueError("bereik moet een heel getal zijn")
    return int(text)


def _row(line: int, cells: list[str], columns: dict[str, int]) -> ExportRow:
    def cell(field: str) -> str:
        i = columns.get(field)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    values: dict[str, object] = {}
    for field in REQUIRED:
        if not cell(field):
            raise _Bad(field, "verplicht veld is leeg")
    values["published_at"] = _field("published_at", parse_datetime, cell("published_at"))
    values["reach"] = _field("reach", parse_reach, cell("reach"))
    url = cell("url") or None
    if url:
        _field("url", canonical_url, url)
    medium = cell("medium")
    if medium and fold(medium) not in MEDIUM_WORDS:
        raise _Bad("medium", f"onbekend medium {medium!r}")
    scope = cell("scope")
    if scope and fold(scope) not in SCOPE_WORDS:
        raise _Bad("scope", f"onbekend bereikgebied {scope!r}; landelijk, regionaal of lokaal")
    return ExportRow(
        line=line, outlet=cell("outlet"), title=cell("title"), published_at=values["published_at"],  # type: ignore[arg-type]
        url=url, summary=cell("summary"), reach=values["reach"],  # type: ignore[arg-type]
        medium=MEDIUM_WORDS[fold(medium)] if medium else None, scope=SCOPE_WORDS[fold(scope)] if scope else None,
        programme=cell("programme") or None,
    )


class _Bad(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _field(field: str, parse, value: str):  # type: ignore[no-untyped-def]
    try:
        return parse(value)
    except (ValueError, InvalidUrl) as exc:
        raise _Bad(field, str(exc) if field != "url" else "geen geldige http(s)-link") from None


def decode(data: bytes) -> str:
    """Vendor exports come as UTF-8 (with or without BOM) or, from older spreadsheet tools, Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def parse_export(text: str, mapping: dict[str, str] | None = None) -> tuple[list[ExportRow], list[RowError]]:
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise MappingError("file", "het bestand is leeg")
    columns = _columns(header, mapping)
    rows: list[ExportRow] = []
    errors: list[RowError] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            try:
                rows.append(_row(reader.line_num, cells, columns))
            except _Bad as bad:
                errors.append(RowError(reader.line_num, bad.field, str(bad)))
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KB field limit: no export has one
        raise MappingError("file", f"regel {reader.line_num} is geen leesbare CSV ({exc})") from None
    return rows, errors
