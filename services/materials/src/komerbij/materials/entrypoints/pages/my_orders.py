"""`/bestellingen`: the orders of the organiser's organisation, each with its status timeline, the track-and-trace
once shipped, and cancelling while that is still allowed (before the warehouse starts picking).

`/bestellingen/{id}` is also where the order mails link to, and where the warehouse moves one order along (the form
posts to `/magazijn/bestellingen/{id}`): an organiser sees her own organisation's orders only (another one's is "not
found", as in the API), the warehouse and the programme team see all.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from komerbij.materials.domain.catalog import Sku
from komerbij.materials.domain.orders import TransitionNotAllowed, UnknownOrder
from komerbij.materials.entrypoints.pages.common import (
    CARRIERS,
    check_visible,
    items_summary,
    not_found,
    own_municipality,
    pages,
    timeline,
    tracking_url,
)
from komerbij.materials.service import catalog, lifecycle
from komerbij.materials.service import orders as ordering
from komerbij.runtime import web
from komerbij.runtime.auth import Principal
from komerbij.runtime.service import runtime_of

router = web.page_router()
ORGANISER = web.login_required("organiser")
READERS = web.login_required("organiser", "fulfilment")
LIST_LIMIT = 200

# What the page says after a move, chosen by the query the redirect carries (never text from the query itself).
NOTICES = {
    "geplaatst": None,  # the outcome itself (confirmed or rejected) is the notice, see order.html
    "al-geplaatst": "U had deze bestelling al geplaatst; er is niets dubbel besteld.",
    "geannuleerd": "De bestelling is geannuleerd.",
    "bijgewerkt": "De status is bijgewerkt.",
}


async def sku_catalog(request: Request) -> dict[str, Sku]:
    return {e.item.sku: e.item for e in await catalog.catalog(runtime_of(request))}


@router.get("/bestellingen", response_class=HTMLResponse, name="my_orders")
async def my_orders(request: Request, who: Principal = ORGANISER) -> HTMLResponse:
    municipality = own_municipality(who)
    if municipality is None:
        return pages.render(request, "order_not_possible.html", who=who)
    rt = runtime_of(request)
    found = await ordering.list_orders(rt, status=None, municipality=municipality, limit=LIST_LIMIT, offset=0,
                                       sort="newest")
    items = await sku_catalog(request)
    return pages.render(request, "my_orders.html", orders=found, municipality=municipality,
                        summaries={o.id: items_summary(o, items) for o in found})


async def render_order(request: Request, who: Principal, order_id: str, *, form: web.Form | None = None,
                       status_code: int = 200, problem: str | None = None) -> HTMLResponse:
    rt = runtime_of(request)
    try:
        order = await ordering.get_order(rt, order_id)
        check_visible(who, order)
    except UnknownOrder:
        raise not_found() from None
    history = await ordering.status_history(rt, order.id)
    items = await sku_catalog(request)
    notice = next((text for key, text in NOTICES.items() if key in request.query_params and text), None)
    warehouse = who.role in ("fulfilment", "admin")
    return pages.render(
        request, "order_detail.html", status_code=status_code, order=order, steps=timeline(order, history),
        summary=items_summary(order, items), history=history,
        tracking_url=tracking_url(order.carrier, order.tracking_code, order.postcode),
        just_placed="geplaatst" in request.query_params or "al-geplaatst" in request.query_params, notice=notice,
        problem=problem,
        can_cancel=order.status == "confirmed" and who.role in ("organiser", "admin"),
        warehouse=warehouse, form=form or web.Form({"carrier": "PostNL"}), carriers=CARRIERS,
    )


@router.get("/bestellingen/{order_id}", response_class=HTMLResponse, name="order_detail")
async def order_detail(order_id: str, request: Request, who: Principal = READERS) -> HTMLResponse:
    return await render_order(request, who, order_id)


@router.get("/bestellingen/{order_id}/annuleren", response_class=HTMLResponse)
async def cancel_question(order_id: str, request: Request, who: Principal = ORGANISER) -> Response:
    try:
        order = await ordering.get_order(runtime_of(request), order_id)
        check_visible(who, order)
    except UnknownOrder:
        raise not_found() from None
    if order.status != "confirmed":
        return RedirectResponse(f"/bestellingen/{order.id}", status_code=303)
    items = await sku_catalog(request)
    return pages.render(request, "cancel.html", order=order,
                        summary=items_summary(order, items))


@router.post("/bestellingen/{order_id}/annuleren", response_class=HTMLResponse)
async def cancel(order_id: str, request: Request, who: Principal = ORGANISER) -> Response:
    rt = runtime_of(request)
    municipality = None if who.is_admin else own_municipality(who)
    if municipality is None and not who.is_admin:
        raise not_found()
    try:
        order = await lifecycle.cancel_order(rt, order_id, rt.clock.now(), municipality=municipality)
    except UnknownOrder:
        raise not_found() from None
    except TransitionNotAllowed as exc:
        return await render_order(request, who, order_id, status_code=409, problem=exc.message_nl)
    return RedirectResponse(f"/bestellingen/{order.id}?geannuleerd=1", status_code=303)
