"""`make bench`: every benchmark, one table, also written to docs/performance.md.

- P1: happy-path orders per second on `hotline dev`'s stack (embedded PostgreSQL, the Temporal dev
  server, worker processes) beside a bare workflow taking the same messages with no activities, on
  the same server, driven by the same client process, in alternating rounds of the same run.
- P2: open orders with armed timers: the worker process's RSS and an action's latency on a random
  open order, for several sizes of the worker's workflow cache (`HOTLINE_MAX_CACHED_WORKFLOWS`).
- P3: deadlines per second (`tests/domain/test_bench.py`) and through `hotline deadlines --batch`
  (`tests/starter/test_deadlines_cmd.py`), each beside a day-by-day loop over the calendar package.
- P4: statistics over a million orders beside a plain `count(*)` (`tests/activities/test_stats_bench.py`).

P3 and P4 are the pytest benchmarks (marker ``bench``) as they were; they report their figures to
this run through `tests.support.bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.bare import BARE_ORDER
from bench.common import (
    ROOT,
    Machine,
    ms,
    own_stack,
    rss_mb,
    run_child,
    sampled_load,
    scratch,
    wait_for_log,
    write_section,
)
from domain.contract import WORK_ORDER
from workers.dev import DevStack
from workers.logging import configure as configure_logging
from workers.supervisor import WorkerProcesses, child_env

BARE_QUEUE = "bench-bare"
DOC = ROOT / "docs" / "performance.md"


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    id: str
    measure: str
    ours: str
    beside: str = ""
    ratio: str = ""
    goal: str = ""
    verdict: str = ""
    #: whether a missed goal fails the run (rows of the defaults do; a setting tried for comparison does not)
    counts: bool = True


def verdict(ok: bool | None, by: str = "", *, counts: bool = True) -> str:
    """`met`, `MISSED` (with by how much), or nothing when there is no goal; a row that does not
    count (another setting, tried for comparison) says `within` or `over`."""
    if ok is None:
        return ""
    word = ("met" if ok else "MISSED") if counts else ("within" if ok else "over")
    return word + (f" ({by})" if by else "")


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| | measure | ours | beside it, same run | ratio | goal | |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.id} | {r.measure} | {r.ours} | {r.beside} | {r.ratio} | {r.goal} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


# -- P1 -----------------------------------------------------------------------------------------


async def p1(stack: DevStack, folder: Path, args: argparse.Namespace) -> list[Row]:
    """The stack's happy path beside the bare workflow's, alternating rounds."""
    bare = WorkerProcesses(
        1,
        child_env(stack.process_env(HOTLINE_TASK_QUEUE=BARE_QUEUE)),
        command=[sys.executable, "-m", "bench.bare"],
        output=folder / "bare.log",
    )
    await bare.start()
    try:
        await wait_for_log(folder / "bare.log", '"worker.started"')
        runs: dict[str, list[dict[str, Any]]] = {WORK_ORDER: [], BARE_ORDER: []}

        async def drive(workflow: str, count: int, prefix: str) -> dict[str, Any]:
            queue = {WORK_ORDER: stack.worker_settings.task_queue, BARE_ORDER: BARE_QUEUE}[workflow]
            return await run_child(
                [
                    *("bench.drive", "happy", "--workflow", workflow, "--count", str(count)),
                    *("--concurrency", str(args.p1_concurrency), "--prefix", prefix),
                ],
                stack.process_env(HOTLINE_TASK_QUEUE=queue),
                log=folder / "drive.log",
                within_seconds=args.p1_orders * 10 + 300,
            )

        for workflow in runs:  # warm both up (imports, caches, JIT of the sandbox), not counted
            await drive(workflow, min(20, args.p1_orders), f"W{workflow[0]}")
        for r in range(args.p1_rounds):
            for workflow in (BARE_ORDER, WORK_ORDER) if r % 2 == 0 else (WORK_ORDER, BARE_ORDER):
                result = await drive(workflow, args.p1_orders, f"P1{workflow[0]}{r}-")
                print(
                    f"  P1 round {r + 1} {workflow}: {result['closed']}/{result['orders']} closed in "
                    f"{result['seconds']:.1f} s = {result['rate']:.1f}/s, action p50 {ms(result['action_p50'])} "
                    f"p99 {ms(result['action_p99'])}, failed {result['failed']}",
                    flush=True,
                )
                runs[workflow].append(result)
    finally:
        await bare.stop()
    ours = statistics.median(r["rate"] for r in runs[WORK_ORDER])
    ceiling = statistics.median(r["rate"] for r in runs[BARE_ORDER])
    ratio = ours / ceiling if ceiling else math.nan
    failed = sum(r["failed"] for rs in runs.values() for r in rs)
    what = f"{args.p1_orders} orders {args.p1_concurrency} at a time, median of {args.p1_rounds} rounds"
    return [
        Row(
            "P1",
            f"happy-path orders closed per second ({what}; {failed} failed)",
            f"{ours:.1f}/s",
            f"bare workflow {ceiling:.1f}/s",
            f"{ratio:.2f}×",
            "≥ 0.25×",
            verdict(ratio >= 0.25 and failed == 0, f"{ratio / 0.25:.1f}× the goal"),
        ),
        Row(
            "P1",
            "an action's latency under that load, p50 / p99",
            f"{_median_ms(runs[WORK_ORDER], 'action_p50')} / {_median_ms(runs[WORK_ORDER], 'action_p99')}",
            f"bare {_median_ms(runs[BARE_ORDER], 'action_p50')} / {_median_ms(runs[BARE_ORDER], 'action_p99')}",
        ),
    ]


def _median_ms(results: list[dict[str, Any]], key: str) -> str:
    return ms(statistics.median(r[key] for r in results))


# -- P2 -----------------------------------------------------------------------------------------


async def p2(stack: DevStack, folder: Path, args: argparse.Namespace) -> list[Row]:
    """Open orders: the worker's memory and an action's latency, per cache size."""
    n = args.p2_orders
    prefix = "P2-"
    env = stack.process_env()
    conn = await asyncpg.connect(stack.pg.url)
    rows: list[Row] = []
    try:
        t0 = time.monotonic()
        started = await run_child(
            ["bench.drive", "start", "--count", str(n), "--concurrency", "50", "--prefix", prefix],
            env,
            log=folder / "drive.log",
            within_seconds=n * 2 + 600,
        )
        written = await _wait_written(conn, prefix, n, within_seconds=n * 2 + 600)
        if written < n:
            raise RuntimeError(f"P2: only {written} of {n} orders were written")
        seconds = time.monotonic() - t0
        [pid] = stack.workers.pids()
        assert pid is not None
        rss, peak = rss_mb(pid)
        print(
            f"  P2 {n} orders started in {started['seconds']:.0f} s ({started['rate']:.0f}/s accepted), all written "
            f"after {seconds:.0f} s; worker RSS {rss:.0f} MB (peak {peak:.0f} MB) with cache "
            f"{stack.worker_settings.max_cached_workflows}",
            flush=True,
        )
        rows.append(
            Row(
                "P2",
                f"{n:,} orders started ({started['rate']:.0f}/s accepted) and written by one worker "
                f"(cache {stack.worker_settings.max_cached_workflows}): worker RSS at the end (peak)",
                f"{rss:.0f} MB ({peak:.0f} MB)",
                f"all written after {seconds:.0f} s",
                "",
                "≤ 300 MB",
                verdict(rss <= 300, f"{rss / 300:.2f}× the goal"),
            )
        )
        slices = len(args.cache_sizes) + 1
        lat = await _latency(env, folder, prefix, n, 0, slices, args.p2_samples)
        rows.append(_latency_row(lat, f"after the start, cache {stack.worker_settings.max_cached_workflows}"))
        for k, size in enumerate(args.cache_sizes, start=1):
            await stack.replace_workers(1, HOTLINE_MAX_CACHED_WORKFLOWS=str(size))
            assert stack.worker_output is not None
            await wait_for_log(stack.worker_output, f'"max_cached_workflows": {size}')
            await asyncio.sleep(2)
            # ask more orders than the cache holds: it is full, as after a long life
            warm_count = min(n, size + size // 5 + 50)
            warm = await run_child(
                ["bench.drive", "query", "--count", str(warm_count), "--concurrency", "20", "--prefix", prefix],
                env,
                log=folder / "drive.log",
                within_seconds=n + 600,
            )
            [pid] = stack.workers.pids()
            assert pid is not None
            rss, peak = rss_mb(pid)
            lat = await _latency(env, folder, prefix, n, k, slices, args.p2_samples)
            print(
                f"  P2 cache {size}: {warm_count} orders queried in {warm['seconds']:.0f} s; worker RSS {rss:.0f} MB "
                f"(peak {peak:.0f}); receive p50 {ms(lat['p50'])} p99 {ms(lat['p99'])}",
                flush=True,
            )
            default = size == stack.worker_settings.max_cached_workflows
            rows.append(
                Row(
                    "P2",
                    f"cache {size}{' (the default)' if default else ''} filled ({warm_count:,} of the {n:,} open "
                    "orders asked for their status): worker RSS (peak)",
                    f"{rss:.0f} MB ({peak:.0f} MB)",
                    "",
                    "",
                    "≤ 300 MB",
                    verdict(rss <= 300, f"{rss / 300:.2f}× the goal", counts=default),
                    counts=default,
                )
            )
            rows.append(_latency_row(lat, f"cache {size}", counts=default))
        await stack.replace_workers(1)
    finally:
        await conn.close()
    return rows


async def _wait_written(conn: asyncpg.Connection, prefix: str, n: int, *, within_seconds: float) -> int:
    deadline = time.monotonic() + within_seconds
    while True:
        written = int(await conn.fetchval("SELECT count(*) FROM orders WHERE order_no LIKE $1", prefix + "%"))
        if written >= n or time.monotonic() > deadline:
            return written
        await asyncio.sleep(1)


async def _latency(
    env: dict[str, str], folder: Path, prefix: str, n: int, part: int, parts: int, samples: int
) -> dict[str, Any]:
    """`receive` on random orders of the ``part``-th of ``parts`` slices (each order receives once)."""
    size = n // parts
    return await run_child(
        [
            *("bench.drive", "latency", "--count", str(size), "--samples", str(samples), "--seed", str(part)),
            *("--prefix", prefix, "--first", str(part * size)),
        ],
        env,
        log=folder / "drive.log",
        within_seconds=samples * 5 + 120,
    )


def _latency_row(lat: dict[str, Any], when: str, *, counts: bool = True) -> Row:
    ok = lat["p99"] <= 0.150 and lat["failed"] == 0
    return Row(
        "P2",
        f"`receive` on a random open order, one at a time ({lat['samples']} samples, {when}), p50 / p99",
        f"{ms(lat['p50'])} / {ms(lat['p99'])}",
        f"max {ms(lat['max'] or math.nan)}; answer {lat['answer_bytes'] or 0:,} B",
        "",
        "p99 ≤ 150 ms",
        verdict(ok, f"{lat['p99'] / 0.150:.2f}× the goal", counts=counts),
        counts=counts,
    )


# -- P3, P4 -------------------------------------------------------------------------------------

PYTEST_BENCHES = {
    "P3": ["tests/domain/test_bench.py", "tests/starter/test_deadlines_cmd.py::test_batch_rate"],
    "P4": ["tests/activities/test_stats_bench.py"],
}


def pytest_benches(which: list[str], folder: Path, args: argparse.Namespace) -> list[Row]:
    """Run the pytest benchmarks and turn their reports into rows."""
    report = folder / "pytest-bench.ndjson"
    env = {**os.environ, "HOTLINE_BENCH_REPORT": str(report), "HOTLINE_BENCH_ORDERS": str(args.p4_orders)}
    paths = [p for w in which for p in PYTEST_BENCHES[w]]
    cmd = [sys.executable, "-m", "pytest", "-m", "bench", "-q", "-s", "-p", "no:cacheprovider", *paths]
    print(f"  {' '.join(which)}: {' '.join(cmd[2:])}", flush=True)
    done = subprocess.run(cmd, env=env, cwd=ROOT, check=False, timeout=args.p4_orders / 200 + 1800)
    figures = {}
    if report.exists():
        for line in report.read_text().splitlines():
            item = json.loads(line)
            figures[item["bench"]] = item
    rows: list[Row] = []
    failed = "" if done.returncode == 0 else f" (pytest exited {done.returncode})"
    if "P3" in which:
        rows += _p3_rows(figures, failed)
    if "P4" in which:
        rows += _p4_rows(figures, failed)
    return rows


def _ratio_row(id_: str, measure: str, f: dict[str, Any] | None, goal: float, failed: str) -> Row:
    if f is None:
        return Row(id_, measure, "not measured" + failed)
    ratio = f["rate"] / f["loop_rate"]
    return Row(
        id_,
        measure,
        f"{f['rate']:,.0f}/s ({f['orders']:,} orders)",
        f"day-by-day loop {f['loop_rate']:,.0f}/s",
        f"{ratio:.1f}×",
        f"≥ {goal:.0f}×",
        verdict(ratio >= goal),
    )


def _p3_rows(figures: dict[str, Any], failed: str) -> list[Row]:
    return [
        _ratio_row(
            "P3",
            "deadlines computed per second (receipt + completion, with explanations)",
            figures.get("deadlines"),
            5,
            failed,
        ),
        _ratio_row(
            "P3",
            "`hotline deadlines --batch` answers per second (process start included)",
            figures.get("deadlines_batch"),
            5,
            failed,
        ),
    ]


def _p4_rows(figures: dict[str, Any], failed: str) -> list[Row]:
    f = figures.get("stats")
    if f is None:
        return [Row("P4", "statistics over a million orders", "not measured" + failed)]
    per: Callable[[str], str] = lambda key: f"{f[key] / f['count']:.2f}×"  # noqa: E731
    return [
        Row(
            "P4",
            f"`stats` for a month over {f['orders']:,} orders (seeded in {f['seeded_seconds']:.0f} s)",
            ms(f["month"]),
            f"`count(*)` {ms(f['count'])}",
            per("month"),
            "≤ 10×",
            verdict(f["month"] <= 10 * f["count"]),
        ),
        Row(
            "P4",
            "`stats` for a month by unit",
            ms(f["month_by_unit"]),
            f"`count(*)` {ms(f['count'])}",
            per("month_by_unit"),
            "≤ 10×",
            verdict(f["month_by_unit"] <= 10 * f["count"]),
        ),
        Row("P4", "`stats` for the year", ms(f["year"]), f"`count(*)` {ms(f['count'])}", per("year")),
        Row(
            "P4",
            "`stats` for the year by unit",
            ms(f["year_by_unit"]),
            f"`count(*)` {ms(f['count'])}",
            per("year_by_unit"),
        ),
    ]


# -- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> tuple[list[Row], list[float]]:
    """Every benchmark asked for, in order; and the machine's load sampled meanwhile."""
    async with sampled_load() as load:
        return await _run(args), load


async def _run(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    folder = scratch("bench")
    print(f"bench: stacks and logs in {folder}", flush=True)
    if "P1" in args.only or "P2" in args.only:
        async with own_stack(folder / "stack", workers=1) as stack:
            if "P1" in args.only:
                rows += await p1(stack, folder, args)
        if "P2" in args.only:
            # a stack of its own, so that P1's orders (closed, archived) weigh nothing here
            async with own_stack(folder / "stack-p2", workers=1) as stack:
                rows += await p2(stack, folder, args)
    which = [w for w in ("P3", "P4") if w in args.only]
    if which:
        rows += await asyncio.to_thread(pytest_benches, which, folder, args)
    return rows


def parser() -> argparse.ArgumentParser:
    """`python -m bench`'s arguments: the sizes (the defaults are the issue's)."""
    p = argparse.ArgumentParser(prog="python -m bench", description="Every benchmark, one table (make bench).")
    p.add_argument("--only", default="P1,P2,P3,P4", help="which benchmarks, comma-separated (default: all)")
    p.add_argument("--p1-orders", type=int, default=200)
    p.add_argument("--p1-concurrency", type=int, default=50)
    p.add_argument("--p1-rounds", type=int, default=2)
    p.add_argument("--p2-orders", type=int, default=10_000)
    p.add_argument("--p2-samples", type=int, default=200)
    p.add_argument("--cache-sizes", default="250,500,1000,2500", help="comma-separated")
    p.add_argument("--p4-orders", type=int, default=1_000_000)
    p.add_argument("--quick", action="store_true", help="small sizes, nothing written: to try the harness")
    p.add_argument("--no-write", action="store_true", help="do not write the table into docs/performance.md")
    return p


def main() -> None:
    """Run, print the table, write it to docs/performance.md when asked."""
    args = parser().parse_args()
    if args.quick:
        args.p1_orders, args.p1_rounds, args.p2_orders, args.p2_samples = 40, 1, 500, 50
        args.cache_sizes, args.p4_orders = "100,500", 100_000  # 500: the default
    args.only = [x.strip().upper() for x in args.only.split(",")]
    args.cache_sizes = [int(x) for x in str(args.cache_sizes).split(",") if x]
    configure_logging(fmt="console", level="warning")
    machine = Machine.now()
    command = "make bench" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else "")
    t0 = time.monotonic()
    rows, load = asyncio.run(run(args))
    machine = machine.finished(load)
    text = table(rows)
    print("\n" + text + "\n", flush=True)
    minutes = (time.monotonic() - t0) / 60
    body = "\n".join(
        [
            f"Command: `{command}` ({minutes:.0f} min).",
            "",
            machine.describe(),
            "",
            text,
        ]
    )
    if not (args.quick or args.no_write):
        write_section(DOC, "bench", body)
        print(f"written to {DOC.relative_to(ROOT)}", flush=True)
    sys.stdout.flush()
    os._exit(0 if all("MISSED" not in r.verdict for r in rows if r.counts) else 1)
