"""The ceiling of P1: a bare Temporal workflow that takes the same messages as `WorkOrder` and does nothing.

`BareOrder` starts with the same `NewOrder`, accepts the same seven updates (same names, same
payloads, through the same encrypting data converter) and answers each with a small dict; it calls no
activity, arms no timer and closes after the callback. What the stack does per order above this is
the price of the rules, the records and PostgreSQL.

`python -m bench.bare` runs a worker process for it (the `HOTLINE_*` settings: address, keys, task
queue, and the same tuning as the project's worker), until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from bench.happy import STEPS
    from domain.contract import OrderAction
    from starter import connection
    from starter.codec import load_keyring
    from starter.settings import Settings

BARE_ORDER = "BareOrder"


@workflow.defn(name=BARE_ORDER)
class BareOrder:
    """Takes the happy path's messages, keeps a count, closes after the callback."""

    @workflow.init
    def __init__(self, raw: Any) -> None:
        self._done = False
        self._seen: list[str] = []
        for name, _, _ in STEPS:
            workflow.set_update_handler(name, self._handler(name))

    def _handler(self, name: str) -> Callable[[Any], Awaitable[dict[str, Any]]]:
        async def handle(raw: Any) -> dict[str, Any]:
            self._seen.append(name)
            if name == OrderAction.CALLBACK:
                self._done = True
            return {"phase": name, "actions": len(self._seen), "assignments": []}

        return handle

    @workflow.run
    async def run(self, raw: Any) -> dict[str, Any]:
        """Wait for the callback, then close."""
        await workflow.wait_condition(lambda: self._done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return {"order_no": raw.get("order_no") if isinstance(raw, dict) else None, "actions": self._seen}


async def main() -> None:
    """A worker for `BareOrder` on ``HOTLINE_TASK_QUEUE`` until SIGTERM/SIGINT."""
    settings = Settings.from_env()
    client = await connection.connect(settings, keyring=load_keyring(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[BareOrder],
        max_cached_workflows=settings.max_cached_workflows,
        max_concurrent_workflow_tasks=max(2, settings.max_concurrent_workflow_tasks),
    )
    async with worker:
        print('{"event": "worker.started", "workflow": "BareOrder"}', flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
