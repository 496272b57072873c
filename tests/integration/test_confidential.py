"""A confidential reporter stays unknown (Article 8.2): the whole life of one order, then a sweep of
every place their name or phone could leak to. The assigned units see the phone in their handling
order (they must call, Article 8.4), marked confidential, never the name; nothing else carries either."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from domain.calendar import SHANGHAI
from domain.contract import HANDLING_ORDER_QUERY, STATUS_QUERY, order_workflow_id
from tests.support.workflows import new_order
from workers.dev import TemporalDevServer, venv_binary

BIN = Path(sys.executable).parent / "hotline"
NAME, PHONE = "机密举报人赵六", "13987654321"


@pytest.mark.integration
async def test_a_confidential_reporter_appears_nowhere_they_should_not(
    dev_server: TemporalDevServer,
    dev_client: Client,
    pool: asyncpg.Pool,
    database_url: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """Worker logs, CLI output of the units' actions, outbox rows for units, the hotline outbox, search
    attributes and the stored history hold neither the name nor the phone; the assigned units' handling
    order shows the phone and never the name, and no longer the phone once the order closed; the
    platform still sees both."""
    env = {
        **os.environ,
        "HOTLINE_TEMPORAL_ADDRESS": dev_server.address,
        "HOTLINE_TASK_QUEUE": task_queue,
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_LOG_FORMAT": "json",
        "HOTLINE_LOG_LEVEL": "debug",
    }
    log_file = tmp_path / "worker.log"
    worker = await asyncio.to_thread(_spawn_worker, env, log_file)
    outputs: list[str] = []

    async def hotline(*args: str) -> str:
        r = await asyncio.to_thread(
            subprocess.run, [str(BIN), *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, f"{args}: {r.stderr}"
        outputs.append(r.stdout + r.stderr)
        return r.stdout

    try:
        for _ in range(300):
            if "worker.started" in log_file.read_text(errors="replace"):
                break
            if worker.poll() is not None:
                raise AssertionError(f"the worker exited: {log_file.read_text(errors='replace')[-2000:]}")
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the worker did not start within 30 s")
        no = f"S{uuid.uuid4().hex[:10]}"
        now = datetime.now(SHANGHAI).isoformat()
        order = new_order(no, dispatched_at=now, reporter={"name": NAME, "phone": PHONE, "confidential": True})
        (tmp_path / "o.json").write_text(json.dumps(order, ensure_ascii=False), encoding="utf-8")
        platform_start = await asyncio.to_thread(
            subprocess.run, [str(BIN), "order", "start", str(tmp_path / "o.json")], env=env,
            capture_output=True, text=True,
        )  # fmt: skip
        assert platform_start.returncode == 0, platform_start.stderr
        await hotline("order", "receive", no, "--as", "center", "--person", "王工")
        await hotline("order", "propose", no, "--as", "center", "--person", "王工", "--lead", "dept-roads",
                      "--assist", "district-hexi", "--opinion", "道桥处牵头")  # fmt: skip
        await hotline("order", "review", no, "--as", "dept-hotline", "--person", "李处", "--approve")
        await hotline("order", "contact", no, "--as", "dept-roads", "--person", "张科", "--method", "phone",
                      "--note", "已联系反映人")  # fmt: skip
        await hotline("order", "contribute", no, "--as", "district-hexi", "--person", "赵", "--content", "已配合")
        handle = dev_client.get_workflow_handle(order_workflow_id(no))
        # while assigned, the units see the phone (they must call), marked confidential, never the name
        views = {unit: await handle.query(HANDLING_ORDER_QUERY, unit) for unit in ("dept-roads", "district-hexi")}
        pages = {unit: await _view(env, no, unit) for unit in views}
        await hotline("order", "result", no, "--as", "dept-roads", "--person", "张科", "--result", "已修复")
        await hotline("order", "review-result", no, "--as", "center", "--person", "王工", "--approve")
        await hotline("order", "callback", no, "--as", "hotline", "--person", "坐席", "--verdict", "dissatisfied",
                      "--note", "反映人仍不满意")  # fmt: skip
        await hotline("order", "contact", no, "--as", "dept-roads", "--person", "张科", "--method", "visit")
        await hotline("order", "result", no, "--as", "dept-roads", "--person", "张科", "--result", "再次修复")
        await hotline("order", "review-result", no, "--as", "center", "--person", "王工", "--approve")
        await hotline("order", "callback", no, "--as", "hotline", "--person", "坐席", "--verdict", "satisfied")
        for _ in range(100):
            if await pool.fetchval("SELECT 1 FROM order_archive WHERE order_no = $1", no):
                break
            await asyncio.sleep(0.1)
        unit_view = await handle.query(HANDLING_ORDER_QUERY, "dept-roads")
        status = await handle.query(STATUS_QUERY)
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 20)

    # the platform still sees the reporter: the data is there, only hidden from others
    assert status["timeline"]
    full = await pool.fetchrow("SELECT reporter_name, reporter_phone FROM orders WHERE order_no = $1", no)
    assert (full["reporter_name"], full["reporter_phone"]) == (NAME, PHONE)

    for unit, view in views.items():
        assert (view["reporter_name"], view["reporter_phone"], view["confidential"]) == (None, PHONE, True), unit
        assert "never say who reported" in view["confidentiality_note"]
        assert NAME not in json.dumps(view, ensure_ascii=False), unit
        assert f"reporter: phone {PHONE}  CONFIDENTIAL (name withheld)" in pages[unit]
        assert NAME not in pages[unit], unit

    leaks: dict[str, str] = {
        "worker log": log_file.read_text(errors="replace"),
        "unit actions' output": "\n".join(outputs),
        "handling_order for the unit after the close": json.dumps(unit_view, ensure_ascii=False),
    }
    rows = await pool.fetch(
        "SELECT recipient, body FROM notification_outbox WHERE order_no = $1 AND recipient NOT IN "
        "('center', 'utilities', 'dept-hotline')",
        no,
    )
    assert rows, "units were notified"
    leaks["outbox rows for units"] = "\n".join(f"{r['recipient']}: {r['body']}" for r in rows)
    leaks["hotline outbox"] = "\n".join(
        json.dumps(r["payload"], ensure_ascii=False)
        for r in await pool.fetch("SELECT payload FROM hotline_outbox WHERE order_no = $1", no)
    )
    desc = await handle.describe()
    leaks["search attributes"] = json.dumps(
        {p.key.name: str(p.value) for p in desc.typed_search_attributes.search_attributes}, ensure_ascii=False
    )
    shown = await asyncio.to_thread(
        subprocess.run,
        [str(venv_binary("temporal")), "workflow", "show", "--address", dev_server.address,
         "--workflow-id", order_workflow_id(no), "--output", "json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    leaks["stored history"] = _with_base64_decoded(shown.stdout)
    for where, text in leaks.items():
        assert NAME not in text, f"the reporter's name leaked into the {where}"
        assert PHONE not in text, f"the reporter's phone leaked into the {where}"
    assert "worker.started" in leaks["worker log"]  # the log was read, not an empty file


async def _view(env: dict[str, str], order_no: str, unit: str) -> str:
    """`hotline order view ORDER --unit UNIT`: the unit's page."""
    r = await asyncio.to_thread(
        subprocess.run, [str(BIN), "order", "view", order_no, "--unit", unit], env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout


def _spawn_worker(env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("wb") as out:
        return subprocess.Popen([str(BIN), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _with_base64_decoded(text: str) -> str:
    """The history JSON plus every base64 `data` field decoded, so plaintext payloads would show."""

    decoded = []
    for m in re.finditer(r'"data":\s*"([A-Za-z0-9+/=]+)"', text):
        try:
            decoded.append(base64.b64decode(m.group(1)).decode("utf-8", errors="replace"))
        except ValueError:
            continue
    return text + "\n".join(decoded)
