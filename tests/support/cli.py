"""`hotline` run as a user runs it: a child process with the test stack's settings."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "hotline"


class Stack:
    """Runs `hotline` with the test stack's settings."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    async def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [str(BIN), *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=60
        )

    async def ok(self, *args: str, stdin: str | None = None) -> str:
        r = await self.run(*args, stdin=stdin)
        assert r.returncode == 0, f"hotline {' '.join(args)}: {r.stderr}"
        return r.stdout
