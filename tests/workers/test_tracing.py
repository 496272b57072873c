"""One trace per action: from the client's (or the gateway's) call, through the workflow's handler, to
the record activity and its database transaction. Spans are kept in memory (`tests.support.tracing`)
instead of going to the OTLP collector of HOTLINE_OTLP_ENDPOINT.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import asyncpg
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from domain.calendar import SHANGHAI
from domain.contract import order_workflow_id
from domain.models import NewOrder, Receive, Withdraw
from starter import connection, telemetry
from starter.client import HotlineClient
from starter.codec import KeyRing
from starter.settings import Settings
from tests.support.gateway import gateway_on
from tests.support.tracing import in_memory_tracing
from tests.support.workflows import HOTLINE, PLATFORM, new_order, running_worker
from workers.dev import TemporalDevServer

pytestmark = pytest.mark.integration

#: The spans of one action, the SQL first, each the parent of the one before.
CHAIN = ["record_order transaction", "RunActivity:record_order", "StartActivity:record_order", "HandleUpdate:receive"]


async def _spans_until(exporter: InMemorySpanExporter, order_no: str, revision_above: int) -> list[ReadableSpan]:
    """The finished spans, once the order's record above ``revision_above`` has been written."""
    for _ in range(200):
        spans = list(exporter.get_finished_spans())
        if any(
            s.name == "record_order transaction"
            and (s.attributes or {}).get("order_no") == order_no
            and int((s.attributes or {}).get("revision", 0)) > revision_above
            for s in spans
        ):
            return spans
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"no record of {order_no} after revision {revision_above} was traced: "
        + repr([(s.name, dict(s.attributes or {})) for s in exporter.get_finished_spans()][-12:])
    )


def _ancestry(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    """The names from ``span`` up to the root of its trace."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    names = []
    current: ReadableSpan | None = span
    while current is not None:
        names.append(current.name)
        current = by_id.get(current.parent.span_id) if current.parent is not None else None
    return names


def _last_sql(spans: list[ReadableSpan], order_no: str) -> ReadableSpan:
    sql = [
        s for s in spans if s.name == "record_order transaction" and (s.attributes or {}).get("order_no") == order_no
    ]
    return max(sql, key=lambda s: int((s.attributes or {}).get("revision", 0)))


async def _recorded_revision(pool: asyncpg.Pool, order_no: str) -> int:
    for _ in range(200):
        revision = await pool.fetchval("SELECT revision FROM orders WHERE order_no = $1", order_no)
        if revision is not None:
            return int(revision)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{order_no} was never recorded")


async def test_an_action_is_one_trace_from_the_client_to_the_sql(
    dev_server: TemporalDevServer, keyring: KeyRing, pool: asyncpg.Pool, task_queue: str
) -> None:
    """`HotlineClient.act` → the workflow's update handler → `record_order` → its transaction: one
    trace id, each span the child of the one before; the order's start is a trace of its own."""
    with in_memory_tracing() as exporter:
        settings = Settings.from_env({"HOTLINE_TEMPORAL_ADDRESS": dev_server.address})
        client = await connection.connect(settings, keyring=keyring)
        hotline = HotlineClient(client, task_queue=task_queue)
        no = f"TRC{uuid.uuid4().hex[:8].upper()}"
        async with running_worker(client, pool, task_queue):
            await hotline.start_order(
                NewOrder.model_validate(new_order(no, dispatched_at=datetime.now(SHANGHAI).isoformat()))
            )
            started = await _recorded_revision(pool, no)
            await hotline.act(no, "receive", Receive.model_validate({"actor": PLATFORM}))
            spans = await _spans_until(exporter, no, started)
            # closed, so no workflow is left in the worker's cache with its run span open
            await hotline.act(no, "withdraw", Withdraw.model_validate({"actor": HOTLINE, "reason": "测试结束"}))
            await hotline.handle(no).result()

    [update] = [
        s
        for s in spans
        if s.name == "StartWorkflowUpdate:receive"
        and (s.attributes or {}).get("temporalWorkflowID") == order_workflow_id(no)
    ]
    assert update.context is not None
    sql = _last_sql(spans, no)
    assert sql.context is not None
    assert sql.context.trace_id == update.context.trace_id
    assert _ancestry(sql, spans) == [*CHAIN, "StartWorkflowUpdate:receive"]
    assert (sql.attributes or {}).get("db.system") == "postgresql"
    [start] = [s for s in spans if s.name == "StartWorkflow:WorkOrder" and s.context is not None]
    assert start.context is not None
    assert start.context.trace_id != update.context.trace_id
    assert not telemetry.tracing_enabled(), "the block put the process back as it was"


async def test_an_action_through_the_gateway_continues_the_callers_trace(
    dev_server: TemporalDevServer, keyring: KeyRing, pool: asyncpg.Pool, task_queue: str
) -> None:
    """A handler app's request with a W3C `traceparent`: the gateway's span is its child, and the whole
    action down to the SQL is in the caller's trace."""
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    with in_memory_tracing() as exporter:
        settings = Settings.from_env({"HOTLINE_TEMPORAL_ADDRESS": dev_server.address})
        client = await connection.connect(settings, keyring=keyring)
        async with gateway_on(client, pool, task_queue) as gw:
            no = await gw.start()
            started = await _recorded_revision(pool, no)
            r = await gw.http.post(
                f"/orders/{no}/actions/receive",
                json={"person": "王工"},
                headers={**gw.auth("center"), "traceparent": traceparent},
            )
            assert r.status_code == 200, r.text
            spans = await _spans_until(exporter, no, started)
            await gw.ok("hotline", no, "withdraw", reason="测试结束")
            await gw.client.handle(no).result()

    sql = _last_sql(spans, no)
    assert sql.context is not None
    assert f"{sql.context.trace_id:032x}" == trace_id
    ancestry = _ancestry(sql, spans)
    assert ancestry[:5] == [*CHAIN, "StartWorkflowUpdate:receive"]
    assert ancestry[-1] == f"POST receive {no}"  # between them, FastAPI's own endpoint span
