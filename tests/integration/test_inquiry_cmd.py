"""`hotline inquiry …` against the real dev server, PostgreSQL and a worker (Article 7.3)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from domain.calendar import SHANGHAI
from domain.contract import inquiry_workflow_id
from tests.support.cli import BIN, Stack
from tests.support.workflows import running_worker
from workers.dev import TemporalDevServer


@pytest.fixture
async def stack(
    dev_server: TemporalDevServer, dev_client: Client, pool: asyncpg.Pool, database_url: str, task_queue: str
) -> AsyncIterator[Stack]:
    """The dev server, PostgreSQL and a worker on this test's own task queue (as test_cli's)."""
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


def _inquiry(no: str, **changes: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "inquiry_no": no,
        "asked_at": datetime.now(SHANGHAI).replace(microsecond=0).isoformat(),
        "unit": "dept-lighting",
        "order_no": f"TJ{no}",
        "question": "该路段路灯是否属于市管照明设施？",
    }
    raw.update(changes)
    return raw


async def _ask(stack: Stack, tmp_path: Path, **changes: object) -> str:
    no = f"Q{uuid.uuid4().hex[:10]}"
    f = tmp_path / f"{no}.json"
    f.write_text(json.dumps(_inquiry(no, **changes)), encoding="utf-8")
    out = json.loads(await stack.ok("inquiry", "ask", str(f)))
    assert out["workflow_id"] == inquiry_workflow_id(no)
    return no


@pytest.mark.integration
class TestInquiryCommand:
    async def test_ask_reassign_answer_show(self, stack: Stack, tmp_path: Path, pool: asyncpg.Pool) -> None:
        """A doubtful order from the shell: asked, reassigned, answered by the new unit, shown; the
        answer is in the city-hotline outbox."""
        no = await _ask(stack, tmp_path)
        page = await stack.ok("inquiry", "show", no)
        assert f"Inquiry {no} on order TJ{no}" in page
        assert "reply deadline: due" in page
        assert "1 working day" in page
        await stack.ok(
            "inquiry",
            "reassign",
            no,
            "--as",
            "center",
            "--person",
            "王工",
            "--unit",
            "dept-roads",
            "--reason",
            "属道桥",
        )
        r = await stack.run("inquiry", "answer", no, "--as", "dept-lighting", "--person", "张科", "--answer", "a")
        assert r.returncode == 1
        assert "answer refused: dept-lighting (handler) has no standing" in r.stderr
        out = await stack.ok(
            "inquiry", "answer", no, "--as", "dept-roads", "--person", "刘科", "--answer", "道桥处答复"
        )
        assert "answered" in out
        status = json.loads(await stack.ok("inquiry", "show", no, "--json"))
        assert status["phase"] == "answered"
        assert status["unit"] == "dept-roads"
        assert status["answer"] == "道桥处答复"
        page = await stack.ok("inquiry", "show", no)
        assert "reassigned" in page
        assert "the reply deadline stays as it was" in page
        for _ in range(50):  # the answer is written before the workflow completes
            row = await pool.fetchrow("SELECT kind, payload FROM hotline_outbox WHERE order_no = $1", f"TJ{no}")
            if row is not None:
                break
            await asyncio.sleep(0.1)
        assert row is not None
        assert (row["kind"], row["payload"]["unit"]) == ("doubtful_answer", "dept-roads")

        r = await stack.run("inquiry", "answer", no, "--as", "dept-roads", "--person", "刘科", "--answer", "again")
        assert r.returncode == 1
        assert "answer refused: the inquiry was answered by dept-roads" in r.stderr

    async def test_asked_twice_is_refused(self, stack: Stack, tmp_path: Path) -> None:
        """A second ask under a running inquiry's number: exit 1, nothing changed."""
        no = await _ask(stack, tmp_path)
        f = tmp_path / "again.json"
        f.write_text(json.dumps(_inquiry(no)), encoding="utf-8")
        r = await stack.run("inquiry", "ask", str(f))
        assert r.returncode == 1
        assert f"inquiry {no} is already running" in r.stderr

    async def test_ask_from_stdin_and_a_refused_reassignment(self, stack: Stack) -> None:
        """`ask -` reads standard input; a reassignment by a unit is refused as the workflow words it."""
        no = f"Q{uuid.uuid4().hex[:10]}"
        await stack.ok("inquiry", "ask", "-", stdin=json.dumps(_inquiry(no, order_no=None)))
        r = await stack.run(
            "inquiry", "reassign", no, "--as", "dept-lighting", "--person", "张科", "--unit", "dept-roads",
            "--reason", "r", "--role", "handler",
        )  # fmt: skip
        assert r.returncode == 1
        assert "reassign refused: dept-lighting (handler) has no standing" in r.stderr
        status = json.loads(await stack.ok("inquiry", "show", no, "--json"))
        assert status["unit"] == "dept-lighting"
        assert status["order_no"] is None

    async def test_unknown_inquiry_says_so(self, stack: Stack) -> None:
        """show and answer on a number that never ran: exit 1, saying so."""
        for args in (
            ["inquiry", "show", "NOSUCHQ1"],
            ["inquiry", "answer", "NOSUCHQ1", "--as", "dept-roads", "--person", "x", "--answer", "a"],
        ):
            r = await stack.run(*args)
            assert r.returncode == 1
            assert f"inquiry NOSUCHQ1 not found (no workflow {inquiry_workflow_id('NOSUCHQ1')})" in r.stderr


@pytest.mark.integration
class TestInquiryArguments:
    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            ({"unit": "hotline"}, "NewInquiry refused: unit:"),
            ({"question": ""}, "NewInquiry refused: question:"),
            ({"asked_at": "2026-11-27T10:00:00"}, "NewInquiry refused: asked_at: a naive datetime"),
            ({"asked_at": (datetime.now(SHANGHAI) + timedelta(hours=1)).isoformat()},
             "NewInquiry refused: asked_at: "),
            ({"inquiry_no": "bad no"}, "NewInquiry refused: inquiry_no:"),
        ],
    )  # fmt: skip
    async def test_ask_checks_before_talking_to_anything(
        self, tmp_path: Path, changes: dict[str, object], expected: str
    ) -> None:
        """Exit 2 naming the field, with Temporal unreachable: nothing was contacted."""
        f = tmp_path / "q.json"
        f.write_text(json.dumps(_inquiry("Q1", **changes)), encoding="utf-8")
        env = {**os.environ, "HOTLINE_TEMPORAL_ADDRESS": "127.0.0.1:1"}
        r = await asyncio.to_thread(
            subprocess.run, [str(BIN), "inquiry", "ask", str(f)], env=env, capture_output=True, text=True
        )
        assert r.returncode == 2, r.stderr
        assert expected in r.stderr

    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["inquiry", "answer", "Q1", "--as", "dept-roads", "--person", "p", "--answer", ""], "--answer:"),
            (["inquiry", "answer", "Q1", "--as", "nobody", "--person", "p", "--answer", "a"], "unknown org 'nobody'"),
            (["inquiry", "reassign", "Q1", "--as", "center", "--person", "p", "--unit", "dept-roads"], "--reason"),
            (["inquiry", "ask", "/no/such/file.json"], "cannot read /no/such/file.json"),
        ],
    )  # fmt: skip
    async def test_actions_check_their_arguments(self, args: list[str], expected: str) -> None:
        """Exit 2 naming the wrong argument, before anything is sent."""
        env = {**os.environ, "HOTLINE_TEMPORAL_ADDRESS": "127.0.0.1:1"}
        r = await asyncio.to_thread(subprocess.run, [str(BIN), *args], env=env, capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert expected in r.stderr
