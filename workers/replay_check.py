"""Replay the histories of running orders against this release's workflow code (`hotline replay-check`).

A release changes `WorkOrder` while orders that started weeks ago still run: once deployed, the new
worker replays each such order from its history, and a change that makes different commands than the
history recorded (a timer where an activity was, an activity of another type, a patch marker the code
no longer asks for) fails that order's workflow tasks. This check finds it before the deploy: it
lists the running workflows of the task queue on the configured cluster (all, or a random sample,
narrowed by a visibility query), downloads their histories and replays each with
`temporalio.worker.Replayer`, the project's workflows and its data converter (payloads decrypted with
the key ring). A history that does not replay is named with its workflow id, run id and the first
event where the code and the history part ways.

Where the SDK's words name the event (``HistoryEvent(id: 74, …)``) that is the event; otherwise the
history is replayed in prefixes, one workflow task more each time (a binary search), to find the
first workflow task whose recorded commands the code does not make: its first command event.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.worker import Replayer

from workers.worker import WORKFLOWS

#: The workflows a check looks at unless told otherwise: those that run now.
RUNNING: Final = "ExecutionStatus = 'Running'"
#: Histories downloaded ahead of the replay.
PREFETCH: Final = 8

_quiet: list[Runtime] = []


def _replay_runtime() -> Runtime:
    """A runtime whose core logs errors only: a history that does not replay is reported here, in
    one line, rather than as the core's warning for each workflow task it fails."""
    if not _quiet:
        quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
        _quiet.append(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet))))
    return _quiet[0]


@dataclass(frozen=True)
class Divergence:
    """One history this release cannot replay: where it parts ways with the code, and the SDK's words."""

    workflow_id: str
    run_id: str
    workflow_type: str
    event_id: int | None
    event: str
    reason: str

    def line(self) -> str:
        """One line for a person or a pipeline log."""
        where = f"event {self.event_id} {self.event}" if self.event_id is not None else "an unknown event"
        return f"{self.workflow_id} (run {self.run_id}, {self.workflow_type}): diverges at {where}: {self.reason}"


@dataclass
class ReplayReport:
    """What a check found."""

    query: str
    matched: int = 0
    replayed: int = 0
    divergences: list[Divergence] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.divergences

    def summary(self) -> str:
        sample = f" (a sample of {self.replayed} of {self.matched})" if self.replayed < self.matched else ""
        if self.ok:
            return (
                f"replay-check: {self.replayed} histories{sample} replay on this release's code, "
                f"none diverges (query: {self.query})"
            )
        return (
            f"replay-check: {len(self.divergences)} of {self.replayed} histories{sample} diverge from this "
            f"release's code (query: {self.query}); do not deploy it as is (workflow.patched: docs/operations.md)"
        )


def visibility_query(task_queue: str, query: str = "", *, include_closed: bool = False) -> str:
    """The visibility query of a check: the task queue's workflows, running ones only unless told,
    narrowed by ``query``."""
    parts = [f"TaskQueue = '{task_queue}'"]
    if not include_closed:
        parts.append(RUNNING)
    if query.strip():
        parts.append(f"({query.strip()})")
    return " AND ".join(parts)


async def _executions(
    client: Client, query: str, sample: int | None, seed: int | None
) -> tuple[int, list[tuple[str, str]]]:
    """(how many matched, the (workflow id, run id) to check): all, or a uniform sample of ``sample``."""
    rng = random.Random(seed)
    chosen: list[tuple[str, str]] = []
    matched = 0
    async for wf in client.list_workflows(query):
        matched += 1
        item = (wf.id, wf.run_id)
        if sample is None or len(chosen) < sample:
            chosen.append(item)
        else:  # reservoir sampling: every execution equally likely, whatever their number
            j = rng.randrange(matched)
            if j < sample:
                chosen[j] = item
    return matched, chosen


async def _histories(client: Client, executions: Sequence[tuple[str, str]]) -> AsyncIterator[WorkflowHistory]:
    """The executions' histories, downloaded a few ahead of the replay."""
    queue: asyncio.Queue[asyncio.Task[WorkflowHistory] | None] = asyncio.Queue(maxsize=PREFETCH)

    async def produce() -> None:
        for workflow_id, run_id in executions:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            await queue.put(asyncio.create_task(handle.fetch_history()))
        await queue.put(None)

    producer = asyncio.create_task(produce())
    try:
        while (task := await queue.get()) is not None:
            yield await task
    finally:
        producer.cancel()


def _reason(failure: BaseException) -> str:
    text = str(failure)
    said = re.search(r'message: "((?:[^"\\]|\\.)*)"', text)
    return re.sub(r"\s+", " ", said.group(1) if said else text.splitlines()[0] if text else type(failure).__name__)


def _describe(event: HistoryEvent) -> str:
    kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if event.HasField("activity_task_scheduled_event_attributes"):
        return f"{kind} ({event.activity_task_scheduled_event_attributes.activity_type.name})"
    if event.HasField("timer_started_event_attributes"):
        return f"{kind} (timer {event.timer_started_event_attributes.timer_id})"
    if event.HasField("marker_recorded_event_attributes"):
        patch = _patch_of(event)
        name = event.marker_recorded_event_attributes.marker_name
        return f"{kind} ({name} {patch})" if patch else f"{kind} ({name})"
    return kind


async def _replays(replayer: Replayer, history: WorkflowHistory, events: Sequence[HistoryEvent]) -> bool:
    result = await replayer.replay_workflow(
        WorkflowHistory(history.workflow_id, list(events)), raise_on_replay_failure=False
    )
    return result.replay_failure is None


#: Events a workflow task's commands become (updates' protocol messages are not among them).
_COMMAND_EVENTS: Final = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_TIMER_CANCELED,
        EventType.EVENT_TYPE_MARKER_RECORDED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)


async def _diverging_task(replayer: Replayer, history: WorkflowHistory) -> list[HistoryEvent]:
    """The events from the first workflow task whose commands the code does not make again.

    A prefix of the history that ends at a workflow task's start checks every task before it; the
    first failing prefix is found by binary search, and the task it checked last is the one.
    """
    events = list(history.events)
    starts = [i for i, e in enumerate(events) if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]
    lo, hi = 0, len(starts)  # prefixes up to starts[lo - 1] replay; the whole history does not
    while lo < hi:
        mid = (lo + hi) // 2
        if await _replays(replayer, history, events[: starts[mid] + 1]):
            lo = mid + 1
        else:
            hi = mid
    return events[starts[lo - 1] if lo >= 1 else 0 :]


def _patch_of(event: HistoryEvent) -> str | None:
    if not event.HasField("marker_recorded_event_attributes"):
        return None
    patch = event.marker_recorded_event_attributes.details.get("patch-data")
    if patch is None or not patch.payloads:
        return None
    try:
        found = json.loads(patch.payloads[0].data)["id"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(found)


async def _first_diverging_event(replayer: Replayer, history: WorkflowHistory, reason: str) -> HistoryEvent | None:
    """The event where the code and the history part ways: the one the SDK names, the patch marker it
    names, or else the first command event of the first workflow task that does not replay."""
    named = re.search(r"HistoryEvent\(id: (\d+)", reason)
    if named:
        by_id = {e.event_id: e for e in history.events}
        if int(named.group(1)) in by_id:
            return by_id[int(named.group(1))]
    task = await _diverging_task(replayer, history)
    patch = re.search(r"patch marker encountered for change ([^,]+),", reason)
    for event in task:
        if patch and _patch_of(event) == patch.group(1):
            return event
    return next((e for e in task if e.event_type in _COMMAND_EVENTS), task[0] if task else None)


async def _divergence(replayer: Replayer, history: WorkflowHistory, failure: BaseException) -> Divergence:
    first = history.events[0] if history.events else None
    workflow_type = (
        first.workflow_execution_started_event_attributes.workflow_type.name
        if first is not None and first.HasField("workflow_execution_started_event_attributes")
        else "?"
    )
    reason = _reason(failure)
    event = await _first_diverging_event(replayer, history, reason)
    return Divergence(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        workflow_type=workflow_type,
        event_id=event.event_id if event is not None else None,
        event=_describe(event) if event is not None else "",
        reason=reason,
    )


async def replay_check(
    client: Client,
    *,
    task_queue: str,
    query: str = "",
    include_closed: bool = False,
    sample: int | None = None,
    seed: int | None = None,
    workflows: Sequence[type] = WORKFLOWS,
) -> ReplayReport:
    """Replay the matching workflows' histories against ``workflows`` (this release's, by default).

    Args:
        client: The cluster (its data converter decodes the histories: the project's, with the keys).
        task_queue: Whose workflows.
        query: A visibility query narrowing them (e.g. ``WorkflowType = 'WorkOrder'``).
        include_closed: Closed workflows too (by default only running ones, the ones a deploy touches).
        sample: Replay a uniform random sample of this many (default: all).
        seed: The sample's seed (a repeatable sample).
        workflows: The workflow classes to replay on.
    """
    full = visibility_query(task_queue, query, include_closed=include_closed)
    report = ReplayReport(query=full)
    report.matched, executions = await _executions(client, full, sample, seed)
    replayer = Replayer(workflows=list(workflows), data_converter=client.data_converter, runtime=_replay_runtime())
    async with replayer.workflow_replay_iterator(_histories(client, executions)) as results:
        async for result in results:
            report.replayed += 1
            if result.replay_failure is not None:
                report.divergences.append(await _divergence(replayer, result.history, result.replay_failure))
    return report
