"""Worker processes of their own, kept alive: what `hotline dev --workers N` runs its workers with.

Each slot runs one `hotline worker` child with the stack's settings (passed as `HOTLINE_*`
variables). A child that dies is started again at once, and logged; one that dies soon after its
start again and again is started after a growing pause (1 s, 2 s, 4 s, … at most 30 s), so a worker
that cannot start (a wrong database URL, say) does not spin. Stopping sends SIGTERM to every child
(a worker shuts down gracefully on it) and SIGKILL to any still alive after a grace period; no
child outlives it.

The children run in sessions of their own, so a Ctrl-C at the terminal reaches only the parent,
which stops them in order; on Linux each child also gets SIGTERM if the parent dies without
stopping it (``PR_SET_PDEATHSIG``), so even a killed `hotline dev` leaves no worker behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

#: A child that dies within this many seconds of its start counts as dying at once.
QUICK_DEATH_SECONDS = 10.0
#: The pause before restarting a child that died at once: doubles from the first, up to the last.
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
#: How long children get between SIGTERM and SIGKILL when the supervisor stops.
STOP_GRACE_SECONDS = 8.0

_PR_SET_PDEATHSIG = 1


def worker_command() -> list[str]:
    """`hotline worker`, run by this interpreter (the installed `hotline` script's own module)."""
    return [sys.executable, "-m", "starter.cli", "worker"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """In the child: SIGTERM when the parent dies (Linux only; elsewhere the parent's stop suffices)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Slot:
    """One worker slot: its current child, how often it was restarted, the pause before the next start."""

    index: int
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    history: list[int] = field(default_factory=list)  # every pid this slot has had


class WorkerProcesses:
    """``count`` worker child processes, restarted when they die, until `stop`."""

    def __init__(
        self,
        count: int,
        env: dict[str, str],
        *,
        command: Sequence[str] | None = None,
        quick_death_seconds: float = QUICK_DEATH_SECONDS,
        backoff_first_seconds: float = BACKOFF_FIRST_SECONDS,
        backoff_max_seconds: float = BACKOFF_MAX_SECONDS,
        output: Path | None = None,
        slot_env: Callable[[int], dict[str, str]] | None = None,
    ) -> None:
        """Prepare ``count`` slots; nothing runs before `start`.

        Args:
            count: How many worker processes (0: none).
            env: The children's whole environment (the stack's `HOTLINE_*` settings included).
            command: What a child runs; `worker_command()` by default.
            output: A file the children's output is appended to; by default they write where this
                process does.
            slot_env: Variables of slot ``i``'s child over ``env`` (its own metrics port, say).
        """
        self.output = output
        self.env = dict(env)
        self.slot_env = slot_env
        self.command = list(command or worker_command())
        self.quick_death_seconds = quick_death_seconds
        self.backoff_first_seconds = backoff_first_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self._slots = [_Slot(i) for i in range(count)]
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    @property
    def count(self) -> int:
        """How many slots."""
        return len(self._slots)

    def pids(self) -> list[int | None]:
        """The pid of each slot's live child (None while it is being restarted)."""
        return [s.proc.pid if s.proc is not None and s.proc.returncode is None else None for s in self._slots]

    @property
    def restarts(self) -> int:
        """How many times a child was started again after it died."""
        return sum(s.restarts for s in self._slots)

    async def start(self) -> None:
        """Start every child and keep each slot alive until `stop`."""
        for slot in self._slots:
            await self._spawn(slot)
            self._tasks.append(asyncio.create_task(self._keep(slot), name=f"worker-slot-{slot.index}"))

    def kill(self, index: int, sig: signal.Signals = signal.SIGKILL) -> int | None:
        """Send ``sig`` to slot ``index``'s child (chaos runs kill workers); its pid, or None if none ran."""
        proc = self._slots[index].proc
        if proc is None or proc.returncode is not None:
            return None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        return proc.pid

    async def wait_all_running(self, within_seconds: float) -> bool:
        """Wait until every slot has a live child; whether they all do."""
        deadline = time.monotonic() + within_seconds
        while None in self.pids():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    async def stop(self, *, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to every child, SIGKILL to those alive after ``grace_seconds``; no restart after this."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        live = [s.proc for s in self._slots if s.proc is not None and s.proc.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        if live:
            _, pending = await asyncio.wait([asyncio.create_task(p.wait()) for p in live], timeout=grace_seconds)
            for proc in live:
                if proc.returncode is None:
                    log.warning("worker.killed", pid=proc.pid, after_seconds=grace_seconds)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            for waiting in pending:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(waiting, 5)
        log.info("workers.stopped", processes=len(self._slots), restarts=self.restarts)

    # -- inside -------------------------------------------------------------------------------

    async def _spawn(self, slot: _Slot) -> None:
        out = self.output.open("ab") if self.output is not None else None
        try:
            slot.proc = await asyncio.create_subprocess_exec(
                *self.command,
                env={**self.env, **(self.slot_env(slot.index) if self.slot_env else {})},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # Ctrl-C reaches the parent only; it stops the children in order
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        finally:
            if out is not None:
                out.close()
        slot.started_at = time.monotonic()
        slot.history.append(slot.proc.pid)
        log.info("worker.spawned", slot=slot.index, pid=slot.proc.pid)

    async def _keep(self, slot: _Slot) -> None:
        while not self._stopping.is_set():
            assert slot.proc is not None
            code = await slot.proc.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - slot.started_at
            if lived < self.quick_death_seconds:
                slot.backoff = min(
                    self.backoff_max_seconds, slot.backoff * 2 if slot.backoff else self.backoff_first_seconds
                )
            else:
                slot.backoff = 0.0
            log.warning(
                "worker.died",
                slot=slot.index,
                pid=slot.proc.pid,
                exit_code=code,
                signal=signal.Signals(-code).name if code < 0 and -code in signal.valid_signals() else None,
                lived_seconds=round(lived, 1),
                restart_in_seconds=slot.backoff,
            )
            if slot.backoff:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), slot.backoff)
                if self._stopping.is_set():
                    return
            await self._spawn(slot)
            slot.restarts += 1
            log.info("worker.restarted", slot=slot.index, pid=slot.proc.pid, restarts=slot.restarts)


def child_env(settings_env: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``settings_env`` (the stack's `HOTLINE_*` settings) over it."""
    return {**os.environ, **settings_env}
