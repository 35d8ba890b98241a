"""The pages' shared web layer: layout, form macros, static files, session, CSRF, login. See docs/SERVICE-GUIDE.md.

A service's page module needs only this package:

    from komerbij.runtime import web

    router = web.page_router()                       # CSRF-checked POSTs, out of the OpenAPI document
    pages = web.Pages("komerbij.<service>")          # <service>/templates/ on top of the shared layout

    @router.get("/bestellen")
    async def order_form(request: Request, who: Principal = web.login_required("organiser")) -> HTMLResponse:
        return pages.render(request, "order.html", form=web.Form())
"""

from __future__ import annotations

from komerbij.runtime.web.access import login_required, signed_in_user
from komerbij.runtime.web.csrf import CSRF_FIELD, page_router
from komerbij.runtime.web.errors import LoginRequired, PageError
from komerbij.runtime.web.forms import Form
from komerbij.runtime.web.install import install
from komerbij.runtime.web.pages import ROOMS, Pages, Room, safe_next, static_url
from komerbij.runtime.web.paging import Paging
from komerbij.runtime.web.session import SESSION_COOKIE, User, current_user

__all__ = [
    "CSRF_FIELD", "ROOMS", "SESSION_COOKIE", "Form", "LoginRequired", "PageError", "Pages", "Room", "User",
    "current_user", "install", "login_required", "page_router", "safe_next", "signed_in_user", "static_url",
]
__all__ += ["Paging"]
