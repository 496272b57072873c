"""`make chaos`: the stack under faults, each run ending with a verdict line and its figures.

One stack of its own (embedded PostgreSQL, the Temporal dev server, ``--workers`` worker processes
kept alive by `workers.supervisor`, all on loopback, in a temporary folder), then:

- R1: orders driven through the happy path by a client process that retries with `request_id`,
  while a worker process is killed with SIGKILL every ``--kill-every`` seconds (and restarted);
- R2: the same while PostgreSQL is stopped for ``--pg-down`` seconds and started again;
  after each: every order closed with the right outcome, every timeline row and outbox message
  exactly once under the keys the activities write them with, the projection caught up, the archive
  whole;
- R3: fuzzed payloads (`bench.fuzz`) sent as updates and as signals at orders in six phases: every
  one refused with a message, no workflow task failed, the orders unchanged but for the refused;
- R4: a flood of refused signals at one order: bounded, continued as new, no payload grown, and
  the order then closes normally.

Each run is bounded in time (``--minutes``); past it, its verdict is FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.store.calendar_data import package_calendar
from bench.common import ROOT, Machine, own_stack, run_child, sampled_load, scratch, write_section
from bench.fuzz import payloads
from bench.happy import STEPS, lead_dispatched_at, message, new_order
from domain.calendar import SHANGHAI
from domain.contract import STATUS_QUERY, WORK_ORDER, OrderAction, order_workflow_id
from domain.errors import REFUSAL_TYPES, Rejected
from domain.machine import Machine as RuleMachine
from domain.models import NewOrder, OrderStatus
from domain.order import LIFECYCLE, Order
from domain.rulebook import rulebook_for
from starter import connection
from starter.errors import turned_away
from workers.dev import DevStack
from workers.logging import configure as configure_logging

DOC = ROOT / "docs" / "performance.md"
#: Temporal's hard limits on one run's history (the server terminates a run past them).
HISTORY_EVENTS_LIMIT = 51_200
HISTORY_BYTES_LIMIT = 50 * 1024 * 1024
#: No payload an order carries may exceed this, however old it is (Temporal's limit is 2 MB).
PAYLOAD_BOUND = 64 * 1024


@dataclass
class Verdict:
    """A run's verdict: passed or not, its figures, and what failed."""

    run: str
    title: str
    figures: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether nothing failed."""
        return not self.faults

    def line(self) -> str:
        """The verdict line."""
        figures = ", ".join(f"{k} {v}" for k, v in self.figures.items())
        head = f"{self.run} {'PASS' if self.ok else 'FAIL'}: {self.title}"
        tail = "" if self.ok else f" -- FAULTS: {'; '.join(self.faults[:8])}"
        return f"{head} ({figures}; {self.seconds:.0f} s){tail}"

    def check(self, ok: bool, fault: str) -> None:
        """Record ``fault`` unless ``ok``."""
        if not ok:
            self.faults.append(fault)


# -- R1 and R2: the happy path under faults ---------------------------------------------------


async def _reference(
    stack: DevStack, folder: Path, conn: asyncpg.Connection, prefix: str
) -> Counter[tuple[str, str, str]]:
    """The outbox one happy-path order writes when nothing goes wrong: (table, recipient, kind) counted."""
    await run_child(
        ["bench.drive", "happy", "--count", "1", "--prefix", prefix, "--retry"],
        stack.process_env(),
        log=folder / "drive.log",
        within_seconds=300,
    )
    return Counter(
        (r["t"], r["recipient"], r["kind"])
        for r in await conn.fetch(
            """
            SELECT 'notification' AS t, recipient, kind FROM notification_outbox
            WHERE order_no LIKE $1 AND route NOT LIKE 'duty:%'
            UNION ALL SELECT 'hotline', 'hotline', kind FROM hotline_outbox WHERE order_no LIKE $1
            """,
            prefix + "%",
        )
    )


async def _happy_under(
    run: str,
    title: str,
    stack: DevStack,
    folder: Path,
    args: argparse.Namespace,
    fault: Callable[[asyncio.Task[dict[str, Any]], Verdict], Awaitable[None]],
) -> Verdict:
    """Drive ``--orders`` orders with retries while ``fault`` breaks things, then check every row."""
    verdict = Verdict(run, title)
    conn = await asyncpg.connect(stack.pg.url)
    try:
        stamp = f"{datetime.now(SHANGHAI):%H%M%S}"
        reference = await _reference(stack, folder, conn, f"REF{run}-{stamp}-")
    finally:
        await conn.close()  # the fault may stop the database under it
    prefix = f"{run}-{stamp}-"
    out = folder / f"{run}.ndjson"
    t0 = time.monotonic()
    driver = asyncio.create_task(
        run_child(
            [
                *("bench.drive", "happy", "--retry", "--count", str(args.orders)),
                *("--concurrency", str(args.concurrency), "--prefix", prefix, "--out", str(out)),
                *("--give-up-after", str(args.minutes * 60)),
            ],
            stack.process_env(),
            log=folder / "drive.log",
            within_seconds=args.minutes * 60,
        )
    )
    await fault(driver, verdict)
    try:
        result = await driver
    except RuntimeError as err:
        verdict.check(False, str(err))
        return verdict
    verdict.seconds = time.monotonic() - t0
    verdict.figures.update(
        {
            "orders": f"{result['closed']}/{args.orders} closed",
            "rate": f"{result['rate']:.1f}/s",
            "retried calls": result["retries"],
            "action p50/p99": f"{1000 * result['action_p50']:.0f}/{1000 * result['action_p99']:.0f} ms",
        }
    )
    verdict.check(result["failed"] == 0, f"{result['failed']} orders failed: {result['failures'][:3]}")
    finals = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    conn = await asyncpg.connect(stack.pg.url)
    try:
        await _check_rows(conn, prefix, finals, reference, args.orders, verdict)
    finally:
        await conn.close()
    return verdict


async def _check_rows(
    conn: asyncpg.Connection,
    prefix: str,
    finals: list[dict[str, Any]],
    reference: Counter[tuple[str, str, str]],
    expected: int,
    verdict: Verdict,
) -> None:
    """Every order closed satisfied; its rows exactly once, as the activities key them; projection and
    archive whole."""
    verdict.check(len(finals) == expected, f"{len(finals)} of {expected} orders ended")
    wrong = [f["order_no"] for f in finals if f["outcome"] != "satisfied" or f["phase"] != "closed"]
    verdict.check(not wrong, f"{len(wrong)} orders closed wrong, e.g. {wrong[:3]}")
    like = prefix + "%"
    runs = await conn.fetch("SELECT order_no, run_id, phase, outcome FROM orders WHERE order_no LIKE $1", like)
    by_no: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in runs:
        by_no[r["order_no"]].append(r)
    verdict.check(len(by_no) == expected, f"the projection has {len(by_no)} of {expected} orders")
    doubled = [no for no, rs in by_no.items() if len(rs) != 1]
    verdict.check(not doubled, f"{len(doubled)} orders ran more than once, e.g. {doubled[:3]}")
    behind = [no for no, rs in by_no.items() if rs[0]["phase"] != "closed" or rs[0]["outcome"] != "satisfied"]
    verdict.check(not behind, f"the projection is behind for {len(behind)} orders, e.g. {behind[:3]}")
    archived = await conn.fetchval(
        "SELECT count(*) FROM order_archive a JOIN orders o USING (run_id) WHERE o.order_no LIKE $1", like
    )
    verdict.check(archived == expected, f"the archive holds {archived} of {expected} orders")

    timeline: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in await conn.fetch("SELECT order_no, seq, kind FROM order_timeline WHERE order_no LIKE $1", like):
        timeline[r["order_no"]].append((r["seq"], r["kind"]))
    outbox: dict[str, list[tuple[int, str, str, str]]] = defaultdict(list)
    for r in await conn.fetch(
        """
        SELECT order_no, seq, 'notification' AS t, recipient, kind FROM notification_outbox
        WHERE order_no LIKE $1 AND route NOT LIKE 'duty:%'
        UNION ALL SELECT order_no, seq, 'hotline', 'hotline', kind FROM hotline_outbox WHERE order_no LIKE $1
        """,
        like,
    ):
        outbox[r["order_no"]].append((r["seq"], r["t"], r["recipient"], r["kind"]))
    bad_timeline, bad_outbox = [], []
    for f in finals:
        rows = sorted(timeline.get(f["order_no"], []))
        if [s for s, _ in rows] != list(range(len(f["timeline"]))) or [k for _, k in rows] != f["timeline"]:
            bad_timeline.append(f["order_no"])
        items = sorted(outbox.get(f["order_no"], []))
        seqs = [s for s, *_ in items]
        if seqs != list(range(len(items))) or Counter((t, rc, k) for _, t, rc, k in items) != reference:
            bad_outbox.append(f["order_no"])
    rows_total = sum(len(v) for v in timeline.values())
    verdict.figures["timeline rows"] = f"{rows_total:,}"
    verdict.figures["outbox rows"] = f"{sum(len(v) for v in outbox.values()):,}"
    verdict.check(not bad_timeline, f"timeline rows missing or doubled for {len(bad_timeline)}: {bad_timeline[:3]}")
    verdict.check(not bad_outbox, f"outbox rows missing or doubled for {len(bad_outbox)}: {bad_outbox[:3]}")


async def r1(stack: DevStack, folder: Path, args: argparse.Namespace) -> Verdict:
    """R1: a worker process killed with SIGKILL every few seconds while orders are driven."""

    async def kill_workers(driver: asyncio.Task[dict[str, Any]], verdict: Verdict) -> None:
        kills = 0
        restarts_before = stack.workers.restarts
        while not driver.done():
            try:
                await asyncio.wait_for(asyncio.shield(driver), args.kill_every)
            except TimeoutError:
                if stack.workers.kill(kills % stack.workers.count) is not None:
                    kills += 1
            except Exception:
                break
        await stack.workers.wait_all_running(60)
        verdict.figures["SIGKILLs"] = kills
        verdict.figures["restarts"] = stack.workers.restarts - restarts_before
        verdict.check(kills > 0, "no worker was killed (the run was shorter than one interval)")

    return await _happy_under(
        "R1",
        f"{args.orders} orders, a worker SIGKILLed every {args.kill_every:.0f} s",
        stack,
        folder,
        args,
        kill_workers,
    )


async def r2(stack: DevStack, folder: Path, args: argparse.Namespace) -> Verdict:
    """R2: PostgreSQL stopped for a while and started again while orders are driven."""

    async def stop_database(driver: asyncio.Task[dict[str, Any]], verdict: Verdict) -> None:
        await asyncio.wait([driver], timeout=args.pg_stop_after)
        if driver.done():
            verdict.check(False, "the run ended before PostgreSQL was stopped")
            return
        t0 = time.monotonic()
        await asyncio.to_thread(stack.pg.stop)
        await asyncio.sleep(args.pg_down)
        await asyncio.to_thread(stack.pg.start)
        verdict.figures["PostgreSQL down"] = f"{time.monotonic() - t0:.0f} s"

    return await _happy_under(
        "R2",
        f"{args.orders} orders, PostgreSQL stopped for {args.pg_down:.0f} s mid-run",
        stack,
        folder,
        args,
        stop_database,
    )


# -- R3: fuzzed payloads ------------------------------------------------------------------------


class Target:
    """An order in a phase, with a local copy of its rules (the oracle of what they would accept)."""

    def __init__(self, client: Client, order_no: str, steps: int) -> None:
        self.order_no = order_no
        self.steps = steps
        self.handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(order_workflow_id(order_no))
        now = datetime.now(SHANGHAI)
        new = NewOrder.model_validate(new_order(order_no))
        self.mirror = Order(new, rulebook_for(new.dispatched_at), package_calendar(), now, lifecycle=LIFECYCLE)
        self.signals = 0
        self.before: dict[str, Any] = {}

    async def start(self, client: Client, task_queue: str) -> None:
        """Start it and take it (and its copy) through the happy path's first ``steps`` steps."""
        await client.start_workflow(
            WORK_ORDER, new_order(self.order_no), id=order_workflow_id(self.order_no), task_queue=task_queue
        )
        remote: str | None = None
        local: str | None = None
        for step in range(self.steps):
            name = STEPS[step][0]
            payload = message(self.order_no, step, remote)
            answer = await self.handle.execute_update(name, payload, result_type=OrderStatus)
            self.mirror.act(name, message(self.order_no, step, local), datetime.now(SHANGHAI))
            if name == OrderAction.REVIEW:
                remote = lead_dispatched_at(answer)
                local = lead_dispatched_at(self.mirror.status())

    def refuses(self, name: str, payload: Any) -> bool:
        """Whether the rules refuse ``payload`` (its copy says so)."""
        try:
            self.mirror.check(name, payload, datetime.now(SHANGHAI))
        except Rejected:
            return True
        return False

    async def status(self) -> dict[str, Any]:
        """Its status as plain JSON."""
        data: dict[str, Any] = await self.handle.query(STATUS_QUERY)
        return data


def _unchanged(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields that differ, but for the refused signals' record."""
    keep = {"rejected_actions", "rejected_total"}
    return [k for k in before if k not in keep and before[k] != after.get(k)]


async def _histories(client: Client, order_no: str) -> list[Any]:
    """Every run's history of an order (continue-as-new makes several), the first first."""
    found = [
        (wf.start_time, wf.run_id)
        async for wf in client.list_workflows(f"WorkflowId = '{order_workflow_id(order_no)}'")
    ]
    runs = [run_id for _, run_id in sorted(found)]  # the first run first
    return [
        await client.get_workflow_handle(order_workflow_id(order_no), run_id=run_id).fetch_history() for run_id in runs
    ]


#: Workflow task "failures" that are the server's doing by design, the run going on:
#: - ``unhandled_command``: it refuses a completion that closes the run (continue-as-new) while new
#:   signals wait, and hands the workflow a new task at once to take them;
#: - ``force_close_command`` in a run that was neither terminated nor timed out: more signals arrived
#:   during one task than the server buffers (``history.maximumBufferedEventsBatch``, 100), so it
#:   fails that task to write them and schedules a new one (a run it does close, terminated for a
#:   history past its limits, say, counts as a real failure).
BENIGN_CAUSES = frozenset({"unhandled_command", "force_close_command"})
_FORCED_ENDS = frozenset(
    {EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT}
)


def _task_failures(histories: list[Any]) -> Counter[str]:
    """Workflow task failures in ``histories`` by cause; a run the server force-closed says so as
    ``force_close_command (run closed)``, which is never benign."""
    causes: Counter[str] = Counter()
    for h in histories:
        forced_end = bool(h.events) and h.events[-1].event_type in _FORCED_ENDS
        for e in h.events:
            if e.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                continue
            cause = (
                WorkflowTaskFailedCause.Name(e.workflow_task_failed_event_attributes.cause)
                .removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
                .lower()
            )
            causes[f"{cause} (run closed)" if forced_end and cause == "force_close_command" else cause] += 1
    return causes


def _real_failures(causes: Counter[str]) -> int:
    return sum(n for cause, n in causes.items() if cause not in BENIGN_CAUSES)


def _log_failures(path: Path | None, since: int) -> int:
    """Workflow task failures the workers logged after byte ``since`` of their log."""
    if path is None or not path.exists():
        return 0
    with path.open("rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    return text.count("Failed activation") + text.count("WorkflowTaskFailed")


async def r3(stack: DevStack, folder: Path, args: argparse.Namespace) -> Verdict:
    """R3: fuzzed payloads as updates and as signals: all refused, nothing failed, nothing changed."""
    verdict = Verdict("R3", f"{args.payloads:,} fuzzed payloads, each as an update and as a signal")
    t0 = time.monotonic()
    client = await connection.connect(stack.worker_settings, keyring=stack.keyring)
    log_at = stack.worker_output.stat().st_size if stack.worker_output and stack.worker_output.exists() else 0
    stamp = f"{datetime.now(SHANGHAI):%H%M%S}"
    targets = [Target(client, f"R3-{stamp}-{steps}", steps) for steps in (0, 1, 2, 3, 5, 6)]
    for t in targets:
        await t.start(client, stack.worker_settings.task_queue)
    for t in targets:
        t.before = await t.status()
    cases = payloads(args.payloads * 2, seed=args.seed)  # more than needed: some the rules would accept
    chosen: list[tuple[Target, str, str, Any]] = []
    accepted = 0
    ways: Counter[str] = Counter()
    for i, (name, way, payload) in enumerate(cases):
        target = targets[i % len(targets)]
        if not target.refuses(name, payload):
            accepted += 1
            continue
        chosen.append((target, name, way, payload))
        ways[way] += 1
        if len(chosen) == args.payloads:
            break
    verdict.check(len(chosen) == args.payloads, f"only {len(chosen)} payloads the rules refuse were generated")
    refused = 0
    resent = 0
    wrong: list[str] = []
    sem = asyncio.Semaphore(args.concurrency)

    async def update(target: Target, name: str, payload: Any) -> None:
        """The update, sent again (as any client would) while the server turns it away before the
        workflow sees it: more than its 10 updates in flight at one order, or an update it aborted."""
        nonlocal resent
        for attempt in range(30):
            try:
                await target.handle.execute_update(name, payload)
                return
            except RPCError as err:
                if attempt == 29 or not turned_away(err):
                    raise
                resent += 1
                await asyncio.sleep(0.05 * (attempt + 1))

    async def send(target: Target, name: str, way: str, payload: Any) -> None:
        nonlocal refused
        async with sem:
            try:
                await update(target, name, payload)
                wrong.append(f"{name}/{way} accepted as an update")
            except WorkflowUpdateFailedError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type in REFUSAL_TYPES and cause.message.strip():
                    refused += 1
                else:
                    wrong.append(f"{name}/{way}: {type(cause).__name__} {str(cause)[:120]}")
            except Exception as err:
                wrong.append(f"{name}/{way}: {type(err).__name__} {str(err)[:120]}")
            try:
                await target.handle.signal(name, payload)
                target.signals += 1
            except Exception as err:
                wrong.append(f"{name}/{way} signal not sent: {type(err).__name__} {str(err)[:120]}")

    await asyncio.gather(*(send(*c) for c in chosen))
    verdict.check(not wrong, f"{len(wrong)} not refused as they should be: {wrong[:3]}")
    # every signal is refused in the order: counted, the latest kept with their reasons
    changed, short = [], []
    for t in targets:
        after: dict[str, Any] = {}
        for _ in range(600):
            after = await t.status()
            if after["rejected_total"] >= t.signals:
                break
            await asyncio.sleep(0.2)
        if after["rejected_total"] != t.signals:
            short.append(f"{t.order_no}: {after['rejected_total']} of {t.signals}")
        kept = after["rejected_actions"]
        if len(kept) != min(RuleMachine.REJECTED_KEPT, t.signals) or not all(r["reason"].strip() for r in kept):
            short.append(f"{t.order_no}: {len(kept)} kept")
        changed += [f"{t.order_no}.{k}" for k in _unchanged(t.before, after)]
    verdict.check(not short, f"refused signals not all recorded: {short[:3]}")
    verdict.check(not changed, f"orders changed by refused payloads: {changed[:5]}")
    histories = [h for t in targets for h in await _histories(client, t.order_no)]
    causes = _task_failures(histories)
    failures = sum(causes.values())
    logged = _log_failures(stack.worker_output, log_at)
    verdict.check(failures == 0, f"workflow task failures in the histories: {dict(causes)}")
    verdict.check(logged == 0, f"{logged} workflow task failures in the workers' log")
    verdict.seconds = time.monotonic() - t0
    verdict.figures.update(
        {
            "refused updates": f"{refused:,}/{len(chosen):,}",
            "updates turned away by the server and sent again": f"{resent:,}",
            "refused signals": f"{sum(t.signals for t in targets):,}",
            "workflow task failures": failures + logged,
            "runs": len(histories),
            "kinds": ", ".join(f"{k} {v}" for k, v in sorted(ways.items())),
            "skipped (the rules accept them)": accepted,
        }
    )
    return verdict


# -- R4: a flood --------------------------------------------------------------------------------


def _activity_inputs(histories: list[Any]) -> list[int]:
    return [
        sum(len(p.data) for p in e.activity_task_scheduled_event_attributes.input.payloads)
        for h in histories
        for e in h.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def r4(stack: DevStack, folder: Path, args: argparse.Namespace) -> Verdict:
    """R4: a flood of refused signals at one order; it survives and then closes normally."""
    verdict = Verdict("R4", f"{args.signals:,} refused signals at one order, then its happy path")
    t0 = time.monotonic()
    client = await connection.connect(stack.worker_settings, keyring=stack.keyring)
    log_at = stack.worker_output.stat().st_size if stack.worker_output and stack.worker_output.exists() else 0
    no = f"R4-{datetime.now(SHANGHAI):%H%M%S}"
    fresh = f"{no}-fresh"
    handle = await client.start_workflow(
        WORK_ORDER, new_order(no), id=order_workflow_id(no), task_queue=stack.worker_settings.task_queue
    )
    await client.start_workflow(
        WORK_ORDER, new_order(fresh), id=order_workflow_id(fresh), task_queue=stack.worker_settings.task_queue
    )
    query_before = len(json.dumps(await _settled_status(handle), ensure_ascii=False))
    flood = await run_child(
        [
            *("bench.drive", "flood", "--order", no, "--signals", str(args.signals)),
            *("--concurrency", str(args.concurrency)),
        ],
        stack.process_env(),
        log=folder / "drive.log",
        within_seconds=args.minutes * 60,
    )
    status: dict[str, Any] = {}
    for _ in range(args.minutes * 60 * 2):
        status = await client.get_workflow_handle(order_workflow_id(no)).query(STATUS_QUERY)
        if status["rejected_total"] >= args.signals:
            break
        await asyncio.sleep(0.5)
    verdict.check(status["rejected_total"] == args.signals, f"{status['rejected_total']} of {args.signals} counted")
    verdict.check(
        len(status["rejected_actions"]) == RuleMachine.REJECTED_KEPT,
        f"{len(status['rejected_actions'])} refused signals kept",
    )
    query_after = len(json.dumps(status, ensure_ascii=False))
    # during the flood (the order waits for its receipt all along), the records of its last run weigh
    # what those of its first run did once it kept its 20 refusals: nothing grows with the count
    during = [max(_activity_inputs([h]), default=0) for h in await _histories(client, no)]
    # then the happy path, for the flooded order and for one that saw no flood, answer beside answer
    final, answers = await _happy_rest(client, no)
    control, control_answers = await _happy_rest(client, fresh)
    verdict.check(final.get("outcome") == "satisfied", f"the order closed {final.get('outcome')}")
    verdict.check(control.get("outcome") == "satisfied", f"the order without a flood closed {control.get('outcome')}")
    histories = await _histories(client, no)
    sizes = _activity_inputs(histories)
    control_sizes = _activity_inputs(await _histories(client, fresh))
    events = [len(h.events) for h in histories]
    history_bytes = [sum(e.ByteSize() for e in h.events) for h in histories]
    causes = _task_failures(histories)
    failures = _real_failures(causes) + _log_failures(stack.worker_output, log_at)
    kept = RuleMachine.REJECTED_KEPT * 2048  # what the refusals kept may add (each cut short)
    if args.signals >= 5_000:  # fewer stay under the server's suggestion (4 MB, ~4,000 events) in one run
        verdict.check(len(histories) >= 2, "the order never continued as new")
    verdict.check(max(events) < HISTORY_EVENTS_LIMIT, f"a run's history has {max(events)} events")
    verdict.check(max(history_bytes) < HISTORY_BYTES_LIMIT, f"a run's history has {max(history_bytes):,} bytes")
    verdict.check(max(sizes) < PAYLOAD_BOUND, f"an activity input of {max(sizes):,} bytes")
    verdict.check(during[-1] <= during[0] + 2048, f"the records grew from run to run during the flood: {during}")
    verdict.check(max(sizes) <= max(control_sizes) + kept, f"records of {max(sizes):,} B vs {max(control_sizes):,} B")
    verdict.check(query_after < PAYLOAD_BOUND, f"the status answer is {query_after:,} bytes")
    grown = [f"{a:,}/{b:,}" for a, b in zip(answers, control_answers, strict=True) if a > b + kept]
    verdict.check(not grown, f"update answers grew beyond the refusals kept: {grown}")
    verdict.check(failures == 0, f"workflow task failures: {dict(causes)}")
    conn = await asyncpg.connect(stack.pg.url)
    try:
        rows = await conn.fetch("SELECT seq, kind FROM order_timeline WHERE order_no = $1 ORDER BY seq", no)
        archived = await conn.fetchval(
            "SELECT count(*) FROM order_archive a JOIN orders o USING (run_id) WHERE o.order_no = $1", no
        )
    finally:
        await conn.close()
    kinds = [e["kind"] for e in final.get("timeline", [])]
    verdict.check([r["seq"] for r in rows] == list(range(len(kinds))), "timeline rows missing or doubled")
    verdict.check([r["kind"] for r in rows] == kinds, "timeline rows differ from the order's timeline")
    verdict.check(archived == 1, f"archived {archived} times")
    verdict.seconds = time.monotonic() - t0
    verdict.figures.update(
        {
            "signals sent": f"{flood['signals']:,} at {flood['rate']:.0f}/s",
            "runs (continue-as-new)": len(histories),
            "signals per run": ", ".join(
                f"{sum(1 for e in h.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED):,}"
                for h in histories
            ),
            "events per run max": f"{max(events):,}",
            "history per run max": f"{max(history_bytes) / 1e6:.1f} MB",
            "record input max per run during the flood": f"{', '.join(f'{x:,}' for x in during)} B",
            "record input max": f"{max(sizes):,} B (an order with no flood {max(control_sizes):,} B)",
            "status answer": f"{query_before:,} B before, {query_after:,} B after",
            "update answers": f"{', '.join(f'{x:,}' for x in answers)} B "
            f"(no flood: {', '.join(f'{x:,}' for x in control_answers)} B)",
            "workflow task failures": f"{failures} (server refusals by design: {sum(causes.values()) - failures})",
            "outcome": final.get("outcome"),
        }
    )
    return verdict


async def _happy_rest(client: Client, no: str) -> tuple[dict[str, Any], list[int]]:
    """Take an order waiting for its receipt to its close; its result and the size of each answer."""
    handle = client.get_workflow_handle(order_workflow_id(no))
    dispatched: str | None = None
    sizes = []
    for step, (name, _, _) in enumerate(STEPS):
        answer = await handle.execute_update(name, message(no, step, dispatched))
        sizes.append(len(json.dumps(answer, ensure_ascii=False)))
        if name == OrderAction.REVIEW:
            dispatched = lead_dispatched_at(answer)
    final: dict[str, Any] = await handle.result()
    return final, sizes


async def _settled_status(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    for _ in range(200):
        status: dict[str, Any] = await handle.query(STATUS_QUERY)
        if status.get("deadlines"):
            return status
        await asyncio.sleep(0.1)
    raise RuntimeError("the order never finished setting up")


# -- the run ------------------------------------------------------------------------------------

RUNS: dict[str, Callable[[DevStack, Path, argparse.Namespace], Awaitable[Verdict]]] = {
    "R1": r1,
    "R2": r2,
    "R3": r3,
    "R4": r4,
}


async def run(args: argparse.Namespace) -> tuple[list[Verdict], list[float]]:
    """Every run asked for, on one stack, each within its time bound; and the machine's load meanwhile."""
    async with sampled_load() as load:
        return await _run(args), load


async def _run(args: argparse.Namespace) -> list[Verdict]:
    folder = scratch("chaos")
    print(f"chaos: stack and logs in {folder}", flush=True)
    verdicts = []
    async with own_stack(folder / "stack", workers=args.workers) as stack:
        for name in args.only:
            t0 = time.monotonic()
            try:
                verdict = await asyncio.wait_for(RUNS[name](stack, folder, args), args.minutes * 60 + 120)
            except TimeoutError:
                verdict = Verdict(name, "timed out", faults=[f"not done within {args.minutes} minutes"])
            except Exception as err:
                verdict = Verdict(name, "crashed", faults=[f"{type(err).__name__}: {err}"])
            if not verdict.seconds:
                verdict.seconds = time.monotonic() - t0
            print(verdict.line(), flush=True)
            verdicts.append(verdict)
    return verdicts


def parser() -> argparse.ArgumentParser:
    """`python -m bench.chaos`'s arguments (the defaults are the issue's sizes)."""
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description="make chaos: R1-R4")
    p.add_argument("--only", default="R1,R2,R3,R4")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--orders", type=int, default=1000, help="R1, R2")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--kill-every", type=float, default=10.0, help="R1: seconds between SIGKILLs")
    p.add_argument("--pg-stop-after", type=float, default=30.0, help="R2: seconds into the run")
    p.add_argument("--pg-down", type=float, default=20.0, help="R2: seconds PostgreSQL stays stopped")
    p.add_argument("--payloads", type=int, default=10_000, help="R3")
    p.add_argument("--seed", type=int, default=20261129, help="R3")
    p.add_argument("--signals", type=int, default=20_000, help="R4")
    p.add_argument("--minutes", type=int, default=45, help="each run's time bound")
    p.add_argument("--quick", action="store_true", help="small sizes, nothing written: to try the harness")
    p.add_argument("--no-write", action="store_true", help="do not write the verdicts into docs/performance.md")
    return p


def main() -> None:
    """Run, print the verdict lines, write them to docs/performance.md; exit 1 if any failed."""
    args = parser().parse_args()
    if args.quick:
        args.orders, args.payloads, args.signals, args.minutes = 50, 500, 2000, 10
    args.only = [x.strip().upper() for x in args.only.split(",")]
    configure_logging(fmt="console", level="warning")
    machine = Machine.now()
    command = "make chaos" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else "")
    verdicts, load = asyncio.run(run(args))
    machine = machine.finished(load)
    lines = [v.line() for v in verdicts]
    print("\n" + "\n".join(lines), flush=True)
    if not (args.quick or args.no_write):
        body = "\n".join([f"Command: `{command}`.", "", machine.describe(), "", *[f"- {line}" for line in lines]])
        write_section(DOC, "chaos", body)
        print(f"written to {DOC.relative_to(ROOT)}", flush=True)
    sys.stdout.flush()
    os._exit(0 if all(v.ok for v in verdicts) else 1)


if __name__ == "__main__":
    main()
