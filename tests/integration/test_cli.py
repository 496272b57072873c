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
    return datetime.now(SHANGHAI).replace(microsecond=0).isoformat()


async def _start(stack: Stack, tmp_path: Path, **changes: object) -> str:
    no = f"C{uuid.uuid4().hex[:10]}"
    f = tmp_path / f"{no}.json"
    f.write_text(json.dumps(new_order(no, dispatched_at=_now(), **changes)), encoding="utf-8")
    await stack.ok("order", "start", str(f))
    return no


@pytest.mark.integration
class TestActions:
    async def test_an_order_from_transfer_to_close_with_hotline_alone(self, stack: Stack, tmp_path: Path) -> None:
        """Every step of a co-handled, re-handled order through `hotline order …`, then `show`."""
        no = await _start(stack, tmp_path)
        await stack.ok("order", "receive", no, "--as", "center", "--person", "王工")
        await stack.ok(
            "order",
            "propose",
            no,
            "--as",
            "center",
            "--person",
            "王工",
            "--lead",
            "dept-roads",
            "--assist",
            "district-hexi",
            "--assist",
            "unit-lighting-center",
            "--opinion",
            "道桥处牵头",
        )
        await stack.ok("order", "review", no, "--as", "dept-hotline", "--person", "李处", "--approve")
        await stack.ok("order", "contact", no, "--as", "dept-roads", "--person", "张科", "--method", "phone")
        await stack.ok("order", "contribute", no, "--as", "district-hexi", "--person", "赵", "--content", "已清理")
        await stack.ok(
            "order",
            "release",
            no,
            "--as",
            "center",
            "--person",
            "王工",
            "--unit",
            "unit-lighting-center",
            "--reason",
            "不涉及照明",
        )
        await stack.ok(
            "order",
            "extend",
            no,
            "--as",
            "dept-roads",
            "--person",
            "张科",
            "--reason",
            "需协调",
            "--until",
            "2099-01-01T00:00:00+08:00",
            "--written-reply",
            "申请延期",
        )
        await stack.ok("order", "extension-decision", no, "--as", "hotline", "--person", "坐席", "--refuse")
        await stack.ok("order", "result", no, "--as", "dept-roads", "--person", "张科", "--result", "已修复")
        await stack.ok("order", "callback", no, "--as", "hotline", "--person", "坐席", "--verdict", "dissatisfied")
        await stack.ok("order", "contact", no, "--as", "dept-roads", "--person", "张科", "--method", "visit")
        await stack.ok(
            "order",
            "result",
            no,
            "--as",
            "dept-roads",
            "--person",
            "张科",
            "--result",
            "再次修复",
            "--appeal-material",
            "照片",
        )
        await stack.ok("order", "callback", no, "--as", "hotline", "--person", "坐席", "--verdict", "dissatisfied")
        await stack.ok("order", "appeal", no, "--as", "center", "--person", "王工", "--reason", "诉求超出职责")
        out = await stack.ok("order", "appeal-decision", no, "--as", "hotline", "--person", "坐席", "--uphold")
        assert "closed" in out
        status = json.loads(await stack.ok("order", "show", no, "--json"))
        assert status["outcome"] == "appeal_upheld"
        page = await stack.ok("order", "show", no)
        assert f"Order {no}" in page
        assert "completion deadline" in page
        assert "appeal_decided" in page  # the timeline is on the page

    async def test_refusal_is_printed_as_the_workflow_words_it(self, stack: Stack, tmp_path: Path) -> None:
        """A unit without standing: exit 1, the workflow's message, nothing changed."""
        no = await _start(stack, tmp_path)
        r = await stack.run("order", "receive", no, "--as", "district-hexi", "--person", "x")
        assert r.returncode == 1
        assert "receive refused: district-hexi (operator) has no standing" in r.stderr
        status = json.loads(await stack.ok("order", "show", no, "--json"))
        assert status["phase"] == "awaiting_receipt"

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
        utilities = await stack.ok("desk", "utilities")
        assert gas in utilities


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
