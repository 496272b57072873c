"""Every path of an order's life on the time-skipping server, with real activities and PostgreSQL.

The paths that read nothing back from PostgreSQL run on the fast tier (`test_fast.py`)."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.store import calendar_store
from domain.calendar import SHANGHAI, CalendarYear
from domain.calendar_file import CalendarFile
from domain.errors import REFUSAL_TYPES
from domain.models import OrderStatus, Outcome, Phase
from starter.codec import KeyRing
from starter.connection import data_converter
from tests.support.temporal import register_search_attributes
from tests.support.workflows import HOTLINE, PLATFORM, Driver, new_order, running_worker, unit
from workers.dev import venv_binary

HISTORIES = Path(__file__).parent.parent / "replay" / "histories"
_STARTED: list[Driver] = []


@pytest.fixture
async def env(
    pool: asyncpg.Pool, task_queue: str, keyring: KeyRing, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """A time-skipping server of this test's own, with the project's worker.

    The server's clock is global: a fresh server per test keeps one test's timers and sleeps from
    holding another's.
    """
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
    """Keep each order's history for the replay tests (`HOTLINE_RECORD_HISTORIES=1 make test`)."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(_STARTED):
        history = await d.handle.fetch_history()
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", test_name).strip("_")
        (HISTORIES / f"{name}-{i}.json").write_text(history.to_json(), encoding="utf-8")


async def _start(env: tuple[WorkflowEnvironment, str], **changes: Any) -> tuple[Driver, str, datetime]:
    e, tq = env
    no = f"L{uuid.uuid4().hex[:12]}"
    now = await e.get_current_time()
    changes.setdefault("dispatched_at", now.isoformat())
    handle = await e.client.start_workflow("WorkOrder", new_order(no, **changes), id=f"order-{no}", task_queue=tq)
    driver = Driver(handle)
    _STARTED.append(driver)
    return driver, no, now


async def _refused(d: Driver, name: str, who: dict[str, str], **payload: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await d.do(name, who, **payload)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type in REFUSAL_TYPES
    return cause.message


def _kinds(status: OrderStatus) -> list[str]:
    return [e.kind for e in status.timeline]


class TestHappyPath:
    async def test_transfer_to_archive(self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool) -> None:
        """receive, propose, review, dispatch, contact, result, review, callback satisfied: closed and archived."""
        d, no, _ = await _start(env)
        s = await d.to_handling()
        assert s.phase is Phase.IN_HANDLING
        assert s.units == ["dept-roads"]
        assert s.deadlines["return:dept-roads"].due == s.assignments[0].dispatched_at + timedelta(hours=8)
        s = await d.to_result_review()
        assert s.phase is Phase.RESULT_REVIEW
        assert await pool.fetchval("SELECT count(*) FROM hotline_outbox WHERE order_no = $1", no) == 0
        s = await d.do("review_result", PLATFORM, approved=True, comment="结果属实")
        assert s.phase is Phase.AWAITING_CALLBACK
        assert s.deadlines["completion"].met_at is not None
        s = await d.do("callback", HOTLINE, verdict="satisfied", note="满意")
        assert s.phase is Phase.CLOSED
        assert s.outcome is Outcome.SATISFIED
        final = OrderStatus.model_validate(await d.handle.result())
        assert final.outcome is Outcome.SATISFIED
        assert "completion_late" not in final.flags

        row = await pool.fetchrow("SELECT * FROM order_archive WHERE order_no = $1", no)
        assert row is not None
        assert row["outcome"] == "satisfied"
        assert set(row["deadlines"]) >= {
            "receipt",
            "dispatch",
            "completion",
            "return:dept-roads",
            "result_review_1",
            "callback_0",
        }
        assert all(v["explanation"] for v in row["deadlines"].values())
        assert [e["kind"] for e in row["timeline"]] == _kinds(final)
        stored = await pool.fetch("SELECT kind FROM order_timeline WHERE order_no = $1 ORDER BY seq", no)
        assert [r["kind"] for r in stored] == _kinds(final)
        replies = await pool.fetch("SELECT kind FROM hotline_outbox WHERE order_no = $1", no)
        assert [r["kind"] for r in replies] == ["reply"]
        dispatch = await pool.fetchval(
            "SELECT count(*) FROM notification_outbox"
            " WHERE order_no = $1 AND kind = 'dispatch' AND recipient = 'dept-roads'",
            no,
        )
        assert dispatch == 1


class TestReturns:
    async def test_return_after_8_hours_is_refused_with_when_it_closed(
        self, env: tuple[WorkflowEnvironment, str]
    ) -> None:
        """Past the 8-hour window a return is refused, naming the window and when it closed."""
        d, _, _ = await _start(env)
        s = await d.to_handling()
        closes = s.deadlines["return:dept-roads"].due
        await env[0].sleep(timedelta(hours=8, minutes=1))
        msg = await _refused(d, "return_order", unit("dept-roads"), reason="不属于", basis="无")
        assert "8-hour return window for dept-roads closed at" in msg
        assert closes.isoformat(timespec="minutes") in msg
        s = await d.status()
        assert s.phase is Phase.IN_HANDLING
        assert "return_window_closed" in _kinds(s)

    async def test_return_to_the_hotline(self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool) -> None:
        """The platform returns an order it does not handle; it closes and the hotline is told."""
        d, no, _ = await _start(env)
        await d.do("receive", PLATFORM)
        s = await d.do("return_to_hotline", PLATFORM, reason="不属于城管职责")
        assert s.outcome is Outcome.RETURNED_TO_HOTLINE
        await d.handle.result()
        rows = await pool.fetch("SELECT kind, payload FROM hotline_outbox WHERE order_no = $1", no)
        assert [(r["kind"], r["payload"]["reason"]) for r in rows] == [("return", "不属于城管职责")]


class TestExtension:
    async def _ask(self, d: Driver, wanted: datetime) -> OrderStatus:
        at = await d.since_dispatch()
        s: OrderStatus = await d.do(
            "request_extension",
            unit("dept-roads"),
            reason="需协调管线单位",
            requested_due=wanted.isoformat(),
            reporter_notified_at=at,
            written_reply="申请延期五天",
        )
        return s

    async def test_asked_on_time_forwarded_approved_late_met_on_time(
        self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool
    ) -> None:
        """Art. 8.6: the unit asks the platform, the platform applies, the city hotline approves after the
        old deadline: the approved instant stands as if in force all along, its timers armed for it."""
        e = env[0]
        d, no, _ = await _start(env, tier="urgent")
        s = await d.to_handling()
        old = s.deadlines["completion"].due
        wanted = old + timedelta(days=5)
        s = await self._ask(d, wanted)
        assert "extension_pending" in s.flags
        assert await pool.fetchval("SELECT count(*) FROM hotline_outbox WHERE order_no = $1", no) == 0
        await _refused(d, "extension_decision", HOTLINE, approved=True, approved_due=wanted.isoformat())
        await d.do("forward_extension", PLATFORM, forward=True, note="情况属实，同意申请")
        await e.sleep(old - await e.get_current_time() + timedelta(hours=2))
        s = await d.status()
        assert "completion_late" in s.flags
        s = await d.do("extension_decision", HOTLINE, approved=True, approved_due=wanted.isoformat(), note="同意")
        assert s.deadlines["completion"].due == wanted
        assert s.deadlines["completion"].overdue_since is None
        assert "completion_late" not in s.flags
        assert "extension_pending" not in s.flags
        await e.sleep(timedelta(minutes=1))  # the order arms its next timer
        # the timers the Web UI shows after the decision are the approved instant's
        history = await d.handle.fetch_history()
        summaries, after = [], False
        for ev in history.events:
            if ev.HasField("workflow_execution_update_accepted_event_attributes"):
                request = ev.workflow_execution_update_accepted_event_attributes.accepted_request
                after = after or request.input.name == "extension_decision"
            elif after and ev.HasField("timer_started_event_attributes"):
                summaries.append(ev.user_metadata.summary)
        names = await e.client.data_converter.decode(summaries)
        assert any("completion" in n for n in names), names
        await d.to_callback()
        s = await d.status()
        assert "completion_late" not in s.flags
        for _ in range(100):  # the record_order activity writes after the update has answered
            rows = await pool.fetch("SELECT kind FROM hotline_outbox WHERE order_no = $1 ORDER BY seq", no)
            if len(rows) >= 2:
                break
            await asyncio.sleep(0.05)
        assert [r["kind"] for r in rows] == ["extension_application", "reply"]

    async def test_refused_keeps_the_deadline(self, env: tuple[WorkflowEnvironment, str]) -> None:
        """A refused extension leaves the deadline where it was."""
        d, _, _ = await _start(env)
        s = await d.to_handling()
        old = s.deadlines["completion"].due
        await self._ask(d, old + timedelta(days=3))
        await d.do("forward_extension", PLATFORM, forward=True)
        s = await d.do("extension_decision", HOTLINE, approved=False, note="不同意")
        assert s.deadlines["completion"].due == old
        assert s.extensions[0].decision == "refused"
        msg = await _refused(d, "extension_decision", HOTLINE, approved=False)
        assert "no extension is pending" in msg

    async def test_declined_by_the_platform(self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool) -> None:
        """The platform declines with its reason: the unit is told; nothing goes to the city hotline."""
        d, no, _ = await _start(env)
        s = await d.to_handling()
        await self._ask(d, s.deadlines["completion"].due + timedelta(days=3))
        s = await d.do("forward_extension", PLATFORM, forward=False, note="理由不充分")
        assert s.extensions[0].decision == "declined"
        await d.do("withdraw", HOTLINE, reason="结束测试")
        await d.handle.result()
        told = await pool.fetch(
            "SELECT body FROM notification_outbox WHERE order_no = $1 AND kind = 'extension_decision'", no
        )
        assert ["理由不充分" in r["body"] for r in told] == [True]
        assert await pool.fetchval("SELECT count(*) FROM hotline_outbox WHERE order_no = $1", no) == 0

    async def test_asked_too_late_is_refused(self, env: tuple[WorkflowEnvironment, str]) -> None:
        """After the completion deadline an extension can no longer be asked for."""
        d, _, _ = await _start(env, tier="extra_urgent")
        s = await d.to_handling()
        due = s.deadlines["completion"].due
        at = await d.since_dispatch()
        await env[0].sleep(due - await env[0].get_current_time() + timedelta(seconds=1))
        msg = await _refused(
            d,
            "request_extension",
            unit("dept-roads"),
            reason="r",
            requested_due=(due + timedelta(hours=2)).isoformat(),
            reporter_notified_at=at,
            written_reply="w",
        )
        assert "passed at" in msg
        s = await d.status()
        assert "completion_late" in s.flags


class TestDissatisfied:
    @pytest.mark.parametrize(("upheld", "outcome"), [(True, Outcome.APPEAL_UPHELD), (False, Outcome.APPEAL_REJECTED)])
    async def test_rehandling_then_appeal(
        self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool, upheld: bool, outcome: Outcome
    ) -> None:
        """result, sent back, result, approved, dissatisfied, re-handling (contact, contribution, result with
        appeal materials), approved, dissatisfied, appeal filed, decided."""
        e = env[0]
        d, no, _ = await _start(env)
        await d.to_handling(assisting=["district-hexi"])
        await d.do("contribute", unit("district-hexi"), content="配合排查")
        await d.to_result_review()
        await d.do("review_result", PLATFORM, approved=False, comment="请附照片")
        at = await d.since_dispatch()
        await d.do("submit_result", unit("dept-roads"), result="已修复，附照片", reporter_informed_at=at)
        await d.do("review_result", PLATFORM, approved=True)
        s = await d.do("callback", HOTLINE, verdict="dissatisfied", note="仍有积水")
        assert s.phase is Phase.REHANDLING
        now = (await e.get_current_time()).isoformat()
        await d.do("contact_reporter", unit("dept-roads"), at=now, method="visit")
        await d.do("contribute", unit("district-hexi"), content="再次清淤")
        await d.do(
            "submit_result",
            unit("dept-roads"),
            result="再次处理",
            reporter_informed_at=now,
            appeal_materials=["现场照片", "检测报告"],
        )
        await d.do("review_result", PLATFORM, approved=True)
        s = await d.do("callback", HOTLINE, verdict="dissatisfied", note="诉求超出职责")
        assert (s.phase, s.rehandling_round) == (Phase.APPEAL_WINDOW, 1)
        s = await d.do("file_appeal", PLATFORM, reason="诉求不合理", materials=["申诉报告"])
        assert s.phase is Phase.APPEALING
        assert "appealed" in s.flags
        s = await d.do("appeal_decision", HOTLINE, upheld=upheld, note="")
        assert s.outcome is outcome
        await d.handle.result()
        row = await pool.fetchrow("SELECT payload FROM hotline_outbox WHERE order_no = $1 AND kind = 'appeal'", no)
        assert row["payload"]["materials"] == ["申诉报告", "现场照片", "检测报告"]
        told = await pool.fetch(
            "SELECT recipient, body FROM notification_outbox WHERE order_no = $1 AND kind = 'rehandling'", no
        )
        assert {r["recipient"] for r in told} == {"dept-roads", "district-hexi", "center"}
        assert all("仍有积水" in r["body"] for r in told)

    async def test_an_unanswered_appeal_closes_after_the_wait(
        self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool
    ) -> None:
        """No decision within the appeal wait: the supervising department is reminded, then it closes."""
        e = env[0]
        d, no, _ = await _start(env)
        await d.to_handling()
        await d.to_callback()
        await d.do("callback", HOTLINE, verdict="dissatisfied")
        now = (await e.get_current_time()).isoformat()
        await d.do("contact_reporter", unit("dept-roads"), at=now, method="visit")
        await d.do("submit_result", unit("dept-roads"), result="再次处理", reporter_informed_at=now)
        await d.do("review_result", PLATFORM, approved=True)
        s = await d.do("file_appeal", PLATFORM, reason="已按标准处理")  # before the re-handling callback
        assert s.phase is Phase.APPEALING
        await e.sleep(timedelta(days=31))
        final = OrderStatus.model_validate(await d.handle.result())
        assert final.outcome is Outcome.APPEAL_UNANSWERED
        rows = await pool.fetch(
            "SELECT kind, recipient FROM notification_outbox WHERE order_no = $1 AND kind LIKE 'appeal%'"
            " ORDER BY kind, recipient",
            no,
        )
        assert [(r["kind"], r["recipient"]) for r in rows] == [
            ("appeal_unanswered", "center"),
            ("appeal_unanswered", "dept-hotline"),
            ("appeal_wait_warning", "center"),
            ("appeal_wait_warning", "dept-hotline"),
        ]


class TestTimers:
    async def test_late_arrival_marks_missed_windows_at_once(self, env: tuple[WorkflowEnvironment, str]) -> None:
        """An order transferred long ago: its receipt window is marked warned and overdue at start; the
        completion has not started (it runs from the dispatch to a unit)."""
        d, _, _ = await _start(env, dispatched_at=(datetime.fromisoformat("2026-03-06T09:00:00+08:00")).isoformat())
        s = await d.status()
        assert "receipt_late" in s.flags
        assert "completion" not in s.deadlines
        assert s.deadlines["receipt"].overdue_since == s.deadlines["receipt"].due
        s = await d.do("receive", PLATFORM)
        assert "receipt_late" in s.flags
        assert s.deadlines["receipt"].met_at is not None

    async def test_receipt_warning_and_escalation_at_their_instants(
        self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool
    ) -> None:
        """The receipt warning fires at 80% of the window, the escalation at its end, to the platform
        and its supervising department."""
        e = env[0]
        d, no, _ = await _start(env, tier="extra_urgent")
        s = await d.status()
        r = s.deadlines["receipt"]
        assert r.warn_at == r.start + (r.due - r.start) * 0.8
        await e.sleep(r.warn_at - await e.get_current_time() - timedelta(seconds=5))
        s = await d.status()
        assert s.deadlines["receipt"].warned_at is None
        await e.sleep(timedelta(seconds=10))
        s = await d.status()
        warned = s.deadlines["receipt"].warned_at
        assert warned is not None
        assert r.warn_at <= warned <= r.warn_at + timedelta(seconds=10)
        await e.sleep(r.due - await e.get_current_time() + timedelta(seconds=5))
        s = await d.status()
        assert s.deadlines["receipt"].overdue_since == r.due
        assert "receipt_late" in s.flags
        rows = await pool.fetch(
            "SELECT recipient FROM notification_outbox"
            " WHERE order_no = $1 AND kind = 'receipt_overdue' ORDER BY recipient",
            no,
        )
        assert [x["recipient"] for x in rows] == ["center", "dept-hotline"]

    async def test_dispatch_reminder_and_escalation(
        self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool
    ) -> None:
        """Received, never dispatched: a reminder to the platform, an escalation to its supervising
        department one window later, then reminders; none of it is lateness."""
        e = env[0]
        d, no, _ = await _start(env, tier="extra_urgent")
        s = await d.do("receive", PLATFORM)
        dispatch = s.deadlines["dispatch"]
        assert dispatch.warn_at == dispatch.start + timedelta(hours=1)
        assert dispatch.due == dispatch.start + timedelta(hours=2)
        await e.sleep(dispatch.due - await e.get_current_time() + timedelta(days=3))
        s = await d.status()
        assert not any(f.startswith("dispatch") for f in s.flags)
        assert s.deadlines["dispatch"].reminders >= 1
        rows = await pool.fetch(
            "SELECT kind, recipient FROM notification_outbox WHERE order_no = $1 AND kind LIKE 'dispatch%'"
            " ORDER BY seq, recipient",
            no,
        )
        kinds_sent = [(r["kind"], r["recipient"]) for r in rows]
        assert kinds_sent[:3] == [
            ("dispatch_reminder", "center"),
            ("dispatch_escalation", "center"),
            ("dispatch_escalation", "dept-hotline"),
        ]
        assert ("dispatch_reminder", "dept-hotline") in kinds_sent[3:]


class TestCalendarChange:
    async def test_an_announced_year_recomputes_unconfirmed_deadlines(
        self, env: tuple[WorkflowEnvironment, str], pool: asyncpg.Pool
    ) -> None:
        """An order whose completion falls in a year the calendar did not know is recomputed when
        that year is entered, and records the old and the new instant."""
        e = env[0]
        now = await e.get_current_time()
        target = datetime(now.year, 12, 30, 10, 0, tzinfo=SHANGHAI)
        if target <= now:
            target = target.replace(year=now.year + 1)
        await e.sleep(target - now + timedelta(seconds=1))
        d, _, _ = await _start(env, dispatched_at=target.isoformat())
        s = await d.to_handling()
        before = s.deadlines["completion"]
        assert before.calendar_confirmed is False
        assert "calendar_unconfirmed" in s.flags
        year = target.year + 1
        holidays = {date(year, 1, day): "元旦（测试）" for day in range(1, 8)}
        await calendar_store.import_year(
            pool,
            CalendarFile(calendar=CalendarYear(year=year, holidays=holidays), source="test"),
            entered_by="test",
        )
        await d.handle.signal("calendar_changed", {"years": [year]})
        for _ in range(100):
            s = await d.status()
            if "deadline_recomputed" in _kinds(s):
                break
            await asyncio.sleep(0.05)
        after = s.deadlines["completion"]
        assert after.calendar_confirmed is True
        assert after.due > before.due
        assert "calendar_unconfirmed" not in s.flags
        entry = next(x for x in s.timeline if x.kind == "deadline_recomputed")
        assert before.due.isoformat(timespec="minutes") in entry.detail
        assert after.due.isoformat(timespec="minutes") in entry.detail
