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

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from starter.codec import KeyRing
from starter.connection import data_converter
from workflows.doubtful_order import DoubtfulOrder
from workflows.work_order import WorkOrder

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_of_every_path() -> None:
    """The recorded set covers the lifecycle's paths (one file per order)."""
    names = {p.name for p in HISTORIES}
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
        assert any(n.startswith(path) for n in names), f"no recorded history for {path}"


def test_there_are_histories_of_every_doubtful_order_path() -> None:
    """The recorded set covers the doubtful order's paths (`DoubtfulOrder-` files)."""
    names = {p.name.removeprefix("DoubtfulOrder-") for p in HISTORIES if p.name.startswith("DoubtfulOrder-")}
    for path in (
        "test_answer_on_time_completes_and_reaches_the_hotline_outbox",
        "test_warning_and_overdue_fire_at_their_instants",
        "test_reassign_then_the_new_unit_answers",
        "test_refused_updates_leave_no_trace_and_signals_are_kept",
    ):
        assert any(n.startswith(path) for n in names), f"no recorded DoubtfulOrder history for {path}"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replays_deterministically(path: Path, keyring: KeyRing) -> None:
    """The current code makes the same commands as the code that wrote the history."""
    history = WorkflowHistory.from_json(path.stem, _read(path))
    # the history names its workflow type: `DoubtfulOrder-*` files replay on DoubtfulOrder
    replayer = Replayer(workflows=[WorkOrder, DoubtfulOrder], data_converter=data_converter(keyring))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
