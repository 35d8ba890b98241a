"""`/magazijn`: the fulfilment partner's picklist with filters, moving orders along (picking → shipped with carrier
and tracking code → delivered), one by one (on the order's page) or ticked in bulk, the picklist as CSV, and a status
CSV upload that shows each row's error.

Everything goes through the service's fulfilment use cases, the same ones the API calls; each order moves in a
transaction of its own, so one refusal (a missing tracking code, an order already further along) leaves the others
moved and is shown at its row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from komerbij.materials.domain.orders import (
    STATUSES,
    KitOrder,
    RuleViolation,
    TransitionNotAllowed,
    UnknownOrder,
)
from komerbij.materials.entrypoints.pages.common import (
    CARRIERS,
    STATUS_LABELS,
    items_summary,
    municipality_name,
    not_found,
    pages,
    parse_date,
)
from komerbij.materials.entrypoints.pages.my_orders import render_order, sku_catalog
from komerbij.materials.service import catalog, fulfilment, lifecycle
from komerbij.materials.service import orders as ordering
from komerbij.materials.service.fulfilment import MAX_UPLOAD_BYTES, StatusChange, StatusResult
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.bodylimit import body_limit
from komerbij.runtime.service import runtime_of

router = web.page_router()
FULFILMENT = web.login_required("fulfilment")
PAGE_SIZE = 50
TO_DO = ("confirmed", "picking")
MOVES = {"picking": "in behandeling", "shipped": "verzonden", "delivered": "geleverd"}


@dataclass(frozen=True)
class Filters:
    """The picklist's filters, from the query string: `status` ("" = to do: confirmed and picking; "alle"; or one
    status), `municipality` (CBS code), `wanted_before` (wanted by at the latest), `page` (from 1)."""

    status: str = ""
    municipality: str = ""
    wanted_before: date | None = None
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request) -> Filters:
        q = request.query_params
        problems: dict[str, str] = {}
        status = q.get("status", "")
        if status not in ("", "alle", *STATUSES):
            problems["status"] = "Kies een status uit de lijst."
            status = ""
        municipality = q.get("municipality", "").strip().upper()
        wanted_raw = q.get("wanted_before", "").strip()
        wanted = parse_date(wanted_raw) if wanted_raw else None
        if wanted_raw and wanted is None:
            problems["wanted_before"] = "Vul een datum in, bijvoorbeeld 2027-09-15."
        page = q.get("page", "1")
        return cls(status, municipality, wanted, int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1,
                   problems)

    @property
    def statuses(self) -> tuple[str, ...] | None:
        if self.status == "":
            return TO_DO
        return None if self.status == "alle" else (self.status,)

    def query(self, **changes: object) -> str:
        values = {"status": self.status, "municipality": self.municipality,
                  "wanted_before": self.wanted_before.isoformat() if self.wanted_before else "", "page": self.page}
        values.update(changes)
        if values["page"] == 1:
            del values["page"]
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def form(self) -> web.Form:
        return web.Form({"status": self.status, "municipality": self.municipality,
                         "wanted_before": self.wanted_before.isoformat() if self.wanted_before else ""},
                        dict(self.problems))


async def _render(request: Request, who: Principal, *, status_code: int = 200, result: StatusResult | None = None,
                  moved_to: str | None = None, bulk: web.Form | None = None, upload_error: str | None = None,
                  upload_name: str | None = None) -> HTMLResponse:
    rt = runtime_of(request)
    filters = Filters.of(request)
    found = await ordering.list_orders(
        rt, status=None, statuses=filters.statuses, municipality=filters.municipality or None,
        wanted_before=filters.wanted_before, limit=PAGE_SIZE + 1, offset=(filters.page - 1) * PAGE_SIZE,
        sort="wanted_by",
    )
    shown: list[KitOrder] = found[:PAGE_SIZE]
    items = await sku_catalog(request)
    municipalities = [(code, f"{municipality_name(code)} ({code})")
                      for code in await ordering.ordering_municipalities(rt)]
    low = [e for e in await catalog.catalog(rt) if e.low and not e.item.is_bundle] if who.is_admin else []
    row_errors: dict[str, list[str]] = {}
    if result is not None and bulk is not None:
        for error in result.errors:  # a missing carrier or code is said at the row's input instead
            if f"{error.field}.{error.order_id}" not in bulk.errors:
                row_errors.setdefault(error.order_id or "", []).append(error.message)
    moved = request.query_params.get("verwerkt", "")
    to = request.query_params.get("naar", "")
    return pages.render(
        request, "warehouse.html", status_code=status_code, orders=shown, filters=filters,
        filter_form=filters.form(), more=len(found) > PAGE_SIZE, municipalities=municipalities,
        status_options=[("alle", "Alle bestellingen"), *((s, STATUS_LABELS[s]) for s in STATUSES if s != "placed")],
        summaries={o.id: items_summary(o, items) for o in shown}, carriers=CARRIERS, low=low,
        bulk=bulk or web.Form(), result=result, row_errors=row_errors, moved_to=moved_to,
        moved_count=int(moved) if moved.isdigit() else None, moved_label=MOVES.get(to),
        upload_error=upload_error, upload_name=upload_name, max_upload_mb=MAX_UPLOAD_BYTES // 1_000_000,
        is_admin=who.is_admin, page_size=PAGE_SIZE,
    )


@router.get("/magazijn", response_class=HTMLResponse, name="warehouse")
async def warehouse(request: Request, who: Principal = FULFILMENT) -> HTMLResponse:
    return await _render(request, who, status_code=422 if Filters.of(request).problems else 200)


@router.post("/magazijn/bestellingen", response_class=HTMLResponse)
async def move_many(request: Request, who: Principal = FULFILMENT) -> Response:
    """The ticked orders to one status; shipping takes each order's own carrier and tracking code from its row."""
    form = await web.Form.read(request)
    target = form.values.get("status", "")
    chosen = list(dict.fromkeys(form.all("order_id")))
    if target not in MOVES:
        form.errors["status"] = "Kies wat er met de bestellingen gebeurt."
    if not chosen:
        form.errors["order_id"] = "Kies eerst een of meer bestellingen met de vakjes in de lijst."
    if form.errors:
        return await _render(request, who, status_code=422, bulk=form)
    changes = [StatusChange(i, order_id, target, form.values.get(f"carrier.{order_id}") or None,
                            form.values.get(f"tracking_code.{order_id}") or None)
               for i, order_id in enumerate(chosen, start=1)]
    result = await fulfilment.apply_status_changes(runtime_of(request), changes)
    filters = Filters.of(request)
    if not result.errors:
        query = filters.query(verwerkt=len(result.applied), naar=target)
        return RedirectResponse(f"/magazijn?{query}", status_code=303)
    for error in result.errors:  # at the row's own inputs where the use case names one
        if error.field in ("carrier", "tracking_code") and error.order_id:
            form.errors[f"{error.field}.{error.order_id}"] = error.message
    return await _render(request, who, status_code=200 if result.applied else 422, result=result,
                         moved_to=target, bulk=form)


@router.post("/magazijn/bestellingen/{order_id}", response_class=HTMLResponse)
async def move_one(order_id: str, request: Request, who: Principal = FULFILMENT) -> Response:
    """One order along, from its own page (`/bestellingen/{id}`), where the answer is shown too."""
    rt = runtime_of(request)
    form = await web.Form.read(request)
    target = form.values.get("status", "")
    carrier = form.values.get("carrier", "").strip()
    tracking_code = form.values.get("tracking_code", "").strip()
    for name, value in (("carrier", carrier), ("tracking_code", tracking_code)):
        if len(value) > 100:
            form.errors[name] = "Dit is te lang: maximaal 100 tekens."
    if form.errors:
        return await render_order(request, who, order_id, form=form, status_code=422)
    try:
        await lifecycle.change_status(rt, order_id, target, rt.clock.now(), carrier=carrier or None,
                                      tracking_code=tracking_code or None)
    except UnknownOrder:
        raise not_found() from None
    except RuleViolation as exc:
        form.errors[exc.field] = exc.message
        return await render_order(request, who, order_id, form=form, status_code=422)
    except TransitionNotAllowed as exc:
        return await render_order(request, who, order_id, form=form, status_code=409, problem=exc.message_nl)
    return RedirectResponse(f"/bestellingen/{order_id}?bijgewerkt=1", status_code=303)


@router.get("/magazijn/paklijst.csv", name="picklist_csv")
async def picklist(request: Request, who: Principal = FULFILMENT) -> Response:
    body = await fulfilment.picklist_csv(runtime_of(request))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="paklijst.csv"',
                             "Cache-Control": "private, no-store"})


@router.post("/magazijn/status", response_class=HTMLResponse,
             openapi_extra=body_limit(MAX_UPLOAD_BYTES + 64 * 1024))  # the file and multipart framing
async def upload_status(request: Request, who: Principal = FULFILMENT) -> HTMLResponse:
    """A status CSV (`order_id,status[,carrier,tracking_code]`): what was applied, and each bad row's line, field
    and message."""
    upload = (await request.form()).get("file")  # parsed once, by the CSRF check before this line
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _render(request, who, status_code=422, upload_error="Kies het CSV-bestand dat u wilt inlezen.")
    raw = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        return await _render(request, who, status_code=413, upload_name=upload.filename,
                             upload_error=f"Het bestand is te groot: maximaal {MAX_UPLOAD_BYTES // 1_000_000} MB.")
    try:
        changes = fulfilment.read_status_csv(fulfilment.decode_upload(raw))
    except RuleViolation as exc:
        return await _render(request, who, status_code=422, upload_error=exc.message, upload_name=upload.filename)
    if not changes:
        return await _render(request, who, status_code=422, upload_name=upload.filename,
                             upload_error="Het bestand heeft geen regels onder de kopregel.")
    result = await fulfilment.apply_status_changes(runtime_of(request), changes)
    return await _render(request, who, result=result, upload_name=upload.filename)
