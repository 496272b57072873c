"""The load: a client process of its own with the project's data converter (`starter.connection`).

`python -m bench.drive MODE ...` reads the stack's `HOTLINE_*` settings from its environment and
prints one JSON object (its figures) as its last line:

- ``happy``: ``--count`` orders through the happy path (`bench.happy`), ``--concurrency`` at a time,
  as `WorkOrder` or as the bare workflow (``--workflow BareOrder``); each order's time runs from its
  start to its workflow's result. With ``--retry`` every call that fails for any reason but a
  refusal is sent again, the very same message (same `request_id`), until it succeeds (the chaos
  runs kill workers and stop the database under it); ``--out`` writes one line per order (its
  outcome and timeline kinds) for the checks that follow.
- ``start``: start ``--count`` orders and leave them open (timers armed).
- ``query``: ask every open order of a prefix for its status (a worker that lost its cache replays
  them: fills the cache).
- ``latency``: one action (`receive`) on each of ``--samples`` random open orders, one at a time.
- ``flood``: ``--signals`` refused signals at one order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from bench.common import percentile
from bench.happy import STEPS, lead_dispatched_at, message, new_order
from domain.calendar import SHANGHAI
from domain.contract import STATUS_QUERY, WORK_ORDER, OrderAction, order_workflow_id
from domain.errors import REFUSAL_TYPES
from domain.models import OrderStatus
from starter import connection
from starter.codec import load_keyring
from starter.settings import Settings

T = TypeVar("T")

#: How long one call may take before it counts as failed (and, with --retry, is sent again).
CALL_SECONDS = 60.0


class Refused(Exception):
    """The workflow refused a message of the happy path (never expected)."""


class Calls:
    """Sends calls, timing them; with ``retry``, sends a failed one again until it succeeds."""

    def __init__(self, *, retry: bool, give_up_at: float) -> None:
        self.retry = retry
        self.give_up_at = give_up_at
        self.retries = 0
        self.errors: dict[str, int] = defaultdict(int)
        self.latency: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            t0 = time.perf_counter()
            try:
                result = await asyncio.wait_for(fn(), CALL_SECONDS)
            except WorkflowUpdateFailedError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type in REFUSAL_TYPES:
                    raise Refused(f"{what}: {cause.message}") from None
                self._failed(what, err)
            except (Refused, WorkflowAlreadyStartedError):
                raise
            except Exception as err:  # unavailable, timed out, the worker died: the answer was lost
                self._failed(what, err)
            else:
                self.latency[what].append(time.perf_counter() - t0)
                return result
            if not self.retry or time.monotonic() > self.give_up_at:
                raise RuntimeError(f"{what} failed") from None
            attempt += 1
            self.retries += 1
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0))

    def _failed(self, what: str, err: BaseException) -> None:
        self.errors[f"{what}: {type(err).__name__}"] += 1


async def _connect() -> tuple[Client, Settings]:
    settings = Settings.from_env()
    client = await connection.connect(settings, keyring=load_keyring(settings))
    return client, settings


async def _start(calls: Calls, client: Client, settings: Settings, workflow: str, order_no: str) -> None:
    async def start() -> None:
        try:
            await client.start_workflow(
                workflow,
                new_order(order_no),
                id=order_workflow_id(order_no),
                task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            if not calls.retry:
                raise
            # a retry of a start whose answer was lost: the order runs already

    await calls("start", start)


async def happy(args: argparse.Namespace) -> dict[str, Any]:
    """Orders through the happy path, N at a time; their rate, the calls' latency, what failed."""
    client, settings = await _connect()
    calls = Calls(retry=args.retry, give_up_at=time.monotonic() + args.give_up_after)
    result_type: type | None = OrderStatus if args.workflow == WORK_ORDER else None
    sem = asyncio.Semaphore(args.concurrency)
    done: list[dict[str, Any]] = []
    failed: list[str] = []
    order_seconds: list[float] = []

    async def one(i: int) -> None:
        order_no = f"{args.prefix}{i:06d}"
        async with sem:
            t0 = time.perf_counter()
            try:
                await _start(calls, client, settings, args.workflow, order_no)
                handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(order_workflow_id(order_no))
                dispatched: str | None = None
                for step, (name, _, _) in enumerate(STEPS):
                    payload = message(order_no, step, dispatched)

                    async def update(name: str = name, payload: dict[str, Any] = payload) -> Any:
                        return await handle.execute_update(name, payload, result_type=result_type)

                    answer = await calls(name, update)
                    if name == OrderAction.REVIEW:
                        dispatched = lead_dispatched_at(answer)

                async def result() -> Any:
                    return await handle.result()

                final = await calls("result", result)
            except Exception as err:
                failed.append(f"{order_no}: {type(err).__name__}: {str(err)[:200]}")
                return
            order_seconds.append(time.perf_counter() - t0)
            done.append(_summary(order_no, final))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.count)))
    seconds = time.perf_counter() - t0
    if args.out:
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in done)
        await asyncio.to_thread(Path(args.out).write_text, text, encoding="utf-8")
    actions = [x for name, xs in calls.latency.items() if name not in ("start", "result") for x in xs]
    return {
        "mode": "happy",
        "workflow": args.workflow,
        "orders": args.count,
        "closed": len(done),
        "failed": len(failed),
        "failures": failed[:10],
        "concurrency": args.concurrency,
        "seconds": seconds,
        "rate": len(done) / seconds if seconds else 0.0,
        "order_p50": percentile(order_seconds, 50),
        "action_p50": percentile(actions, 50),
        "action_p99": percentile(actions, 99),
        "per_action": {k: {"p50": percentile(v, 50), "p99": percentile(v, 99)} for k, v in calls.latency.items()},
        "retries": calls.retries,
        "errors": dict(calls.errors),
    }


def _summary(order_no: str, final: Any) -> dict[str, Any]:
    data = final if isinstance(final, dict) else {}
    return {
        "order_no": order_no,
        "phase": data.get("phase"),
        "outcome": data.get("outcome"),
        "timeline": [e.get("kind") for e in data.get("timeline") or []],
        "rejected_total": data.get("rejected_total"),
    }


async def start(args: argparse.Namespace) -> dict[str, Any]:
    """Start orders and leave them open."""
    client, settings = await _connect()
    calls = Calls(retry=True, give_up_at=time.monotonic() + args.give_up_after)
    sem = asyncio.Semaphore(args.concurrency)

    async def one(i: int) -> None:
        async with sem:
            await _start(calls, client, settings, WORK_ORDER, f"{args.prefix}{i:06d}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.count)))
    seconds = time.perf_counter() - t0
    return {
        "mode": "start",
        "orders": args.count,
        "seconds": seconds,
        "rate": args.count / seconds,
        "start_p50": percentile(calls.latency["start"], 50),
        "start_p99": percentile(calls.latency["start"], 99),
        "retries": calls.retries,
        "errors": dict(calls.errors),
    }


async def query(args: argparse.Namespace) -> dict[str, Any]:
    """The status of every order of the prefix (a worker with room in its cache keeps them)."""
    client, _ = await _connect()
    calls = Calls(retry=True, give_up_at=time.monotonic() + args.give_up_after)
    sem = asyncio.Semaphore(args.concurrency)

    async def one(i: int) -> None:
        handle = client.get_workflow_handle(order_workflow_id(f"{args.prefix}{i:06d}"))
        async with sem:
            await calls("query", lambda: handle.query(STATUS_QUERY))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.count)))
    seconds = time.perf_counter() - t0
    return {
        "mode": "query",
        "orders": args.count,
        "seconds": seconds,
        "query_p50": percentile(calls.latency["query"], 50),
        "query_p99": percentile(calls.latency["query"], 99),
        "retries": calls.retries,
    }


async def latency(args: argparse.Namespace) -> dict[str, Any]:
    """`receive` on random open orders, one at a time: what a person at a desk waits."""
    client, _ = await _connect()
    calls = Calls(retry=False, give_up_at=time.monotonic() + args.give_up_after)
    rng = random.Random(args.seed)
    chosen = rng.sample(range(args.first, args.first + args.count), min(args.samples, args.count))
    failed = 0
    sizes: list[int] = []
    for i in chosen:
        order_no = f"{args.prefix}{i:06d}"
        handle = client.get_workflow_handle(order_workflow_id(order_no))
        payload = message(order_no, 0, None)

        async def receive(h: WorkflowHandle[Any, Any] = handle, p: dict[str, Any] = payload) -> Any:
            return await h.execute_update(OrderAction.RECEIVE, p)

        try:
            answer = await calls("receive", receive)
            sizes.append(len(json.dumps(answer, ensure_ascii=False)))
        except Exception:
            failed += 1
    xs = calls.latency["receive"]
    return {
        "mode": "latency",
        "samples": len(xs),
        "failed": failed,
        "p50": percentile(xs, 50),
        "p99": percentile(xs, 99),
        "max": max(xs) if xs else None,
        "answer_bytes": max(sizes) if sizes else None,
    }


async def flood(args: argparse.Namespace) -> dict[str, Any]:
    """``--signals`` refused signals (a unit with no standing returning the order) at one order."""
    client, _ = await _connect()
    handle = client.get_workflow_handle(order_workflow_id(args.order))
    calls = Calls(retry=True, give_up_at=time.monotonic() + args.give_up_after)
    sem = asyncio.Semaphore(args.concurrency)
    bad = {
        "actor": {"org": "district-hexi", "person": "张科", "role": "handler"},
        "reason": "不属于",
        "basis": "无" * args.basis_chars,
    }

    failed: list[str] = []

    async def one(i: int) -> None:
        async with sem:
            payload = {**bad, "request_id": f"flood-{i}"}
            try:
                await calls("signal", lambda: handle.signal(OrderAction.RETURN_ORDER, payload))
            except RuntimeError:
                failed.append(f"flood-{i}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.signals)))
    seconds = time.perf_counter() - t0
    return {
        "mode": "flood",
        "signals": args.signals,
        "failed": len(failed),
        "seconds": seconds,
        "rate": args.signals / seconds,
        "retries": calls.retries,
        "errors": dict(calls.errors),
    }


def parser() -> argparse.ArgumentParser:
    """The driver's arguments."""
    p = argparse.ArgumentParser(prog="python -m bench.drive", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    for mode in ("happy", "start", "query", "latency", "flood"):
        m = sub.add_parser(mode)
        m.add_argument("--count", type=int, default=100)
        m.add_argument("--concurrency", type=int, default=50)
        m.add_argument("--prefix", default=f"B{datetime.now(SHANGHAI):%H%M%S}")
        m.add_argument("--give-up-after", type=float, default=1800.0, help="seconds")
        if mode == "happy":
            m.add_argument("--workflow", default=WORK_ORDER)
            m.add_argument("--retry", action="store_true")
            m.add_argument("--out", default="")
        if mode == "latency":
            m.add_argument("--samples", type=int, default=200)
            m.add_argument("--seed", type=int, default=12)
            m.add_argument("--first", type=int, default=0, help="the first order's index (orders --first .. +--count)")
        if mode == "flood":
            m.add_argument("--order", required=True)
            m.add_argument("--signals", type=int, default=20_000)
            m.add_argument("--basis-chars", type=int, default=500, help="the size of each refused signal's text")
    return p


MODES: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]]] = {
    "happy": happy,
    "start": start,
    "query": query,
    "latency": latency,
    "flood": flood,
}


def main() -> None:
    """Run one mode and print its figures as one JSON line."""
    args = parser().parse_args()
    result: dict[str, Any] = asyncio.run(MODES[args.mode](args))
    print(json.dumps(result, ensure_ascii=False, default=str), flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # temporalio's threads can crash a finalising interpreter


if __name__ == "__main__":
    main()
