"""`DoubtfulOrder` (Article 7.3) on the time-skipping server, with real activities and PostgreSQL."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.errors import REFUSAL_TYPES
from domain.inquiry import InquiryPhase, InquiryStatus
from starter.codec import KeyRing
from starter.connection import data_converter
from tests.support.temporal import register_search_attributes
from tests.support.workflows import actor, running_worker
from workers.dev import venv_binary

HISTORIES = Path(__file__).parent.parent / "replay" / "histories"
_STARTED: list[WorkflowHandle[Any, Any]] = []

CENTER = actor("center", "operator", "王工")
LIGHTING = actor("dept-lighting", "handler", "张科")
ROADS = actor("dept-roads", "handler", "刘科")

Env = tuple[WorkflowEnvironment, str]


@pytest.fixture
async def env(
    pool: asyncpg.Pool, task_queue: str, keyring: KeyRing, request: pytest.FixtureRequest
) -> AsyncIterator[Env]:
    """A time-skipping server of this test's own, with the project's worker (as test_lifecycle's)."""
    e = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(keyring),
        test_server_existing_path=str(venv_binary("temporal-test-server")),
    )
    try:
        await register_search_attributes(e.client)
        async with running_worker(e.client, pool, task_queue):
            yield e, task_queue
            if os.environ.get("HOTLINE_RECORD_HISTORIES"):
                await _record(request.node.name)
    finally:
        _STARTED.clear()
        await e.shutdown()


async def _record(test_name: str) -> None:
    """Keep each inquiry's history for the replay tests (`HOTLINE_RECORD_HISTORIES=1`)."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", test_name).strip("_")
    for i, handle in enumerate(_STARTED):
        history = await handle.fetch_history()
        (HISTORIES / f"DoubtfulOrder-{name}-{i}.json").write_text(history.to_json(), encoding="utf-8")


def new_inquiry(no: str, asked_at: datetime, **changes: Any) -> dict[str, Any]:
    """A valid NewInquiry as plain JSON."""
    raw: dict[str, Any] = {
        "inquiry_no": no,
        "asked_at": asked_at.isoformat(),
        "unit": "dept-lighting",
        "order_no": f"TJ{no}",
        "question": "该路段路灯是否属于市管照明设施？",
    }
    raw.update(changes)
    return raw


async def _start(env: Env, **changes: Any) -> tuple[WorkflowHandle[Any, Any], str]:
    e, tq = env
    no = f"Q{uuid.uuid4().hex[:12]}"
    now = await e.get_current_time()
    handle = await e.client.start_workflow(
        "DoubtfulOrder", new_inquiry(no, now, **changes), id=f"inquiry-{no}", task_queue=tq
    )
    _STARTED.append(handle)
    return handle, no


async def _do(handle: WorkflowHandle[Any, Any], name: str, who: dict[str, str], **payload: Any) -> InquiryStatus:
    result: InquiryStatus = await handle.execute_update(name, {"actor": who, **payload}, result_type=InquiryStatus)
    return result


async def _status(handle: WorkflowHandle[Any, Any]) -> InquiryStatus:
    """The `status` query once the inquiry is set up (its calendar loaded, its deadline computed)."""
    import asyncio

    for _ in range(100):
        s: InquiryStatus = await handle.query("status", result_type=InquiryStatus)
        if s.timeline:
            return s
        await asyncio.sleep(0.05)
    raise AssertionError("the inquiry never finished setting up")


async def _refused(handle: WorkflowHandle[Any, Any], name: str, who: dict[str, str], **payload: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await _do(handle, name, who, **payload)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type in REFUSAL_TYPES
    return cause.message


class TestAnswer:
    async def test_answer_on_time_completes_and_reaches_the_hotline_outbox(self, env: Env, pool: asyncpg.Pool) -> None:
        """The asked unit answers in time: the workflow completes; PostgreSQL holds the answer for the hotline."""
        handle, no = await _start(env)
        s = await _status(handle)
        assert s.phase is InquiryPhase.AWAITING_ANSWER
        assert "1 working day" in s.deadline.explanation
        s = await _do(handle, "answer", LIGHTING, answer="属于市管设施，已安排维修")
        assert s.phase is InquiryPhase.ANSWERED
        final = InquiryStatus.model_validate(await handle.result())
        assert final.answer == "属于市管设施，已安排维修"
        assert final.flags == []
        assert final.deadline.met_at is not None

        rows = await pool.fetch("SELECT order_no, kind, payload FROM hotline_outbox WHERE order_no = $1", f"TJ{no}")
        assert [(r["kind"], r["payload"]["inquiry_no"], r["payload"]["unit"]) for r in rows] == [
            ("doubtful_answer", no, "dept-lighting")
        ]
        assert rows[0]["payload"]["answer"] == "属于市管设施，已安排维修"
        row = await pool.fetchrow("SELECT phase, unit, answered_at, revision FROM inquiries WHERE inquiry_no = $1", no)
        assert row["phase"] == "answered"
        assert row["answered_at"] == final.answered_at
        stored = await pool.fetch("SELECT kind FROM inquiry_timeline WHERE inquiry_no = $1 ORDER BY seq", no)
        assert [r["kind"] for r in stored] == [e.kind for e in final.timeline] == ["asked", "answered"]
        told = await pool.fetchval(
            "SELECT count(*) FROM notification_outbox"
            " WHERE order_no = $1 AND kind = 'doubtful_inquiry' AND recipient = 'dept-lighting'",
            f"TJ{no}",
        )
        assert told == 1

    async def test_without_an_order_the_outbox_names_the_inquiry(self, env: Env, pool: asyncpg.Pool) -> None:
        """An inquiry about no order: its outbox rows carry `inquiry-<no>`."""
        handle, no = await _start(env, order_no=None)
        await _do(handle, "answer", LIGHTING, answer="答复")
        await handle.result()
        kind = await pool.fetchval("SELECT kind FROM hotline_outbox WHERE order_no = $1", f"inquiry-{no}")
        assert kind == "doubtful_answer"


class TestTimers:
    async def test_warning_and_overdue_fire_at_their_instants(self, env: Env, pool: asyncpg.Pool) -> None:
        """The warning at 80 % of the window, the escalation at its end, to the unit and dept-hotline;
        the timers carry their names."""
        e = env[0]
        handle, no = await _start(env)
        d = (await _status(handle)).deadline
        assert d.warn_at == d.start + (d.due - d.start) * 0.8
        assert d.warn_at is not None
        await e.sleep(d.warn_at - await e.get_current_time() - timedelta(seconds=5))
        assert (await _status(handle)).deadline.warned_at is None
        await e.sleep(timedelta(seconds=10))
        s = await _status(handle)
        warned = s.deadline.warned_at
        assert warned is not None
        assert d.warn_at <= warned <= d.warn_at + timedelta(seconds=10)
        assert s.flags == []
        await e.sleep(d.due - await e.get_current_time() - timedelta(seconds=5))
        assert (await _status(handle)).deadline.overdue_since is None
        await e.sleep(timedelta(seconds=10))
        s = await _status(handle)
        assert s.deadline.overdue_since == d.due
        assert s.flags == ["reply_late"]
        assert "OVERDUE" in s.waiting_for
        rows = await pool.fetch(
            "SELECT kind, recipient FROM notification_outbox"
            " WHERE order_no = $1 AND kind LIKE 'reply_%' ORDER BY kind, recipient",
            f"TJ{no}",
        )
        assert [(r["kind"], r["recipient"]) for r in rows] == [
            ("reply_overdue", "dept-hotline"),
            ("reply_overdue", "dept-lighting"),
            ("reply_warning", "dept-hotline"),
            ("reply_warning", "dept-lighting"),
        ]
        assert await _timer_names(e.client, handle) == ["reply warning", "reply deadline"]

        s = await _do(handle, "answer", LIGHTING, answer="迟到的答复")
        final = InquiryStatus.model_validate(await handle.result())
        assert final.flags == ["reply_late"]
        payload = await pool.fetchval("SELECT payload FROM hotline_outbox WHERE order_no = $1", f"TJ{no}")
        assert payload["late"] is True


async def _timer_names(client: Client, handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The summaries of the timers the workflow started, decoded with the client's converter."""
    history = await handle.fetch_history()
    names = []
    for ev in history.events:
        if ev.event_type == EventType.EVENT_TYPE_TIMER_STARTED and ev.user_metadata.HasField("summary"):
            [name] = await client.data_converter.decode([ev.user_metadata.summary], [str])
            names.append(name)
    return names


class TestReassign:
    async def test_reassign_then_the_new_unit_answers(self, env: Env, pool: asyncpg.Pool) -> None:
        """The platform reassigns; the old unit can no longer answer; the new one does; the deadline stays."""
        handle, no = await _start(env)
        before = (await _status(handle)).deadline.due
        s = await _do(handle, "reassign", CENTER, unit="dept-roads", reason="属道桥设施")
        assert s.unit == "dept-roads"
        assert s.deadline.due == before
        assert "the reply deadline stays as it was" in s.timeline[-1].detail
        msg = await _refused(handle, "answer", LIGHTING, answer="a")
        assert "a handler of the asked unit dept-roads" in msg
        await _do(handle, "answer", ROADS, answer="道桥处答复")
        final = InquiryStatus.model_validate(await handle.result())
        assert final.reassignments[0].to_unit == "dept-roads"
        payload = await pool.fetchval("SELECT payload FROM hotline_outbox WHERE order_no = $1", f"TJ{no}")
        assert payload["unit"] == "dept-roads"
        told = await pool.fetch(
            "SELECT recipient, kind FROM notification_outbox WHERE order_no = $1 ORDER BY seq", f"TJ{no}"
        )
        assert [(r["recipient"], r["kind"]) for r in told] == [
            ("dept-lighting", "doubtful_inquiry"),
            ("dept-roads", "doubtful_inquiry"),
            ("dept-lighting", "doubtful_reassigned"),
        ]


class TestRefusals:
    async def test_refused_updates_leave_no_trace_and_signals_are_kept(self, env: Env) -> None:
        """A refused update is an ApplicationError `Rejected` and writes nothing to history; a refused
        signal lands in rejected_actions."""
        handle, _ = await _start(env)
        await _status(handle)
        msg = await _refused(handle, "answer", ROADS, answer="a")
        assert msg.startswith("answer refused: dept-roads (handler) has no standing")
        msg = await _refused(handle, "reassign", LIGHTING, unit="dept-roads", reason="r")
        assert "platform operator" in msg
        msg = await _refused(handle, "reassign", CENTER, unit="dept-lighting", reason="r")
        assert "is the unit asked already" in msg
        msg = await _refused(handle, "answer", LIGHTING, answer="")
        assert "answer refused: answer:" in msg
        history = await handle.fetch_history()
        assert not [
            e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]

        await handle.signal("answer", {"actor": ROADS, "answer": "越权答复"})
        s = await _do(handle, "reassign", CENTER, unit="dept-roads", reason="改由道桥处答复")
        assert [r.action for r in s.rejected_actions] == ["answer"]
        assert "has no standing" in s.rejected_actions[0].reason
        await handle.signal("answer", {"actor": ROADS, "answer": "道桥处答复"})
        final = InquiryStatus.model_validate(await handle.result())
        assert final.answer == "道桥处答复"

    async def test_an_invalid_inquiry_fails_naming_the_field(self, env: Env) -> None:
        """A NewInquiry that breaks the contract fails the workflow with `InvalidOrder` naming the field."""
        handle, _ = await _start(env, unit="hotline")
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
        cause = err.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "InvalidOrder"
        assert cause.message.startswith("NewInquiry refused: unit:")
