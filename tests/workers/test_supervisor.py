"""Worker processes kept alive (`workers.supervisor`), with stand-in children that start in milliseconds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import structlog

from workers.supervisor import WorkerProcesses

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
#: A child that ignores SIGTERM: the supervisor must SIGKILL it after the grace period.
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
    "time.sleep(120)",
]
FAILING = [sys.executable, "-c", "import sys; sys.exit(3)"]


def _alive(pid: int) -> bool:
    try:
        state = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "zombie" not in state


async def test_a_killed_worker_is_restarted_at_once() -> None:
    """A child that lived its while and is killed comes back at once, in the same slot; the log says so."""
    workers = WorkerProcesses(2, dict(os.environ), command=SLEEPER, quick_death_seconds=0.2)
    with structlog.testing.capture_logs() as logs:
        await workers.start()
        try:
            first = workers.pids()
            assert None not in first
            await asyncio.sleep(0.4)
            assert workers.kill(1) == first[1]
            assert await workers.wait_all_running(5)
            for _ in range(50):
                if workers.restarts == 1:
                    break
                await asyncio.sleep(0.05)
            now = workers.pids()
            assert now[0] == first[0]
            assert now[1] not in (None, first[1])
            assert workers.restarts == 1
        finally:
            await workers.stop()
    [died] = [e for e in logs if e["event"] == "worker.died"]
    assert died["slot"] == 1
    assert died["signal"] == "SIGKILL"
    assert died["restart_in_seconds"] == 0.0
    assert [e["slot"] for e in logs if e["event"] == "worker.restarted"] == [1]
    assert not any(_alive(p) for p in [*first, *now] if p is not None)


async def test_a_worker_that_dies_at_once_is_restarted_after_growing_pauses() -> None:
    """A child that cannot start does not spin: 1x, 2x, 4x the first pause, up to the cap."""
    workers = WorkerProcesses(
        1,
        dict(os.environ),
        command=FAILING,
        quick_death_seconds=30,
        backoff_first_seconds=0.1,
        backoff_max_seconds=0.4,
    )
    with structlog.testing.capture_logs() as logs:
        await workers.start()
        try:
            for _ in range(400):
                if workers.restarts >= 4:
                    break
                await asyncio.sleep(0.05)
        finally:
            await workers.stop()
    pauses = [e["restart_in_seconds"] for e in logs if e["event"] == "worker.died"]
    assert pauses[:5] == [0.1, 0.2, 0.4, 0.4, 0.4][: len(pauses[:5])]
    assert len(pauses) >= 4
    assert all(e["exit_code"] == 3 for e in logs if e["event"] == "worker.died")


async def test_stop_leaves_no_child_even_a_stubborn_one() -> None:
    """SIGTERM first; a child that ignores it is killed after the grace period; nothing restarts."""
    workers = WorkerProcesses(2, dict(os.environ), command=STUBBORN)
    await workers.start()
    pids = [p for p in workers.pids() if p is not None]
    await asyncio.sleep(1.0)  # the children have installed their SIGTERM handler
    t0 = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        await workers.stop(grace_seconds=0.5)
    assert time.monotonic() - t0 < 5
    assert not any(_alive(p) for p in pids)
    assert sorted(e["pid"] for e in logs if e["event"] == "worker.killed") == sorted(pids)
    assert workers.restarts == 0


async def test_no_workers_is_nothing_to_do() -> None:
    """`hotline dev --workers 0`: no slot, nothing started, stop returns at once."""
    workers = WorkerProcesses(0, dict(os.environ), command=SLEEPER)
    await workers.start()
    assert workers.pids() == []
    assert await workers.wait_all_running(0.1)
    await workers.stop()


def test_the_children_die_with_their_parent(tmp_path: Path) -> None:
    """A parent killed without stopping its children (SIGKILL) takes them along (Linux)."""
    if sys.platform != "linux":
        return
    script = tmp_path / "parent.py"
    script.write_text(
        "import asyncio, os, sys\n"
        "from workers.supervisor import WorkerProcesses\n"
        "async def main():\n"
        f"    w = WorkerProcesses(2, dict(os.environ), command={SLEEPER!r})\n"
        "    await w.start()\n"
        "    print('PIDS', *w.pids(), flush=True)\n"
        "    await asyncio.sleep(120)\n"
        "asyncio.run(main())\n",
        encoding="utf-8",
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert parent.stdout is not None
    line = ""
    while not line.startswith("PIDS"):
        line = parent.stdout.readline()
        assert line, "the parent never said its children's pids"
    pids = [int(p) for p in line.split()[1:]]
    assert len(pids) == 2
    assert all(_alive(p) for p in pids)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)
