"""Importing a media-monitoring vendor's CSV export (`/media/import`): the same use case as
`POST /v1/mentions/import`. Good rows are kept, bad rows are listed by line and field with what is wrong, and the
page shows what was kept."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from komerbij.media.domain.monitoring_export import FIELDS, MappingError, decode
from komerbij.media.entrypoints.api.models import MAX_IMPORT_BYTES
from komerbij.media.entrypoints.pages.forms import fail
from komerbij.media.entrypoints.pages.rendering import COMMS, pages
from komerbij.media.service import imports, mentions
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.bodylimit import body_limit
from komerbij.runtime.http import field_error
from komerbij.runtime.service import runtime_of

router = web.page_router()
SHOWN_KEPT = 100  # a large import lists its first hundred; the list of mentions has them all

# The columns people may name when their vendor calls them something we do not recognise.
COLUMN_LABELS = {
    "outlet": "Medium (mediatitel)", "title": "Titel of kop", "published_at": "Datum", "url": "Link",
    "summary": "Samenvatting", "reach": "Bereik", "medium": "Soort medium", "scope": "Bereikgebied",
    "programme": "Programma of pagina",
}
ROW_FIELD_LABELS = {**COLUMN_LABELS, "file": "Bestand"}


def _render(request: Request, form: web.Form, status_code: int = 200, **report: object) -> HTMLResponse:
    # the column names stay in view when they were used or are what went wrong
    mapping_open = any(n.startswith("mapping.") for n in form.errors) or any(
        n.startswith("mapping.") and v.strip() for n, v in form.values.items())
    return pages.render(request, "import.html", status_code=status_code, form=form, fields=FIELDS,
                        mapping_open=mapping_open,
                        column_labels=COLUMN_LABELS, row_field_labels=ROW_FIELD_LABELS,
                        max_mb=MAX_IMPORT_BYTES // (1024 * 1024), report=report or None)


@router.get("/media/import", response_class=HTMLResponse)
async def import_form(request: Request, who: Principal = COMMS) -> HTMLResponse:
    return _render(request, web.Form())


@router.post("/media/import", response_class=HTMLResponse,
             openapi_extra=body_limit(MAX_IMPORT_BYTES + 64 * 1024))  # as the API: the file plus the form around it
async def import_file(request: Request, who: Principal = COMMS) -> HTMLResponse:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    upload = (await request.form()).get("file")  # parsed once, for the CSRF check; read again from its cache
    mapping = {f: v.strip() for f in FIELDS if (v := form.values.get(f"mapping.{f}", "")).strip()}
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _render(request, fail(form, field_error("file", "Kies het CSV-bestand van het monitoringbureau.")),
                       status_code=422)
    data = await upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return _render(request, fail(form, field_error("file", f"Het bestand is groter dan "
                                                               f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB.")),
                       status_code=422)
    try:
        report = await imports.import_export(rt, decode(data), mapping or None, rt.clock.now())
    except MappingError as exc:
        message = str(exc)
        if exc.field.startswith("mapping.") and exc.field not in {f"mapping.{f}" for f in mapping}:
            label = COLUMN_LABELS.get(exc.field.removeprefix("mapping."), exc.field)
            message = f"Geen kolom gevonden voor {label.lower()}: vul in hoe die kolom in uw bestand heet."
        return _render(request, fail(form, field_error(exc.field, message)), status_code=422)
    kept = await mentions.mentions_by_ids(rt, report.created[:SHOWN_KEPT])
    return _render(request, form, file_name=upload.filename, created=len(report.created),
                   already_known=len(report.already_known), outlets_created=len(report.outlets_created),
                   errors=report.errors, kept=kept)
