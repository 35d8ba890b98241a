"""Media's own stylesheet (the room's lists, the dashboard's charts and its print layout), served under /media so
that it travels with the service that uses it; the shared theme stays in the runtime."""

from __future__ import annotations

from importlib import resources

from fastapi import Request
from fastapi.responses import Response

from komerbij.media.entrypoints.pages.rendering import STATIC_PREFIX
from komerbij.runtime import web

router = web.page_router()
_FILES = {"media.css": "text/css; charset=utf-8"}


@router.get(STATIC_PREFIX + "/{name}")
async def static_file(name: str, request: Request) -> Response:
    if name not in _FILES:
        raise web.PageError(404, "Pagina niet gevonden", "Dit bestand bestaat niet.")
    data = resources.files("komerbij.media").joinpath("static", name).read_bytes()
    # `?v=<content hash>` (what media_static() writes) changes with the file: it may be kept for a year.
    cache = "public, max-age=31536000, immutable" if "v" in request.query_params else "no-cache"
    return Response(data, media_type=_FILES[name], headers={"Cache-Control": cache,
                                                             "X-Content-Type-Options": "nosniff"})
