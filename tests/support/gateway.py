"""The handler gateway in-process over the real stack, with a token per org and role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from temporalio.client import Client

from activities.store import tokens
from domain.calendar import SHANGHAI
from domain.models import Role
from starter.client import HotlineClient
from tests.support.workflows import new_order, running_worker
from workers.gateway import create_app

#: The tokens each test gets: key -> (org, role).
HOLDERS: dict[str, tuple[str, Role]] = {
    "hotline": ("hotline", Role.HOTLINE),
    "center": ("center", Role.OPERATOR),
    "utilities": ("utilities", Role.OPERATOR),
    "dept-hotline": ("dept-hotline", Role.SUPERVISOR),
    "dept-lighting": ("dept-lighting", Role.HANDLER),
    "district-hexi": ("district-hexi", Role.HANDLER),
    "district-nankai": ("district-nankai", Role.HANDLER),
}


def now_iso() -> str:
    """Now, to the microsecond: an instant a unit reports right after its dispatch is not before it."""
    return datetime.now(SHANGHAI).isoformat()


class Gateway:
    """An httpx client of the app, with a token per holder and the steps of an order's life."""

    def __init__(
        self, app: FastAPI, http: httpx.AsyncClient, client: HotlineClient, pool: asyncpg.Pool, keys: dict[str, str]
    ) -> None:
        self.app = app
        self.http = http
        self.client = client
        self.pool = pool
        self.keys = keys

    def auth(self, holder: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[holder]}"}

    async def post(self, holder: str, path: str, body: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(holder))

    async def get(self, holder: str, path: str, **params: str) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.auth(holder))

    async def act(self, holder: str, order_no: str, action: str, **body: Any) -> httpx.Response:
        return await self.post(holder, f"/orders/{order_no}/actions/{action}", {"person": "张工", **body})

    async def ok(self, holder: str, order_no: str, action: str, **body: Any) -> dict[str, Any]:
        r = await self.act(holder, order_no, action, **body)
        assert r.status_code == 200, f"{action} by {holder}: {r.status_code} {r.text}"
        result: dict[str, Any] = r.json()
        return result

    async def start(self, **changes: Any) -> str:
        """A new order through `POST /orders` (the city hotline's token)."""
        no = f"GW{uuid.uuid4().hex[:10]}"
        r = await self.post("hotline", "/orders", new_order(no, dispatched_at=now_iso(), **changes))
        assert r.status_code == 201, r.text
        return no

    async def in_handling(self, lead: str = "dept-lighting", assisting: list[str] | None = None, **changes: Any) -> str:
        """A new order taken to handling: received, proposed, approved."""
        no = await self.start(**changes)
        await self.ok("center", no, "receive")
        await self.ok("center", no, "propose", lead_unit=lead, assisting_units=assisting or [], opinion="照明处牵头")
        await self.ok("dept-hotline", no, "review", approved=True)
        return no

    async def snapshot(self, order_no: str) -> dict[str, Any]:
        """The order's whole status, read past the gateway."""
        return (await self.client.status(order_no)).model_dump(mode="json")


@asynccontextmanager
async def gateway_on(client: Client, pool: asyncpg.Pool, task_queue: str) -> AsyncIterator[Gateway]:
    """The app over ``client`` and ``pool``, a worker on ``task_queue``, fresh tokens for every holder."""
    keys = {}
    for key, (org, role) in HOLDERS.items():
        keys[key] = (await tokens.issue(pool, org, role, label=f"test {task_queue}", issued_by="pytest")).token
    hotline = HotlineClient(client, task_queue=task_queue)
    app = create_app(hotline, pool)
    async with (
        running_worker(client, pool, task_queue),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http,
    ):
        yield Gateway(app, http, hotline, pool, keys)
