"""Spans around the activities' database work, so a trace shows the SQL an action led to.

OpenTelemetry's API only: with no tracer provider set up (`starter.telemetry`, off unless
``HOTLINE_OTLP_ENDPOINT`` is set) every span here is a no-op.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from opentelemetry import trace

_tracer = trace.get_tracer("hotline.store")


@asynccontextmanager
async def transaction(pool: asyncpg.Pool, name: str, **attributes: str | int) -> AsyncIterator[asyncpg.Connection]:
    """A connection of ``pool`` inside one transaction, the whole of it inside the span ``name``.

    The span (kind client, ``db.system`` postgresql, ``attributes`` added) is a child of the current
    one: the activity's, whose parent is the action that led to it.
    """
    with _tracer.start_as_current_span(
        name, kind=trace.SpanKind.CLIENT, attributes={"db.system": "postgresql", **attributes}
    ):
        async with pool.acquire() as conn, conn.transaction():
            yield conn
