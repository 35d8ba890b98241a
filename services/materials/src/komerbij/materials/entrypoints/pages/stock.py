"""`/magazijn/voorraad` (programme team, role admin): stock on hand per item with low-stock warnings, stock
adjustments, and their audit trail (who, when, why, how much was free afterwards).

An adjustment is the API's use case (`service.catalog.adjust_stock`): audited, and refused at the `delta` field when
it would take more than is free (reserved stock belongs to orders).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from komerbij.materials.domain.catalog import UnknownSku
from komerbij.materials.domain.orders import RuleViolation
from komerbij.materials.entrypoints.pages.common import pages
from komerbij.materials.service import catalog
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.service import runtime_of
from komerbij.runtime.web import current_user

router = web.page_router()
ADMIN = web.login_required("admin")
TRAIL_LIMIT = 100
_DELTA = re.compile(r"^[-+\u2212]?\s*\d{1,7}$")  # − (minus sign) too: what a word processor makes of a hyphen


async def _render(request: Request, *, form: web.Form | None = None, status_code: int = 200) -> HTMLResponse:
    rt = runtime_of(request)
    entries = await catalog.catalog(rt)
    physical = [e for e in entries if not e.item.is_bundle]
    chosen = request.query_params.get("artikel", "")
    if chosen not in {e.item.sku for e in physical}:
        chosen = ""
    trail = await catalog.adjustment_history(rt, chosen or None, TRAIL_LIMIT)
    names = {e.item.sku: e.item.name for e in entries}
    adjusted = request.query_params.get("aangepast", "")
    return pages.render(
        request, "stock.html", status_code=status_code, entries=entries, low=[e for e in physical if e.low],
        form=form or web.Form(), sku_options=[(e.item.sku, e.item.name) for e in physical], trail=trail,
        names=names, trail_filter=web.Form({"artikel": chosen}),
        adjusted=names.get(adjusted) if adjusted in names else None,
        me=(current_user(request).subject if current_user(request) else None),
    )


@router.get("/magazijn/voorraad", response_class=HTMLResponse, name="stock")
async def stock(request: Request, who: Principal = ADMIN) -> HTMLResponse:
    return await _render(request)


@router.post("/magazijn/voorraad", response_class=HTMLResponse)
async def adjust(request: Request, who: Principal = ADMIN) -> Response:
    rt = runtime_of(request)
    form = await web.Form.read(request)
    sku = form.values.get("sku", "")
    raw_delta = form.values.get("delta", "").strip()
    reason = form.values.get("reason", "").strip()
    if not sku:
        form.errors["sku"] = "Kies het artikel."
    delta = 0
    if not _DELTA.match(raw_delta):
        form.errors["delta"] = "Vul een heel getal in: 500 om toe te voegen, -20 om af te boeken."
    else:
        delta = int(raw_delta.replace("\u2212", "-").replace(" ", ""))
        if delta == 0:
            form.errors["delta"] = "Een wijziging van 0 verandert niets."
    if not reason:
        form.errors["reason"] = "Schrijf op waarom, voor wie het later naleest (bijvoorbeeld: levering drukker)."
    elif len(reason) > 200:
        form.errors["reason"] = "Dit is te lang: maximaal 200 tekens."
    if form.errors:
        return await _render(request, form=form, status_code=422)
    user = current_user(request)
    try:
        await catalog.adjust_stock(rt, sku, delta, reason, who.subject, rt.clock.now(),
                                   actor_name=user.name if user else None)
    except UnknownSku:
        form.errors["sku"] = "Kies een artikel uit de lijst."
        return await _render(request, form=form, status_code=422)
    except RuleViolation as exc:
        form.errors[exc.field] = exc.message
        return await _render(request, form=form, status_code=422)
    return RedirectResponse(f"/magazijn/voorraad?{urlencode({'aangepast': sku})}", status_code=303)
