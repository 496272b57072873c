"""The `hotline` command against the real stack: every action, refusals, show, list, desk, import."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from domain.calendar import SHANGHAI
from tests.support.cli import BIN, Stack
from tests.support.workflows import new_order, running_worker
from workers.dev import TemporalDevServer


@pytest.fixture
async def stack(
    dev_server: TemporalDevServer, dev_client: Client, pool: asyncpg.Pool, database_url: str, task_queue: str
) -> AsyncIterator[Stack]:
    """The dev server, PostgreSQL and a worker on this test's own task queue."""
    env = {
        **os.environ,
        "HOTLINE_TEMPORAL_ADDRESS": dev_server.address,
        "HOTLINE_TASK_QUEUE": task_queue,
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_LOG_FORMAT": "json",
        "COLUMNS": "200",
    }
    async with running_worker(dev_client, pool, task_queue):
        yield Stack(env)


def _now() -> str:
    return datetime.now(SHANGHAI).isoformat()


async def _start(stack: Stack, tmp_path: Path, **changes: object) -> str:
    no = f"C{uuid.uuid4().hex[:10]}"
    f = tmp_path / f"{no}.json"
    f.write_text(json.dumps(new_order(no, dispatched_at=_now(), **changes)), encoding="utf-8")
    await stack.ok("order", "start", str(f))
    return no


@pytest.mark.integration
class TestActions:
    async def test_an_order_from_transfer_to_close_with_hotline_alone(self, stack: Stack, tmp_path: Path) -> None:
        """Every step of a co-handled, re-handled, appealed order through `hotline order …`, then `show`:
        the platform sends a result back once, forwards an extension; a named handler; the appeal upheld."""
        no = await _start(stack, tmp_path)
        await stack.ok("order", "receive", no, "--as", "center", "--person", "王工")
        await stack.ok(
            "order", "propose", no, "--as", "center", "--person", "王工", "--lead", "dept-roads",
            "--assist", "district-hexi", "--assist", "unit-lighting-center", "--opinion", "道桥处牵头",
        )  # fmt: skip
        await stack.ok("order", "review", no, "--as", "dept-hotline", "--person", "李处", "--approve")
        await stack.ok("order", "contact", no, "--as", "dept-roads", "--person", "张科", "--method", "phone",
                       "--handler-person", "刘专员", "--handler-phone", "022-23456789")  # fmt: skip
        await stack.ok("order", "contribute", no, "--as", "district-hexi", "--person", "赵", "--content", "已清理")
        await stack.ok(
            "order", "release", no, "--as", "center", "--person", "王工", "--unit", "unit-lighting-center",
            "--reason", "不涉及照明",
        )  # fmt: skip
        await stack.ok(
            "order", "extend", no, "--as", "dept-roads", "--person", "张科", "--reason", "需协调",
            "--until", "2099-01-01T00:00:00+08:00", "--written-reply", "申请延期",
        )  # fmt: skip
        await stack.ok("order", "forward-extension", no, "--as", "center", "--person", "王工", "--forward",
                       "--note", "情况属实")  # fmt: skip
        await stack.ok("order", "extension-decision", no, "--as", "hotline", "--person", "坐席", "--refuse")
        out = await stack.ok("order", "result", no, "--as", "dept-roads", "--person", "张科", "--result", "已修复")
        assert "result_review" in out
        await stack.ok("order", "review-result", no, "--as", "center", "--person", "王工", "--send-back",
                       "--comment", "请附现场照片")  # fmt: skip
        view = await stack.ok("order", "view", no, "--unit", "dept-roads")
        assert "SENT BACK to the lead" in view
        assert "请附现场照片" in view
        assert "已清理" in view  # the lead sees the assisting unit's contribution in full
        await stack.ok("order", "result", no, "--as", "dept-roads", "--person", "张科", "--result", "已修复，附照片")
        await stack.ok("order", "review-result", no, "--as", "center", "--person", "王工", "--approve")
        await stack.ok("order", "callback", no, "--as", "hotline", "--person", "坐席", "--verdict", "dissatisfied",
                       "--note", "还是不通")  # fmt: skip
        await stack.ok("order", "contact", no, "--as", "dept-roads", "--person", "张科", "--method", "visit")
        await stack.ok(
            "order", "result", no, "--as", "dept-roads", "--person", "张科", "--result", "再次修复",
            "--appeal-material", "照片",
        )  # fmt: skip
        await stack.ok("order", "review-result", no, "--as", "center", "--person", "王工", "--approve")
        await stack.ok("order", "callback", no, "--as", "hotline", "--person", "坐席", "--verdict", "dissatisfied")
        await stack.ok("order", "appeal", no, "--as", "center", "--person", "王工", "--reason", "诉求超出职责")
        out = await stack.ok("order", "appeal-decision", no, "--as", "hotline", "--person", "坐席", "--uphold")
        assert "closed" in out
        status = json.loads(await stack.ok("order", "show", no, "--json"))
        assert status["outcome"] == "appeal_upheld"
        assert status["lifecycle"] == 2
        lead = next(a for a in status["assignments"] if a["unit"] == "dept-roads")
        assert lead["handler"] == {"person": "刘专员", "phone": "022-23456789"}
        assert [e["decision"] for e in status["extensions"]] == ["refused"]
        page = await stack.ok("order", "show", no)
        assert f"Order {no}" in page
        assert "lifecycle 2" in page
        assert "completion deadline" in page
        assert "刘专员 (022-23456789)" in page
        assert "SENT BACK to the lead" in page
        assert "forwarded" in page  # the extension's way through the platform
        assert "appeal filed" in page
        assert "appeal_decided" in page  # the timeline is on the page

    async def test_refusal_is_printed_as_the_workflow_words_it(self, stack: Stack, tmp_path: Path) -> None:
        """A unit without standing: exit 1, the workflow's message, nothing changed."""
        no = await _start(stack, tmp_path)
        r = await stack.run("order", "receive", no, "--as", "district-hexi", "--person", "x")
        assert r.returncode == 1
        assert "receive refused: district-hexi (operator) has no standing" in r.stderr
        status = json.loads(await stack.ok("order", "show", no, "--json"))
        assert status["phase"] == "awaiting_receipt"

    async def test_a_review_of_nothing_is_refused_in_the_workflow_s_words(self, stack: Stack, tmp_path: Path) -> None:
        """review-result and forward-extension before there is anything to review or forward: exit 1."""
        no = await _start(stack, tmp_path)
        r = await stack.run("order", "review-result", no, "--as", "center", "--person", "王工", "--approve")
        assert r.returncode == 1
        assert "review_result refused: no result waits for review (the order is awaiting_receipt)" in r.stderr
        r = await stack.run("order", "forward-extension", no, "--as", "center", "--person", "王工", "--forward")
        assert r.returncode == 1
        assert "forward_extension refused: no extension request waits at the platform" in r.stderr

    async def test_unknown_order_says_so(self, stack: Stack) -> None:
        """An action on an order number that never ran."""
        r = await stack.run("order", "receive", "NOSUCH1", "--as", "center", "--person", "x")
        assert r.returncode == 1
        assert "order NOSUCH1 not found" in r.stderr

    async def test_signal_refusal_lands_in_rejected_actions(self, stack: Stack, tmp_path: Path) -> None:
        """`--signal` is fire-and-forget; a refusal is kept on the order."""
        no = await _start(stack, tmp_path)
        await stack.ok("order", "review", no, "--as", "dept-hotline", "--person", "李处", "--approve", "--signal")
        for _ in range(50):
            status = json.loads(await stack.ok("order", "show", no, "--json"))
            if status["rejected_actions"]:
                break
            await asyncio.sleep(0.1)
        assert status["rejected_actions"][0]["action"] == "review"


@pytest.mark.integration
class TestArgumentErrors:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["order", "receive", "X", "--as", "nobody", "--person", "p"], "unknown org 'nobody'"),
            (["order", "receive", "X", "--as", "center"], "--person"),
            (["order", "contact", "X", "--as", "dept-roads", "--person", "p", "--method", "pigeon"], "--method"),
            (["order", "contact", "X", "--as", "dept-roads", "--person", "p", "--method", "phone",
              "--at", "2026-11-27T10:00:00"], "naive datetime"),
            (["order", "review", "X", "--as", "dept-hotline", "--person", "p"],
             "exactly one of --approve or --send-back"),
            (["order", "extension-decision", "X", "--as", "hotline", "--person", "p", "--approve"],
             "--approve needs --due"),
            (["order", "propose", "X", "--as", "center", "--person", "p", "--lead", "dept-roads", "--opinion", ""],
             "--opinion"),
            (["order", "review-result", "X", "--as", "center", "--person", "p"],
             "exactly one of --approve or --send-back"),
            (["order", "review-result", "X", "--as", "center", "--person", "p", "--send-back"],
             "--send-back needs --comment"),
            (["order", "forward-extension", "X", "--as", "center", "--person", "p", "--forward", "--decline"],
             "exactly one of --forward or --decline"),
            (["order", "forward-extension", "X", "--as", "center", "--person", "p", "--decline", "--note", " "],
             "--decline needs --note"),
            (["order", "contribute", "X", "--as", "district-hexi", "--person", "p", "--content", "c",
              "--handler-phone", "13800000000"], "--handler-phone needs --handler-person"),
            (["order", "contact", "X", "--as", "dept-roads", "--person", "p", "--method", "phone",
              "--handler-person", "李", "--handler-phone", "call me"], "--handler-phone: String should match"),
            (["order", "view", "X"], "--unit"),
            (["order", "view", "X", "--unit", "nobody"], "unknown org 'nobody'"),
            (["order", "list", "--phase", "sleeping"], "--phase"),
            (["desk", "nobody"], "unknown org"),
        ],
    )  # fmt: skip
    async def test_checked_before_talking_to_anything(self, args: list[str], expected: str) -> None:
        """Exit 2 naming the wrong argument, with Temporal unreachable: nothing was contacted."""
        env = {**os.environ, "HOTLINE_TEMPORAL_ADDRESS": "127.0.0.1:1"}
        r = await asyncio.to_thread(subprocess.run, [str(BIN), *args], env=env, capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert expected in r.stderr


@pytest.mark.integration
class TestViews:
    async def test_list_filters_and_desk(self, stack: Stack, tmp_path: Path) -> None:
        """`order list` filters on search attributes; `desk` shows what waits for an org."""
        gas = await _start(stack, tmp_path, category="gas", location={"district": "jinnan", "address": "a"})
        general = await _start(stack, tmp_path, location={"district": "jinnan", "address": "b"})
        await stack.ok("order", "receive", general, "--as", "center", "--person", "王工")
        await stack.ok(
            "order",
            "propose",
            general,
            "--as",
            "center",
            "--person",
            "王工",
            "--lead",
            "district-jinnan",
            "--opinion",
            "转津南区",
        )
        await stack.ok("order", "review", general, "--as", "dept-hotline", "--person", "李处", "--approve")

        async def listed(*args: str) -> set[str]:
            for _ in range(50):  # visibility is eventually consistent
                out = await stack.ok("order", "list", "--json", "--district", "jinnan", *args)
                found = {json.loads(line)["order_no"] for line in out.splitlines()}
                if found:
                    return found
                await asyncio.sleep(0.2)
            return set()

        assert gas in await listed("--category", "gas")
        assert general not in await listed("--category", "gas")
        assert general in await listed("--phase", "in_handling", "--unit", "district-jinnan")
        desk = ""
        for _ in range(50):
            desk = await stack.ok("desk", "district-jinnan")
            if general in desk:
                break
            await asyncio.sleep(0.2)
        assert general in desk
        assert gas not in desk
        assert f"Handling order {general} for district-jinnan (lead; you lead)" in desk  # what the unit sees
        utilities = await stack.ok("desk", "utilities")
        assert gas in utilities

        # the lead's result waits for the platform's review: it is on the platform's desk now
        await stack.ok("order", "contact", general, "--as", "district-jinnan", "--person", "孙", "--method", "phone")
        await stack.ok("order", "result", general, "--as", "district-jinnan", "--person", "孙", "--result", "已处理")
        center = ""
        for _ in range(50):
            center = await stack.ok("desk", "center")
            if general in center:
                break
            await asyncio.sleep(0.2)
        assert general in center
        assert "result_review" in center

    async def test_a_unit_sees_a_confidential_reporter_s_phone_never_the_name(
        self, stack: Stack, tmp_path: Path
    ) -> None:
        """`order view --unit` and the unit's desk: the phone marked CONFIDENTIAL with the instruction, no
        name; the lead, the other units and their handlers; the lead sees the contribution's words."""
        name, phone = "机密张", "13911112222"
        no = await _start(stack, tmp_path, reporter={"name": name, "phone": phone, "confidential": True})
        await stack.ok("order", "receive", no, "--as", "center", "--person", "王工")
        await stack.ok("order", "propose", no, "--as", "center", "--person", "王工", "--lead", "dept-roads",
                       "--assist", "district-hexi", "--opinion", "道桥处牵头")  # fmt: skip
        await stack.ok("order", "review", no, "--as", "dept-hotline", "--person", "李处", "--approve")
        await stack.ok("order", "contribute", no, "--as", "district-hexi", "--person", "赵", "--content", "井盖已更换")
        lead = await stack.ok("order", "view", no, "--unit", "dept-roads")
        assisting = await stack.ok("order", "view", no, "--unit", "district-hexi")
        for page in (lead, assisting):
            assert f"reporter: phone {phone}  CONFIDENTIAL (name withheld)" in page
            assert "never say who reported" in page
            assert name not in page
            assert "dept-roads" in page
        assert "井盖已更换" in lead
        assert "district-hexi (you)" in assisting
        assert "赵" in assisting  # its handler, named by its first action
        raw = json.loads(await stack.ok("order", "view", no, "--unit", "dept-roads", "--json"))
        assert (raw["reporter_name"], raw["reporter_phone"]) == (None, phone)
        desk = ""
        for _ in range(50):
            desk = await stack.ok("desk", "district-hexi")
            if f"Handling order {no} for district-hexi" in desk:
                break
            await asyncio.sleep(0.2)
        assert f"Handling order {no} for district-hexi (assisting; dept-roads leads)" in desk
        assert name not in desk
        r = await stack.run("order", "view", no, "--unit", "district-nankai")
        assert r.returncode == 1
        assert r.stderr.startswith("handling_order refused: district-nankai is not assigned to order"), r.stderr


@pytest.mark.integration
class TestImport:
    async def test_good_bad_and_duplicate_lines(self, stack: Stack, tmp_path: Path) -> None:
        """Bad lines are refused with their number and reason; a rerun starts nothing twice."""
        a, b = f"I{uuid.uuid4().hex[:10]}", f"I{uuid.uuid4().hex[:10]}"
        lines = [
            json.dumps(new_order(a, dispatched_at=_now())),
            "{broken",
            json.dumps(new_order("BADTZ", dispatched_at="2026-11-27T10:00:00")),
            "",
            json.dumps(new_order(b, dispatched_at=_now(), tier="urgent")),
            json.dumps(new_order(a, dispatched_at=_now())),
        ]
        f = tmp_path / "orders.ndjson"
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
        r = await stack.run("order", "import", str(f))
        assert r.returncode == 1
        assert "started 2, already started 1, refused 2" in r.stdout
        assert "line 2: not JSON" in r.stdout
        assert "line 3: dispatched_at: a naive datetime" in r.stdout
        r = await stack.run("order", "import", str(f))
        assert "started 0, already started 3, refused 2" in r.stdout
