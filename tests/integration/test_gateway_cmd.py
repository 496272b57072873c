"""`hotline gateway` as a process: serves on its port with the real stack, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from activities.store import tokens
from domain.models import Role
from tests.support.ports import free_port
from workers.dev import TemporalDevServer

pytestmark = pytest.mark.integration

HOTLINE = Path(sys.executable).with_name("hotline")


def _env(dev_server: TemporalDevServer, database_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "HOTLINE_TEMPORAL_ADDRESS": dev_server.address,
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_GATEWAY_HOST": "127.0.0.1",
        "HOTLINE_GATEWAY_PORT": str(port),
        "HOTLINE_CODEC_KEYS": f"gwtest:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        "HOTLINE_LOG_FORMAT": "json",
    }


async def test_serves_then_stops_gracefully(
    dev_server: TemporalDevServer, database_url: str, pool: asyncpg.Pool
) -> None:
    """It answers with tokens and audits; SIGTERM ends it with exit 0 within seconds."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(HOTLINE), "gateway", env=_env(dev_server, database_url, port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        t = await tokens.issue(pool, "hotline", Role.HOTLINE, issued_by="pytest")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    r = await http.get("/openapi.json")
                    break
                except httpx.TransportError:
                    if proc.returncode is not None:
                        _, err = await proc.communicate()
                        raise AssertionError(f"the gateway exited {proc.returncode}: {err.decode()}") from None
                    await asyncio.sleep(0.1)
            assert r.status_code == 200
            assert (await http.get("/orders/SERVED1")).status_code == 401
            r = await http.get("/orders/SERVED1", headers={"Authorization": f"Bearer {t.token}"})
            assert r.status_code == 404, r.text
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    codes = await pool.fetch("SELECT status_code FROM audit_log WHERE order_no = 'SERVED1' ORDER BY id")
    assert [r["status_code"] for r in codes] == [401, 404]


async def test_a_taken_port_is_named(dev_server: TemporalDevServer, database_url: str) -> None:
    """One line naming the setting that moves it; exit 1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            str(HOTLINE), "gateway", env=_env(dev_server, database_url, port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken; set HOTLINE_GATEWAY_PORT" in err.decode()
