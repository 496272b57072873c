"""The gateway under schemathesis, from its own OpenAPI document, over the real stack.

Every operation gets generated requests (valid ones, and some that break the schema) from several
tokens (a unit, a platform, a supervisor, the city hotline, none), aimed at random order numbers and
at three real orders. What must hold: never a 5xx; every answer as the document says (status, content
type, schema) for valid requests; and a refused request leaves every order exactly as it was.

The app's resources (the Temporal client, the asyncpg pool) live on the test's event loop, so
requests are not sent through schemathesis' own ASGI client (another loop, in another thread):
hypothesis runs in a worker thread, and each request is handed to the test's loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.client import Client

from tests.support.gateway import Gateway, gateway_on

pytestmark = pytest.mark.integration

T = TypeVar("T")

#: Examples per operation and generation mode: 20 operations x (20 + 8) requests stay well under a minute.
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 8}
#: Who sends: a unit, a platform, a supervisor, the city hotline, and nobody (no token).
SENDERS = ["district-hexi", "center", "dept-hotline", "hotline", None]


class Fuzz:
    """Sends generated cases through the gateway and keeps the orders' last known state."""

    def __init__(self, gw: Gateway, loop: asyncio.AbstractEventLoop, orders: list[str]) -> None:
        self.gw = gw
        self.loop = loop
        self.orders = orders
        self.known: dict[str, dict[str, Any]] = {}
        self.sent = 0
        self.statuses: dict[int, int] = {}

    def on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    async def refresh(self) -> None:
        for no in self.orders:
            self.known[no] = await self.gw.snapshot(no)

    async def send(self, case: Any, sender: str | None) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url="http://gateway")
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
        if sender is not None:
            headers.update(self.gw.auth(sender))
        content = kwargs.get("data")
        if "json" in kwargs:
            content = json.dumps(kwargs["json"]).encode()
        return await self.gw.http.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=headers,
            content=content,
        )

    async def unchanged(self, order_no: str) -> bool:
        return await self.gw.snapshot(order_no) == self.known[order_no]

    def run(self, operation: Any, mode: GenerationMode) -> None:
        """Hypothesis over one operation in one generation mode (called in a worker thread)."""
        checks = [not_a_server_error]
        if mode is GenerationMode.POSITIVE:
            checks += [status_code_conformance, content_type_conformance, response_schema_conformance]

        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            sender=st.sampled_from(SENDERS),
            target=st.sampled_from([*self.orders, None]),
        )
        def check(case: Any, sender: str | None, target: str | None) -> None:
            if target is not None and "order_no" in (case.path_parameters or {}):
                case.path_parameters["order_no"] = target
            response = self.on_loop(self.send(case, sender))
            self.sent += 1
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            case.validate_response(response, checks=checks)
            if target is None or case.path_parameters.get("order_no") != target:
                return
            if response.is_success:  # it was allowed: this is the order's state from now on
                self.on_loop(self.refresh())
            else:
                assert self.on_loop(self.unchanged(target)), (
                    f"{case.method} {case.formatted_path} by {sender} was refused "
                    f"({response.status_code}) but changed {target}"
                )

        check()


@pytest.fixture
async def gw(dev_client: Client, pool: asyncpg.Pool, task_queue: str) -> Any:
    async with gateway_on(dev_client, pool, task_queue) as g:
        yield g


async def test_no_server_errors_and_refusals_change_nothing(gw: Gateway) -> None:
    """Generated requests for every operation: no 5xx, answers as documented, refusals inert."""
    handling = await gw.in_handling(assisting=["district-hexi"])
    fresh = await gw.start()
    gas = await gw.start(category="gas", location={"district": "nankai", "address": "鞍山西道"})
    fuzz = Fuzz(gw, asyncio.get_running_loop(), [handling, fresh, gas])
    await fuzz.refresh()

    schema = schemathesis.openapi.from_asgi("/openapi.json", gw.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 20  # start, status, handling-order and the 17 actions

    def run_all() -> None:
        for operation in operations:
            for mode in EXAMPLES:
                fuzz.run(operation, mode)

    await asyncio.to_thread(run_all)
    assert fuzz.sent >= len(operations) * 10
    # the run reached past the gate: refusals by the order and its standing, not only 401 and 422
    assert {403, 404, 422} <= set(fuzz.statuses), fuzz.statuses
