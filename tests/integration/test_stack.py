"""The real parts together: the dev server, embedded PostgreSQL, the worker, the `hotline` command
and the `temporal` CLI with plain JSON, as an integration engineer would use them.

Payloads are encrypted, so the `temporal` CLI reads results through the codec server
(``TEMPORAL_CODEC_ENDPOINT``, the same as ``--codec-endpoint``), as the integration's would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.calendar import SHANGHAI
from domain.contract import STATUS_QUERY, WORK_ORDER, SearchAttribute, order_workflow_id
from starter.calendar_notify import notify_calendar_change
from tests.support.workflows import new_order, running_worker
from workers.dev import TemporalDevServer, venv_binary

BIN = Path(sys.executable).parent


def _env(server: TemporalDevServer, task_queue: str, database_url: str, codec_endpoint: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "HOTLINE_TEMPORAL_ADDRESS": server.address,
        "HOTLINE_TASK_QUEUE": task_queue,
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_LOG_FORMAT": "json",
    }
    if codec_endpoint:
        env["TEMPORAL_CODEC_ENDPOINT"] = codec_endpoint
    return env


async def _run(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, list(args), env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def _order_no() -> str:
    return f"IT{uuid.uuid4().hex[:10]}"


async def _wait_row(pool: asyncpg.Pool, order_no: str, phase: str) -> asyncpg.Record:
    for _ in range(100):
        row = await pool.fetchrow("SELECT * FROM orders WHERE order_no = $1", order_no)
        if row is not None and row["phase"] == phase:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"{order_no} did not reach {phase} in PostgreSQL")


@pytest.mark.integration
class TestOrderThroughTheRealStack:
    async def test_start_with_hotline_receive_with_temporal_cli_read_back_everywhere(
        self,
        dev_server: TemporalDevServer,
        dev_client: Client,
        pool: asyncpg.Pool,
        database_url: str,
        task_queue: str,
        codec_endpoint: str,
        tmp_path: Path,
    ) -> None:
        """`hotline order start`, `temporal workflow update execute --name receive`, then the order
        is `received` in the status query, in its search attributes, and in PostgreSQL."""
        env = _env(dev_server, task_queue, database_url, codec_endpoint)
        no = _order_no()
        now = datetime.now(SHANGHAI).replace(microsecond=0)
        (tmp_path / "order.json").write_text(json.dumps(new_order(no, dispatched_at=now.isoformat())), encoding="utf-8")
        temporal = str(venv_binary("temporal"))
        async with running_worker(dev_client, pool, task_queue):
            started = await _run(str(BIN / "hotline"), "order", "start", str(tmp_path / "order.json"), env=env)
            assert started.returncode == 0, started.stderr
            assert json.loads(started.stdout)["workflow_id"] == order_workflow_id(no)

            again = await _run(str(BIN / "hotline"), "order", "start", str(tmp_path / "order.json"), env=env)
            assert again.returncode == 1
            assert "already running" in again.stderr

            update = await _run(
                temporal, "workflow", "update", "execute",
                "--address", dev_server.address, "--workflow-id", order_workflow_id(no), "--name", "receive",
                "--input", json.dumps({"actor": {"org": "center", "person": "王工", "role": "operator"}}),
                "--output", "json",
                env=env,
            )  # fmt: skip
            assert update.returncode == 0, update.stderr

            query = await _run(
                temporal, "workflow", "query", "--address", dev_server.address,
                "--workflow-id", order_workflow_id(no), "--name", STATUS_QUERY, "--output", "json",
                env=env,
            )  # fmt: skip
            assert query.returncode == 0, query.stderr
            answer = json.loads(query.stdout)
            assert answer["queryResult"][0]["phase"] == "received", answer

            shown = await _run(str(BIN / "hotline"), "order", "show", no, "--json", env=env)
            assert shown.returncode == 0, shown.stderr
            status = json.loads(shown.stdout)
            assert status["phase"] == "received"
            assert [e["kind"] for e in status["timeline"]] == ["transferred", "received"]

            row = await _wait_row(pool, no, "received")
            assert (row["tier"], row["category"], row["platform"], row["district"]) == (
                "normal", "general", "center", "hexi"
            )  # fmt: skip
            timeline = await pool.fetch("SELECT kind FROM order_timeline WHERE order_no=$1 ORDER BY seq", no)
            assert [r["kind"] for r in timeline] == ["transferred", "received"]

            desc = await dev_client.get_workflow_handle(order_workflow_id(no)).describe()
            attrs = {k.name: v for k, v in _typed(desc.typed_search_attributes).items()}
            assert attrs[SearchAttribute.ORDER_PHASE] == "received"
            assert attrs[SearchAttribute.ORDER_TIER] == "normal"
            assert attrs[SearchAttribute.ORDER_CATEGORY] == "general"
            assert attrs[SearchAttribute.ORDER_PLATFORM] == "center"
            assert attrs[SearchAttribute.ORDER_DISTRICT] == "hexi"
            assert await desc.static_summary() == "normal · general · hexi · 路灯不亮"
            await dev_client.get_workflow_handle(order_workflow_id(no)).terminate("test over")

    async def test_order_started_by_the_temporal_cli_alone(
        self,
        dev_server: TemporalDevServer,
        dev_client: Client,
        pool: asyncpg.Pool,
        database_url: str,
        task_queue: str,
        codec_endpoint: str,
    ) -> None:
        """Plain JSON through `temporal workflow start` works like `hotline order start`."""
        env = _env(dev_server, task_queue, database_url, codec_endpoint)
        no = _order_no()
        temporal = str(venv_binary("temporal"))
        async with running_worker(dev_client, pool, task_queue):
            started = await _run(
                temporal, "workflow", "start", "--address", dev_server.address,
                "--type", WORK_ORDER, "--task-queue", task_queue, "--workflow-id", order_workflow_id(no),
                "--input", json.dumps(new_order(no, category="road_bridge", tier="extra_urgent")),
                env=env,
            )  # fmt: skip
            assert started.returncode == 0, started.stderr
            row = await _wait_row(pool, no, "awaiting_receipt")
            assert row["platform"] == "utilities"
            await dev_client.get_workflow_handle(order_workflow_id(no)).terminate("test over")


def _typed(attrs: Any) -> dict[Any, Any]:
    return {pair.key: pair.value for pair in attrs.search_attributes}


@pytest.mark.integration
class TestBadInput:
    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            ("{not json", "not JSON"),
            (json.dumps({"tier": "normal"}), "order_no: required field is missing"),
            (
                json.dumps(new_order("BAD1", dispatched_at="2026-03-06T09:00:00")),
                "dispatched_at: a naive datetime",
            ),
            (json.dumps(new_order("BAD2", tier="slow")), "tier: Input should be 'normal'"),
            (json.dumps(new_order("BAD 3")), "order_no: String should match pattern"),
            (json.dumps(new_order("BAD4", dispatched_at="2099-01-01T00:00:00+08:00")), "lies in the future"),
            (json.dumps([1, 2]), "must be a JSON object"),
        ],
    )
    async def test_bad_new_order_exits_2_naming_the_field_and_starts_nothing(
        self,
        dev_server: TemporalDevServer,
        dev_client: Client,
        database_url: str,
        task_queue: str,
        payload: str,
        expected: str,
    ) -> None:
        """Malformed JSON, a missing or invalid field, a naive datetime: exit 2, nothing started."""
        env = _env(dev_server, task_queue, database_url)
        result = await _run(str(BIN / "hotline"), "order", "start", "-", env=env, stdin=payload)
        assert result.returncode == 2
        assert expected in result.stderr
        for no in ("BAD1", "BAD2", "BAD4"):
            with pytest.raises(RPCError):
                await dev_client.get_workflow_handle(order_workflow_id(no)).describe()

    async def test_unknown_order_says_so(
        self, dev_server: TemporalDevServer, database_url: str, task_queue: str
    ) -> None:
        """`hotline order show` of a number that never ran: a one-line answer, exit 1."""
        env = _env(dev_server, task_queue, database_url)
        result = await _run(str(BIN / "hotline"), "order", "show", "NOPE404", env=env)
        assert result.returncode == 1
        assert "order NOPE404 not found" in result.stderr


@pytest.mark.integration
class TestWholeLifeWithTheTemporalCliAlone:
    async def test_transfer_to_archive_with_plain_json(
        self,
        dev_server: TemporalDevServer,
        dev_client: Client,
        pool: asyncpg.Pool,
        database_url: str,
        task_queue: str,
        codec_endpoint: str,
    ) -> None:
        """An outsider with the `temporal` CLI and the contract takes an order from start to close,
        through co-handling, an extension and a dissatisfied callback; the record is archived."""
        env = _env(dev_server, task_queue, database_url, codec_endpoint)
        no = _order_no()
        wid = order_workflow_id(no)
        temporal = str(venv_binary("temporal"))
        now = datetime.now(SHANGHAI).replace(microsecond=0).isoformat()

        async def update(name: str, payload: dict[str, Any]) -> dict[str, Any]:
            r = await _run(
                temporal, "workflow", "update", "execute", "--address", dev_server.address,
                "--workflow-id", wid, "--name", name, "--input", json.dumps(payload), "--output", "json",
                env=env,
            )  # fmt: skip
            assert r.returncode == 0, f"{name}: {r.stderr}"
            return dict(json.loads(r.stdout))

        def who(org: str, role: str) -> dict[str, str]:
            return {"org": org, "person": "x", "role": role}

        async with running_worker(dev_client, pool, task_queue):
            r = await _run(
                temporal, "workflow", "start", "--address", dev_server.address, "--type", WORK_ORDER,
                "--task-queue", task_queue, "--workflow-id", wid,
                "--input", json.dumps(new_order(no, dispatched_at=now)), env=env,
            )  # fmt: skip
            assert r.returncode == 0, r.stderr
            await update("receive", {"actor": who("center", "operator")})
            await update(
                "propose",
                {"actor": who("center", "operator"), "lead_unit": "dept-lighting",
                 "assisting_units": ["district-hexi"], "opinion": "照明处牵头，河西区配合"},
            )  # fmt: skip
            await update("review", {"actor": who("dept-hotline", "supervisor"), "approved": True})
            await update(
                "contact_reporter",
                {
                    "actor": who("dept-lighting", "handler"),
                    "at": now,
                    "method": "phone",
                    "note": "已电话联系",
                },
            )
            await update("contribute", {"actor": who("district-hexi", "handler"), "content": "已排查线路"})
            await update(
                "request_extension",
                {"actor": who("dept-lighting", "handler"), "reason": "需更换电缆",
                 "requested_due": "2099-01-01T00:00:00+08:00", "reporter_notified_at": now,
                 "written_reply": "申请延期"},
            )  # fmt: skip
            await update(
                "extension_decision",
                {"actor": who("hotline", "hotline"), "approved": False, "note": "不同意延期"},
            )
            await update(
                "submit_result",
                {"actor": who("dept-lighting", "handler"), "result": "已修复", "reporter_informed_at": now},
            )
            await update("callback", {"actor": who("hotline", "hotline"), "verdict": "dissatisfied"})
            await update("contact_reporter", {"actor": who("dept-lighting", "handler"), "at": now, "method": "visit"})
            await update(
                "submit_result",
                {"actor": who("dept-lighting", "handler"), "result": "再次修复", "reporter_informed_at": now},
            )
            await update("callback", {"actor": who("hotline", "hotline"), "verdict": "satisfied"})
            r = await _run(
                temporal, "workflow", "result", "--address", dev_server.address, "--workflow-id", wid,
                "--output", "json", env=env,
            )  # fmt: skip
            assert r.returncode == 0, r.stderr
            assert '"outcome": "satisfied"' in r.stdout.replace('":"', '": "')

            for _ in range(50):
                row = await pool.fetchrow("SELECT * FROM order_archive WHERE order_no = $1", no)
                if row is not None:
                    break
                await asyncio.sleep(0.1)
            assert row is not None
            assert row["outcome"] == "satisfied"
            assert {"receipt", "completion", "rehandling_1", "return:dept-lighting"} <= set(row["deadlines"])
            kinds = [e["kind"] for e in row["timeline"]]
            assert kinds.count("result_submitted") == 2
            assert "extension_refused" in kinds
            replies = await pool.fetch("SELECT kind FROM hotline_outbox WHERE order_no = $1 ORDER BY seq", no)
            assert [x["kind"] for x in replies] == ["extension_application", "reply", "reply"]

            desc = await dev_client.get_workflow_handle(wid).describe()
            attrs = _typed(desc.typed_search_attributes)
            names = {k.name: v for k, v in attrs.items()}
            assert names[SearchAttribute.ORDER_PHASE] == "closed"
            assert "dissatisfied" in names[SearchAttribute.ORDER_FLAGS]


@pytest.mark.integration
async def test_calendar_notify_query_is_accepted_by_visibility(dev_client: Client) -> None:
    """The visibility query that finds orders with unconfirmed deadlines is valid on a real server."""

    told = await notify_calendar_change(dev_client, years=[2099])
    assert told == []
