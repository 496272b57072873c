"""The worker's periodic business gauges: what waits in the two outboxes, and for how long.

Read from PostgreSQL every `OUTBOX_INTERVAL` seconds by the worker that has a metrics endpoint
(`starter.telemetry`), and set on its runtime's meter:

- ``hotline_outbox_backlog{box}``: messages not yet acknowledged (``notifications``, ``hotline``);
- ``hotline_outbox_claimed{box}``: of those, under a consumer's live lease;
- ``hotline_outbox_oldest_pending_seconds{box}``: the age of the oldest of them (0 when none).

With several workers each reports the same figures (a dashboard takes their ``max``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import asyncpg
import structlog
from temporalio.common import MetricMeter

from activities.store.outbox import backlog

log = structlog.get_logger(__name__)

#: Seconds between two readings of the outboxes.
OUTBOX_INTERVAL: Final = 15.0


async def watch_outboxes(
    pool: asyncpg.Pool, meter: MetricMeter, stop: asyncio.Event, *, interval: float = OUTBOX_INTERVAL
) -> None:
    """Set the outbox gauges now and every ``interval`` seconds until ``stop`` is set.

    A reading that fails (the database restarting) is logged and tried again at the next turn.
    """
    waiting = meter.create_gauge("hotline_outbox_backlog", "outbox messages not acknowledged", "messages")
    claimed = meter.create_gauge("hotline_outbox_claimed", "outbox messages under a consumer's lease", "messages")
    oldest = meter.create_gauge_float(
        "hotline_outbox_oldest_pending_seconds", "age of the oldest unacknowledged outbox message", "s"
    )
    while not stop.is_set():
        try:
            for box in await backlog(pool):
                waiting.set(box.pending, {"box": box.box})
                claimed.set(box.claimed, {"box": box.box})
                oldest.set(box.oldest_seconds, {"box": box.box})
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as err:
            log.warning("metrics.outbox_unavailable", error=type(err).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
