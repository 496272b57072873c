"""`hotline dev` as a newcomer meets it: up, an order, Ctrl-C, nothing left, up again, order kept."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.workflows import new_order

BIN = Path(sys.executable).parent


def _processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text``."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ")
            state = next((line for line in (d / "status").read_text().splitlines() if line.startswith("State:")), "")
        except OSError:
            continue
        if text.encode() in cmdline and "zombie" not in state:
            pids.append(int(d.name))
    return pids


def _start_dev(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([str(BIN / "hotline"), "dev"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while "worker.started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"hotline dev did not come up:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals) -> float:
    t0 = time.monotonic()
    proc.send_signal(sig)
    proc.wait(30)
    return time.monotonic() - t0


@pytest.mark.integration
def test_dev_stack_stops_clean_and_keeps_orders(tmp_path: Path) -> None:
    """Ctrl-C stops every process within 15 s; a second run finds the order where it was.

    Without HOTLINE_CODEC_KEYS the first run creates the key file (0600) under the data dir, the
    codec server answers and the Web UI is told to use it; the second run reuses the same key, so
    the order reads back.
    """
    data = tmp_path / "data"
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_PG_PORT": str(free_port()),
        "HOTLINE_TEMPORAL_PORT": str(free_port()),
        "HOTLINE_UI_PORT": str(free_port()),
        "HOTLINE_CODEC_PORT": str(free_port()),
        "HOTLINE_METRICS_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
    }
    env.pop("HOTLINE_CODEC_KEYS", None)
    env["HOTLINE_TEMPORAL_ADDRESS"] = f"127.0.0.1:{env['HOTLINE_TEMPORAL_PORT']}"
    env["HOTLINE_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{env['HOTLINE_PG_PORT']}/hotline"
    log = tmp_path / "dev.log"
    order_file = tmp_path / "order.json"
    order_file.write_text(json.dumps(new_order("DEV1")), encoding="utf-8")

    keys = data / "codec-keys.json"
    proc = _start_dev(env, log)
    try:
        assert f"http://localhost:{env['HOTLINE_UI_PORT']}" in log.read_text()
        codec = f"http://localhost:{env['HOTLINE_CODEC_PORT']}"
        assert codec in log.read_text()
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        key_text = keys.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{env['HOTLINE_CODEC_PORT']}/health", timeout=5) as r:
            assert json.load(r)["current_key"] == json.loads(key_text)["keys"][0]["id"]
        with urllib.request.urlopen(f"http://127.0.0.1:{env['HOTLINE_UI_PORT']}/api/v1/settings", timeout=5) as r:
            assert json.load(r)["Codec"]["Endpoint"] == codec
        metrics = f"http://localhost:{env['HOTLINE_METRICS_PORT']}/metrics"
        assert metrics in log.read_text(), "the banner names the metrics URL"
        for _ in range(300):  # the SDK's gauges appear once the worker polls
            with urllib.request.urlopen(metrics, timeout=5) as r:
                text = r.read().decode()
            if "temporal_num_pollers" in text:
                break
            time.sleep(0.1)
        assert "temporal_num_pollers" in text
        started = subprocess.run(
            [str(BIN / "hotline"), "order", "start", str(order_file)], env=env, capture_output=True, text=True
        )
        assert started.returncode == 0, started.stderr
        assert _processes_mentioning(str(data)), "the stack's children should be running"
    finally:
        seconds = _stop(proc, signal.SIGINT)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert seconds < 15
    assert _processes_mentioning(str(data)) == []

    proc = _start_dev(env, tmp_path / "dev2.log")
    try:
        assert keys.read_text() == key_text
        shown = subprocess.run(
            [str(BIN / "hotline"), "order", "show", "DEV1", "--json"], env=env, capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["phase"] == "awaiting_receipt"
    finally:
        seconds = _stop(proc, signal.SIGTERM)
    assert seconds < 15
    assert _processes_mentioning(str(data)) == []


@pytest.mark.integration
@pytest.mark.parametrize(
    ("setting", "what"),
    [
        ("HOTLINE_TEMPORAL_PORT", "Temporal gRPC"),
        ("HOTLINE_CODEC_PORT", "codec server"),
        ("HOTLINE_METRICS_PORT", "metrics"),
    ],
)
def test_taken_port_is_one_line_naming_the_setting(tmp_path: Path, setting: str, what: str) -> None:
    """A port in use: one line naming the port and the setting that moves it; nothing starts."""

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        env = {
            **os.environ,
            "HOTLINE_DATA_DIR": str(tmp_path / "data"),
            "HOTLINE_TEMPORAL_PORT": str(free_port()),
            "HOTLINE_UI_PORT": str(free_port()),
            "HOTLINE_PG_PORT": str(free_port()),
            "HOTLINE_CODEC_PORT": str(free_port()),
            "HOTLINE_METRICS_PORT": str(free_port()),
            setting: str(taken),
        }
        result = subprocess.run([str(BIN / "hotline"), "dev"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == f"hotline dev: port {taken} ({what}) is taken; set {setting} to move it"
