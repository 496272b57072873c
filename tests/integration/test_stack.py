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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.calendar import SHANGHAI
from domain.contract import HANDLING_ORDER_QUERY, STATUS_QUERY, WORK_ORDER, SearchAttribute, order_workflow_id
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


class TemporalCli:
    """One order driven with the `temporal` CLI alone and plain JSON, as the city hotline's integration
    would: updates, queries (answers read through the codec server), starts."""

    def __init__(self, server: TemporalDevServer, env: dict[str, str], workflow_id: str) -> None:
        self.server = server
        self.env = env
        self.wid = workflow_id
        self.bin = str(venv_binary("temporal"))

    async def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await _run(self.bin, "workflow", *args, "--address", self.server.address, env=self.env)

    async def start(self, task_queue: str, order: dict[str, Any]) -> None:
        r = await self.run("start", "--type", WORK_ORDER, "--task-queue", task_queue, "--workflow-id", self.wid,
                           "--input", json.dumps(order, ensure_ascii=False))  # fmt: skip
        assert r.returncode == 0, r.stderr

    async def update(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """An accepted action; the order's status after it."""
        r = await self.run("update", "execute", "--workflow-id", self.wid, "--name", name,
                           "--input", json.dumps(payload, ensure_ascii=False), "--output", "json")  # fmt: skip
        assert r.returncode == 0, f"{name}: {r.stderr}"
        return dict(json.loads(r.stdout)["result"])

    async def refused(self, name: str, payload: dict[str, Any]) -> str:
        """A refused action: the CLI's error, which carries the workflow's words and the refusal's kind."""
        r = await self.run("update", "execute", "--workflow-id", self.wid, "--name", name,
                           "--input", json.dumps(payload, ensure_ascii=False), "--output", "json")  # fmt: skip
        assert r.returncode != 0, f"{name} was accepted: {r.stdout}"
        return r.stderr

    async def query(self, name: str, arg: str | None = None) -> dict[str, Any]:
        extra = ["--input", json.dumps(arg)] if arg is not None else []
        r = await self.run("query", "--workflow-id", self.wid, "--name", name, *extra, "--output", "json")
        assert r.returncode == 0, f"{name}: {r.stderr}"
        return dict(json.loads(r.stdout)["queryResult"][0])


def _who(org: str, role: str, person: str = "x") -> dict[str, str]:
    return {"org": org, "person": person, "role": role}


def _instant() -> str:
    """Now, to the microsecond: what a unit reports right after an action (never before its dispatch)."""
    return datetime.now(SHANGHAI).isoformat()


OPERATOR, SUPERVISOR, HOTLINE = (
    _who("center", "operator"),
    _who("dept-hotline", "supervisor"),
    _who("hotline", "hotline"),
)
LEAD, ASSISTING = _who("dept-lighting", "handler", "张科"), _who("district-hexi", "handler", "赵")


async def _archived(pool: asyncpg.Pool, order_no: str) -> asyncpg.Record:
    for _ in range(100):
        row = await pool.fetchrow("SELECT * FROM order_archive WHERE order_no = $1", order_no)
        if row is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"{order_no} was not archived")


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
        through co-handling, an extension through the platform, the platform's review of each result and
        a dissatisfied callback; the record is archived."""
        env = _env(dev_server, task_queue, database_url, codec_endpoint)
        no = _order_no()
        t = TemporalCli(dev_server, env, order_workflow_id(no))
        now = datetime.now(SHANGHAI).replace(microsecond=0).isoformat()

        async with running_worker(dev_client, pool, task_queue):
            await t.start(task_queue, new_order(no, dispatched_at=now))
            await t.update("receive", {"actor": OPERATOR})
            await t.update(
                "propose",
                {"actor": OPERATOR, "lead_unit": "dept-lighting", "assisting_units": ["district-hexi"],
                 "opinion": "照明处牵头，河西区配合"},
            )  # fmt: skip
            await t.update("review", {"actor": SUPERVISOR, "approved": True})
            await t.update(
                "contact_reporter", {"actor": LEAD, "at": _instant(), "method": "phone", "note": "已电话联系"}
            )
            await t.update("contribute", {"actor": ASSISTING, "content": "已排查线路"})
            await t.update(
                "request_extension",
                {"actor": LEAD, "reason": "需更换电缆", "requested_due": "2099-01-01T00:00:00+08:00",
                 "reporter_notified_at": _instant(), "written_reply": "申请延期"},
            )  # fmt: skip
            await t.update("forward_extension", {"actor": OPERATOR, "forward": True, "note": "情况属实"})
            await t.update("extension_decision", {"actor": HOTLINE, "approved": False, "note": "不同意延期"})
            status = await t.update(
                "submit_result", {"actor": LEAD, "result": "已修复", "reporter_informed_at": _instant()}
            )
            assert status["phase"] == "result_review"
            await t.update("review_result", {"actor": OPERATOR, "approved": True})
            await t.update("callback", {"actor": HOTLINE, "verdict": "dissatisfied"})
            await t.update("contact_reporter", {"actor": LEAD, "at": _instant(), "method": "visit"})
            await t.update("submit_result", {"actor": LEAD, "result": "再次修复", "reporter_informed_at": _instant()})
            await t.update("review_result", {"actor": OPERATOR, "approved": True})
            await t.update("callback", {"actor": HOTLINE, "verdict": "satisfied"})
            r = await t.run("result", "--workflow-id", t.wid, "--output", "json")
            assert r.returncode == 0, r.stderr
            assert '"outcome": "satisfied"' in r.stdout.replace('":"', '": "')

            row = await _archived(pool, no)
            assert row["outcome"] == "satisfied"
            assert {"receipt", "dispatch", "completion", "result_review_1", "result_review_2", "rehandling_1",
                    "return:dept-lighting"} <= set(row["deadlines"])  # fmt: skip
            kinds = [e["kind"] for e in row["timeline"]]
            assert kinds.count("result_submitted") == 2
            assert kinds.count("result_approved") == 2
            assert [k for k in kinds if k.startswith("extension_")] == [
                "extension_requested",
                "extension_forwarded",
                "extension_refused",
            ]
            replies = await pool.fetch("SELECT kind FROM hotline_outbox WHERE order_no = $1 ORDER BY seq", no)
            assert [x["kind"] for x in replies] == ["extension_application", "reply", "reply"]

            desc = await dev_client.get_workflow_handle(t.wid).describe()
            attrs = _typed(desc.typed_search_attributes)
            names = {k.name: v for k, v in attrs.items()}
            assert names[SearchAttribute.ORDER_PHASE] == "closed"
            assert "dissatisfied" in names[SearchAttribute.ORDER_FLAGS]


@pytest.mark.integration
class TestDoneWhen:
    """The issues' "done when", with the `temporal` CLI and plain JSON on the dev server."""

    async def test_sent_back_rehandled_appealed_and_upheld(
        self,
        dev_server: TemporalDevServer,
        dev_client: Client,
        pool: asyncpg.Pool,
        database_url: str,
        task_queue: str,
        codec_endpoint: str,
    ) -> None:
        """Issue 10: result -> review sent back -> result -> review approved -> callback dissatisfied ->
        re-handling (contact, contributions, result with appeal materials) -> review approved -> callback
        dissatisfied -> appeal filed -> upheld: closed `appeal_upheld`."""
        env = _env(dev_server, task_queue, database_url, codec_endpoint)
        no = _order_no()
        t = TemporalCli(dev_server, env, order_workflow_id(no))
        async with running_worker(dev_client, pool, task_queue):
            await t.start(task_queue, new_order(no, dispatched_at=datetime.now(SHANGHAI).isoformat()))
            await t.update("receive", {"actor": OPERATOR})
            await t.update(
                "propose",
                {"actor": OPERATOR, "lead_unit": "dept-lighting", "assisting_units": ["district-hexi"],
                 "opinion": "照明处牵头"},
            )  # fmt: skip
            await t.update("review", {"actor": SUPERVISOR, "approved": True})
            await t.update("contact_reporter", {"actor": LEAD, "at": _instant(), "method": "phone"})
            await t.update("contribute", {"actor": ASSISTING, "content": "已排查线路"})
            await t.update("submit_result", {"actor": LEAD, "result": "已修复", "reporter_informed_at": _instant()})
            s = await t.update("review_result", {"actor": OPERATOR, "approved": False, "comment": "请附现场照片"})
            assert s["phase"] == "in_handling"
            view = await t.query(HANDLING_ORDER_QUERY, "dept-lighting")
            assert view["latest_result"]["review_comment"] == "请附现场照片"
            await t.update(
                "submit_result", {"actor": LEAD, "result": "已修复，附照片", "reporter_informed_at": _instant()}
            )
            s = await t.update("review_result", {"actor": OPERATOR, "approved": True, "comment": "结果属实"})
            assert s["phase"] == "awaiting_callback"
            s = await t.update("callback", {"actor": HOTLINE, "verdict": "dissatisfied", "note": "晚上还是不亮"})
            assert (s["phase"], s["rehandling_round"]) == ("rehandling", 1)
            view = await t.query(HANDLING_ORDER_QUERY, "district-hexi")  # the assisting unit is told why
            assert view["latest_verdict"]["note"] == "晚上还是不亮"
            await t.update("contact_reporter", {"actor": LEAD, "at": _instant(), "method": "visit"})
            await t.update("contribute", {"actor": ASSISTING, "content": "更换控制箱"})
            await t.update(
                "submit_result",
                {"actor": LEAD, "result": "再次维修", "reporter_informed_at": _instant(),
                 "appeal_materials": ["现场照片.jpg"]},
            )  # fmt: skip
            await t.update("review_result", {"actor": OPERATOR, "approved": True})
            s = await t.update("callback", {"actor": HOTLINE, "verdict": "dissatisfied", "note": "仍不满意"})
            assert s["phase"] == "appeal_window"
            s = await t.update("file_appeal", {"actor": OPERATOR, "reason": "已按标准修复", "materials": ["申诉报告"]})
            assert s["phase"] == "appealing"
            s = await t.update("appeal_decision", {"actor": HOTLINE, "upheld": True, "note": "申诉成立"})
            assert (s["phase"], s["outcome"]) == ("closed", "appeal_upheld")

            row = await _archived(pool, no)
            assert row["outcome"] == "appeal_upheld"
            kinds = [e["kind"] for e in row["timeline"]]
            for kind in ("result_sent_back", "rehandling_opened", "appeal_filed", "appeal_decided"):
                assert kind in kinds, kind
            assert kinds.count("result_approved") == 2
            hexi = next(a for a in row["status"]["assignments"] if a["unit"] == "district-hexi")
            assert [(c["content"], c["round"]) for c in hexi["contributions"]] == [("已排查线路", 0), ("更换控制箱", 1)]
            out = await pool.fetch("SELECT kind, payload FROM hotline_outbox WHERE order_no = $1 ORDER BY seq", no)
            assert [x["kind"] for x in out] == ["reply", "reply", "appeal"]
            assert out[-1]["payload"]["materials"] == ["申诉报告", "现场照片.jpg"]
            sent_back = await pool.fetch(
                "SELECT recipient FROM notification_outbox WHERE order_no = $1 AND kind = 'result_sent_back'", no
            )
            assert [x["recipient"] for x in sent_back] == ["dept-lighting"]
            desc = await dev_client.get_workflow_handle(t.wid).describe()
            names = {k.name: v for k, v in _typed(desc.typed_search_attributes).items()}
            assert names[SearchAttribute.ORDER_PHASE] == "closed"
            assert {"dissatisfied", "appealed"} <= set(names[SearchAttribute.ORDER_FLAGS])

    async def test_a_confidential_order_as_its_units_see_it(
        self,
        dev_server: TemporalDevServer,
        dev_client: Client,
        pool: asyncpg.Pool,
        database_url: str,
        task_queue: str,
        codec_endpoint: str,
    ) -> None:
        """Issue 11: the lead's `handling_order` of a confidential order shows the phone and no name; the
        lead contacts, the assisting unit contributes, the lead's view holds the contribution's words; a
        contact dated before the dispatch is refused and changes nothing."""
        env = _env(dev_server, task_queue, database_url, codec_endpoint)
        no = _order_no()
        t = TemporalCli(dev_server, env, order_workflow_id(no))
        name, phone = "机密王五", "13900001111"
        order = new_order(no, dispatched_at=datetime.now(SHANGHAI).isoformat(),
                          reporter={"name": name, "phone": phone, "confidential": True})  # fmt: skip
        async with running_worker(dev_client, pool, task_queue):
            await t.start(task_queue, order)
            await t.update("receive", {"actor": OPERATOR})
            await t.update(
                "propose",
                {"actor": OPERATOR, "lead_unit": "dept-lighting", "assisting_units": ["district-hexi"],
                 "opinion": "照明处牵头"},
            )  # fmt: skip
            # beyond the 5 minutes of clock skew the rule allows either way
            before_dispatch = (datetime.now(SHANGHAI) - timedelta(minutes=10)).isoformat()
            await t.update("review", {"actor": SUPERVISOR, "approved": True})

            view = await t.query(HANDLING_ORDER_QUERY, "dept-lighting")
            assert (view["reporter_name"], view["reporter_phone"], view["confidential"]) == (None, phone, True)
            assert "never say who reported" in view["confidentiality_note"]
            assert name not in json.dumps(view, ensure_ascii=False)
            assert view["lead_unit"] == "dept-lighting"
            assert [u["unit"] for u in view["units"]] == ["dept-lighting", "district-hexi"]

            before = await t.query(STATUS_QUERY)
            words = await t.refused(
                "contact_reporter", {"actor": LEAD, "at": before_dispatch, "method": "phone", "note": "早于派单"}
            )
            assert "contact_reporter refused:" in words
            assert "cannot be true; allowed: between" in words
            assert "(the order was dispatched to dept-lighting at" in words
            assert "invalid_instant" in words
            after = await t.query(STATUS_QUERY)
            assert after["assignments"] == before["assignments"]
            assert after["timeline"] == before["timeline"]

            await t.update("contact_reporter", {"actor": LEAD, "at": _instant(), "method": "phone", "note": "已联系"})
            await t.update("contribute", {"actor": ASSISTING, "content": "配合排查：三号灯杆电缆老化"})
            view = await t.query(HANDLING_ORDER_QUERY, "dept-lighting")
            assert [(c["unit"], c["content"]) for c in view["contributions"]] == [
                ("district-hexi", "配合排查：三号灯杆电缆老化")
            ]
            assert view["reporter_phone"] == phone
            assisting = await t.query(HANDLING_ORDER_QUERY, "district-hexi")
            assert (assisting["reporter_name"], assisting["reporter_phone"]) == (None, phone)
            assert assisting["lead_unit"] == "dept-lighting"

            rows = await pool.fetch("SELECT body FROM notification_outbox WHERE order_no = $1", no)
            assert any("配合排查：三号灯杆电缆老化" in r["body"] for r in rows)  # the words, not "X contributed"
            assert not any(name in r["body"] or phone in r["body"] for r in rows)
            await dev_client.get_workflow_handle(t.wid).terminate("test over")


@pytest.mark.integration
async def test_calendar_notify_query_is_accepted_by_visibility(dev_client: Client) -> None:
    """The visibility query that finds orders with unconfirmed deadlines is valid on a real server."""

    told = await notify_calendar_change(dev_client, years=[2099])
    assert told == []
