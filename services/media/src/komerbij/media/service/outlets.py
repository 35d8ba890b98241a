"""Outlets: the papers, broadcasters, sites and accounts that cover the week."""

from __future__ import annotations

import uuid
from typing import Any

from komerbij.media.adapters import store
from komerbij.runtime.http import ProblemError
from komerbij.runtime.service import Runtime


async def create_outlet(rt: Runtime, values: dict[str, Any]) -> uuid.UUID:
    outlet_id = uuid.uuid4()
    async with rt.uow() as uow:
        if await store.insert_outlet(uow.conn, outlet_id, values) is None:
            existing = await store.outlet_by_name(uow.conn, values["name"])
            raise ProblemError(409, "Dit medium bestaat al", "An outlet with this name exists.",
                               extra={"id": str(existing["id"]) if existing else None})
    return outlet_id


async def list_outlets(rt: Runtime) -> list[store.Row]:
    async with rt.pool.acquire() as conn:
        return await store.outlets(conn)
