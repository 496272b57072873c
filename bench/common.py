"""What the benchmarks and the chaos runs share: a stack of their own, child processes, figures, the machine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from starter.settings import Settings
from workers.dev import DevStack

ROOT: Final = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port the kernel says is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stack_settings(folder: Path, **extra: str) -> Settings:
    """Settings of a stack in ``folder`` on free loopback ports, a key file of its own (never the
    developer's `.data/` or default ports: a `make run` stack may be up beside it)."""
    env = {
        "HOTLINE_DATA_DIR": str(folder),
        "HOTLINE_PG_PORT": str(free_port()),
        "HOTLINE_TEMPORAL_PORT": str(free_port()),
        "HOTLINE_UI_PORT": str(free_port()),
        "HOTLINE_CODEC_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
        **extra,
    }
    return Settings.from_env(env)


@contextlib.asynccontextmanager
async def own_stack(
    folder: Path,
    *,
    workers: int,
    durable: bool = True,
    temporal_config: dict[str, str] | None = None,
    **settings: str,
) -> AsyncIterator[DevStack]:
    """`hotline dev`'s stack (`workers.dev.DevStack`): embedded PostgreSQL, the Temporal dev server
    (headless), ``workers`` worker processes, in ``folder``; the workers log to ``folder/workers.log``."""
    stack = DevStack(
        stack_settings(folder, **settings),
        workers=workers,
        ui=False,
        codec=False,
        durable=durable,
        temporal_config=temporal_config,
        worker_output=folder / "workers.log",
    )
    await stack.start()
    try:
        if not await stack.workers.wait_all_running(30):
            raise RuntimeError("the worker processes did not start")
        await wait_for_log(folder / "workers.log", '"worker.started"', count=workers)
        yield stack
    finally:
        await stack.stop()


async def wait_for_log(path: Path, text: str, *, count: int = 1, within_seconds: float = 120) -> None:
    """Wait until ``text`` appears ``count`` times in ``path``."""
    deadline = time.monotonic() + within_seconds
    while True:
        seen = await asyncio.to_thread(_count, path, text)
        if seen >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} appeared {seen} of {count} times in {path} within {within_seconds} s")
        await asyncio.sleep(0.2)


def _count(path: Path, text: str) -> int:
    return path.read_text(errors="replace").count(text) if path.exists() else 0


def scratch(prefix: str) -> Path:
    """A new folder for one run's stack, under the system's temporary folder."""
    return Path(tempfile.mkdtemp(prefix=f"hotline-{prefix}-"))


# -- child processes ----------------------------------------------------------------------------


async def run_child(args: Sequence[str], env: dict[str, str], *, log: Path, within_seconds: float) -> dict[str, Any]:
    """Run ``python -m <args>`` with ``env`` and return the JSON object its last stdout line holds.

    Raises:
        RuntimeError: it failed, said nothing, or ran longer than ``within_seconds`` (then killed).
    """
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *args,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
        )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), within_seconds)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"{' '.join(args[:2])} ran longer than {within_seconds:.0f} s; see {log}") from None
    lines = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args[:2])} exited {proc.returncode}; see {log}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def rss_mb(pid: int) -> tuple[float, float]:
    """A process's resident memory now and at its peak, in MB (``/proc``)."""
    now = peak = 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return now, peak


# -- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a table."""
    return "n/a" if math.isnan(seconds) else f"{1000 * seconds:,.0f} ms"


# -- the machine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """The machine a run ran on, and how loaded it was."""

    cores: int
    memory_gb: float
    cpu: str
    python: str
    date: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] | None = None
    uptime_before: str = ""
    uptime_after: str = ""
    #: the 1-minute load average, sampled every `LOAD_EVERY_SECONDS` during the run
    load_during: tuple[float, ...] = ()

    @classmethod
    def now(cls) -> Machine:
        """This machine, and its load now."""
        cpu = "unknown"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        memory = 0.0
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) / 1024 / 1024
        return cls(
            cores=os.cpu_count() or 0,
            memory_gb=memory,
            cpu=cpu,
            python=platform.python_version(),
            date=datetime.now().astimezone().isoformat(timespec="seconds"),
            load_before=os.getloadavg(),
            uptime_before=uptime(),
        )

    def finished(self, load_during: Sequence[float] = ()) -> Machine:
        """The same machine with its load at the end of the run (and sampled during it)."""
        return Machine(
            **{
                **self.__dict__,
                "load_after": os.getloadavg(),
                "uptime_after": uptime(),
                "load_during": tuple(load_during),
            }
        )

    def describe(self) -> str:
        """Markdown lines for a report."""
        after = f"{self.load_after[0]:.2f} {self.load_after[1]:.2f} {self.load_after[2]:.2f}" if self.load_after else ""
        return "\n".join(
            [
                f"- machine: {self.cores} cores ({self.cpu}), {self.memory_gb:.1f} GB memory, "
                f"Python {self.python}, {platform.system()} {platform.release()}",
                f"- date: {self.date}",
                f"- load (1/5/15 min) before: {self.load_before[0]:.2f} {self.load_before[1]:.2f} "
                f"{self.load_before[2]:.2f}" + (f"; after: {after}" if after else ""),
                f"- `uptime` before: `{self.uptime_before}`" + (f"; after: `{self.uptime_after}`" if after else ""),
                *(
                    [
                        f"- 1-minute load during the run (every {LOAD_EVERY_SECONDS:.0f} s, the run's own processes "
                        f"included): min {min(self.load_during):.2f}, "
                        f"median {statistics.median(self.load_during):.2f}, max {max(self.load_during):.2f}"
                    ]
                    if self.load_during
                    else []
                ),
            ]
        )


LOAD_EVERY_SECONDS = 30.0


@contextlib.asynccontextmanager
async def sampled_load() -> AsyncIterator[list[float]]:
    """The 1-minute load average every `LOAD_EVERY_SECONDS` while the block runs (a shared machine's
    other users show here; so do the run's own processes)."""
    samples: list[float] = [os.getloadavg()[0]]

    async def sample() -> None:
        while True:
            await asyncio.sleep(LOAD_EVERY_SECONDS)
            samples.append(os.getloadavg()[0])

    task = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        task.cancel()


def uptime() -> str:
    """What `uptime` says now (the load other users put on a shared machine)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def write_section(path: Path, name: str, body: str) -> None:
    """Replace the part of ``path`` between ``<!-- name:begin -->`` and ``<!-- name:end -->`` with
    ``body`` (appended when the markers are missing); the hand-written rest stays."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block + "\n"
    path.write_text(text, encoding="utf-8")
