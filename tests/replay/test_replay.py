"""Recorded histories of every lifecycle path, replayed against the current workflow code.

A change to `WorkOrder` or `domain.order` that would make running orders non-deterministic fails
here. Histories are recorded by running the lifecycle tests with `HOTLINE_RECORD_HISTORIES=1`;
a deliberate, patched change re-records them.
`DoubtfulOrder` histories (`DoubtfulOrder-*.json`, recorded the same way by
`tests/workflows/test_doubtful_order.py`) replay on `DoubtfulOrder` and guard `domain.inquiry`.

The replayer decodes with the project's converter: histories recorded before payload encryption
hold plain payloads, which the codec passes through; later ones are encrypted with the tests' fixed
key (`tests/conftest.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from domain.records import OrderRecord
from starter.codec import KeyRing
from starter.connection import data_converter
from workflows.doubtful_order import DoubtfulOrder
from workflows.work_order import WorkOrder

FOLDER = Path(__file__).parent / "histories"
HISTORIES = sorted(FOLDER.rglob("*.json"))
#: Orders recorded under lifecycle 1 (before the units' clock, result review and appeal window):
#: such orders still run and must finish as they started.
LIFECYCLE_1 = FOLDER / "lifecycle1"


def test_there_are_histories_of_every_path() -> None:
    """The recorded set covers the lifecycle's paths (one file per order), in both lifecycles."""
    old = {p.name for p in LIFECYCLE_1.glob("*.json")}
    for path in (
        "test_transfer_to_archive",
        "test_contributions_and_a_release",
        "test_return_inside_8_hours",
        "test_return_after_8_hours",
        "test_return_to_the_hotline",
        "test_approved_moves_the_deadline",
        "test_refused_keeps_the_deadline",
        "test_asked_too_late",
        "test_rehandling_then_satisfied",
        "test_dissatisfied_twice_then_appeal_True",
        "test_dissatisfied_twice_then_appeal_False",
        "test_withdrawal",
        "test_no_callback_after_the_wait",
        "test_late_arrival",
        "test_receipt_warning_and_escalation",
    ):
        assert any(n.startswith(path) for n in old), f"no recorded lifecycle-1 history for {path}"
    new = {p.name for p in FOLDER.glob("test_*.json")}
    for path in (
        "test_transfer_to_archive",
        "test_contributions_and_a_release",
        "test_return_inside_8_hours",
        "test_return_after_8_hours",
        "test_return_to_the_hotline",
        "test_sent_back_then_approved",
        "test_extra_urgent_handled_25_minutes_after_dispatch",
        "test_asked_on_time_forwarded_approved_late_met_on_time",
        "test_refused_keeps_the_deadline",
        "test_declined_by_the_platform",
        "test_asked_too_late",
        "test_rehandling_then_satisfied",
        "test_rehandling_then_appeal_True",
        "test_rehandling_then_appeal_False",
        "test_the_appeal_window_passes",
        "test_an_unanswered_appeal_closes",
        "test_withdrawal",
        "test_no_callback_after_the_wait",
        "test_late_arrival",
        "test_receipt_warning_and_escalation",
        "test_dispatch_reminder_and_escalation",
    ):
        assert any(n.startswith(path) for n in new), f"no recorded history for {path}"


def test_there_are_histories_of_every_doubtful_order_path() -> None:
    """The recorded set covers the doubtful order's paths (`DoubtfulOrder-` files)."""
    names = {p.name.removeprefix("DoubtfulOrder-") for p in FOLDER.glob("DoubtfulOrder-*.json")}
    # and as recorded before inquiries read their rulebook from the database (those still run)
    names &= {p.name.removeprefix("DoubtfulOrder-") for p in (FOLDER / "inquiry-shipped-rulebook").glob("*.json")}
    for path in (
        "test_answer_on_time_completes_and_reaches_the_hotline_outbox",
        "test_warning_and_overdue_fire_at_their_instants",
        "test_reassign_then_the_new_unit_answers",
        "test_refused_updates_leave_no_trace_and_signals_are_kept",
    ):
        assert any(n.startswith(path) for n in names), f"no recorded DoubtfulOrder history for {path}"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in HISTORIES])
async def test_replays_deterministically(path: Path, keyring: KeyRing) -> None:
    """The current code makes the same commands as the code that wrote the history."""
    history = WorkflowHistory.from_json(path.stem, _read(path))
    # the history names its workflow type: `DoubtfulOrder-*` files replay on DoubtfulOrder
    replayer = Replayer(workflows=[WorkOrder, DoubtfulOrder], data_converter=data_converter(keyring))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


class _KeepRecords(Interceptor):
    """Keeps the input of every record activity a replayed workflow schedules."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        records = self.records

        class Outbound(WorkflowOutboundInterceptor):
            def start_activity(self, input: StartActivityInput) -> Any:
                if input.activity == "record_order":
                    records.append(input.args[0])
                return super().start_activity(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound


def _same_life(record: OrderRecord) -> dict[str, Any]:
    """What must not change when a recorded order replays: what it wrote, and what decides its life."""
    s = record.status
    return {
        "revision": record.revision,
        "entries": [(n.seq, n.entry.at, n.entry.kind) for n in record.entries],
        "outbox": [(o.seq, o.channel, o.recipient, o.kind) for o in record.outbox],
        "phase": s.phase,
        "outcome": s.outcome,
        "flags": sorted(s.flags),
        "deadlines": {k: (d.due, d.warned_at, d.overdue_since, d.met_at, d.closed_at) for k, d in s.deadlines.items()},
        "units": s.units,
        "callbacks": [(c.round, c.verdict) for c in s.callbacks],
        "extensions": [(e.deadline, e.decision, e.approved_due) for e in s.extensions],
        "appeal": (s.appeal.upheld, s.appeal.decided_at) if s.appeal else None,
        "rehandling_round": s.rehandling_round,
    }


ORDER_HISTORIES = [p for p in HISTORIES if not p.name.startswith("DoubtfulOrder-")]


@pytest.mark.parametrize(
    "path", ORDER_HISTORIES, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in ORDER_HISTORIES]
)
async def test_a_recorded_order_writes_what_it_wrote(path: Path, keyring: KeyRing) -> None:
    """Orders keep the behaviour they started with: replayed, a recorded order writes the same rows.

    Every `record_order` the replay schedules is compared with the one its history holds: the
    timeline entries and outbox items by position (their rows are keyed by it), the phase, deadlines
    and flags. A change for new orders that would alter a running one fails here even when
    the commands match.
    """
    history = WorkflowHistory.from_json(path.stem, _read(path))
    converter = data_converter(keyring)
    recorded = [
        (await converter.decode(list(e.activity_task_scheduled_event_attributes.input.payloads), [OrderRecord]))[0]
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "record_order"
    ]
    keep = _KeepRecords()
    replayer = Replayer(workflows=[WorkOrder, DoubtfulOrder], data_converter=converter, interceptors=[keep])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None
    assert recorded, "the history records nothing"
    replayed = keep.records[: len(recorded)]
    assert [r.status.lifecycle for r in replayed] == [r.status.lifecycle for r in recorded]
    assert [_same_life(r) for r in replayed] == [_same_life(r) for r in recorded]
