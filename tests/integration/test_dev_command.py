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


def _start_dev(env: dict[str, str], log: Path, *args: str, ready: str = "worker.started") -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([str(BIN / "hotline"), "dev", *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_for(log, ready, proc)
    return proc


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], *, count: int = 1, seconds: float = 90) -> None:
    """Wait until ``text`` appears ``count`` times in ``log`` while ``proc`` runs."""
    deadline = time.monotonic() + seconds
    while log.read_text(errors="replace").count(text) < count:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{text!r} never came:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def _events(log: Path, name: str) -> list[dict[str, object]]:
    """The JSON log lines of event ``name``."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            event = json.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


def _alive(pid: int) -> bool:
    try:
        state = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "zombie" not in state


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOTLINE_PG_PORT": str(free_port()),
        "HOTLINE_TEMPORAL_PORT": str(free_port()),
        "HOTLINE_UI_PORT": str(free_port()),
        "HOTLINE_CODEC_PORT": str(free_port()),
        "HOTLINE_METRICS_PORT": str(free_port()),
        "HOTLINE_LOG_FORMAT": "json",
    }
    env["HOTLINE_TEMPORAL_ADDRESS"] = f"127.0.0.1:{env['HOTLINE_TEMPORAL_PORT']}"
    env["HOTLINE_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{env['HOTLINE_PG_PORT']}/hotline"
    return env


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
    env = _env(tmp_path)
    env.pop("HOTLINE_CODEC_KEYS", None)
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
        worker_metrics = f"http://localhost:{int(env['HOTLINE_METRICS_PORT']) + 1}/metrics"
        assert metrics in log.read_text(), "the banner names the stack's metrics URL"
        assert worker_metrics in log.read_text(), "and the worker's, one port above"
        with urllib.request.urlopen(metrics, timeout=5) as r:
            assert r.status == 200
        text = ""
        for _ in range(300):  # the SDK's gauges appear once the worker polls
            try:
                with urllib.request.urlopen(worker_metrics, timeout=5) as r:
                    text = r.read().decode()
            except OSError:  # the worker process is still starting
                time.sleep(0.1)
                continue
            if "temporal_num_pollers" in text:
                break
            time.sleep(0.1)
        assert "temporal_num_pollers" in text
        started = subprocess.run(
            [str(BIN / "hotline"), "order", "start", str(order_file)], env=env, capture_output=True, text=True
        )
        assert started.returncode == 0, started.stderr
        assert _processes_mentioning(str(data)), "the stack's children should be running"

        # the worker is a child process of its own: killed, it is started again and works on
        [first] = [int(str(e["pid"])) for e in _events(log, "worker.spawned")]
        os.kill(first, signal.SIGKILL)
        _wait_for(log, '"worker.restarted"', proc, seconds=30)
        _wait_for(log, '"worker.started"', proc, count=2, seconds=60)
        [died] = _events(log, "worker.died")
        assert died["pid"] == first
        assert died["signal"] == "SIGKILL"
        [restarted] = _events(log, "worker.restarted")
        second = int(str(restarted["pid"]))
        assert second != first
        assert _alive(second)
        assert not _alive(first)
        shown = subprocess.run(
            [str(BIN / "hotline"), "order", "show", "DEV1", "--json"], env=env, capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stderr
    finally:
        seconds = _stop(proc, signal.SIGINT)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert seconds < 15
    assert _processes_mentioning(str(data)) == []
    assert not _alive(second)

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
def test_dev_without_workers_works_with_a_worker_beside_it(tmp_path: Path) -> None:
    """`hotline dev --workers 0` runs no worker; a `hotline worker` started beside it does the work."""
    env = _env(tmp_path)
    log = tmp_path / "dev.log"
    order_file = tmp_path / "order.json"
    order_file.write_text(json.dumps(new_order("DEV0")), encoding="utf-8")
    proc = _start_dev(env, log, "--workers", "0", ready='"dev.ready"')
    side: subprocess.Popen[bytes] | None = None
    try:
        assert _events(log, "worker.spawned") == []
        [ready] = _events(log, "dev.ready")
        assert ready["workers"] == 0
        side_log = tmp_path / "worker.log"
        with side_log.open("ab") as out:
            side_env = {**env, "HOTLINE_METRICS_PORT": str(free_port())}  # the stack's port is the dev process's
            side = subprocess.Popen(
                [str(BIN / "hotline"), "worker"], env=side_env, stdout=out, stderr=subprocess.STDOUT
            )
        _wait_for(side_log, '"worker.started"', side, seconds=60)
        started = subprocess.run(
            [str(BIN / "hotline"), "order", "start", str(order_file)], env=env, capture_output=True, text=True
        )
        assert started.returncode == 0, started.stderr
        _wait_for(side_log, '"order.recorded"', side, seconds=60)
    finally:
        if side is not None:
            side.send_signal(signal.SIGTERM)
            side.wait(30)
        seconds = _stop(proc, signal.SIGINT)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert seconds < 15
    assert _processes_mentioning(str(tmp_path / "data")) == []


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
