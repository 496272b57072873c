"""The shell every action-driven workflow shares: a `domain.machine.Machine` wired to Temporal.

`WorkOrder` (an order) and `DoubtfulOrder` (a doubtful order) are this shell around their machine:

- one Update (with a validator) and one Signal per action of the machine, sharing one
  implementation: a refused Update fails with `ApplicationError(type=<refusal kind>)` and leaves no
  trace in history; a refused Signal is kept among the machine's rejected actions;
- the wait-for-the-next-timer loop: sleep until the machine's next deadline event, named for the
  Web UI, waking early for any change;
- the idempotent record activity after every change (projection, timeline, outboxes), called by
  reference;
- search attributes and the current details, upserted only when they change;
- continue-as-new when the history grows long (a flood of signals, an order that lives for
  months): the machine's snapshot is the new run's input, everything already written stays written,
  and the records keep one key for the whole chain (the first run's id).

Handlers take plain JSON (``Any``) rather than models on purpose: any Temporal client can send
anything, and a payload that does not fit must become a precise refusal, never a workflow task
that fails to decode and stalls.

A workflow class subclasses `ActionWorkflow`, names its machine's input model and actions, and
fills in the hooks: how the machine starts, what it records, what the UI shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Generic, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

from workflows import metrics

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from activities.orders import OrderActivities
    from domain.calendar import SHANGHAI, BusinessCalendar
    from domain.contract import STATUS_QUERY
    from domain.errors import INVALID_ORDER, InvalidOrder, RefusalKind, Rejected
    from domain.machine import Machine, MachineSnapshot, parse_action
    from domain.models import Action, describe_validation_error
    from domain.records import CalendarRequest, CalendarYears, MachineRecord, NumberedEntry

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Transient faults (the database restarting) are retried until they pass: nothing is lost.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))

M = TypeVar("M", bound=Machine)

#: The input key of a run that continues an earlier one (continue-as-new): the machine's snapshot.
#: Starters never send it; the contract's input is the `NewOrder` (`NewInquiry`) itself.
CONTINUED: Final = "continued"
#: Continue as new at this many history events even if the server has not suggested it yet
#: (Temporal's hard limit is 51,200 events; the suggestion comes earlier).
HISTORY_EVENTS_LIMIT: Final = 10_000


def now() -> datetime:
    """The workflow's clock in Asia/Shanghai: every instant the contract shows is +08:00."""
    return workflow.now().astimezone(SHANGHAI)


def refusal(err: Rejected) -> ApplicationError:
    """A domain refusal at the Temporal edge: its kind is the error's type; never retried."""
    return ApplicationError(str(err), type=err.kind.value, non_retryable=True)


class ActionWorkflow(Generic[M]):
    """Base of the action-driven workflows. Subclasses set the class attributes and fill the hooks."""

    #: The workflow's input model (validated in `__init__`; a refusal fails the workflow at start).
    input_model: ClassVar[type[BaseModel]]
    #: The machine's actions: name -> payload model (each becomes an Update and a Signal).
    actions: ClassVar[Mapping[str, type[Action]]]
    #: The machine's snapshot model (the input of a continued run).
    snapshot_model: ClassVar[type[MachineSnapshot]]
    #: What the machine is called in refusals ("order", "inquiry").
    noun: ClassVar[str] = "order"

    @workflow.init
    def __init__(self, raw: Any) -> None:
        """Validate the input and register a handler per action before any message arrives."""
        self._new: Any = None
        self._invalid: str | None = None
        self._snapshot: Any = None
        try:
            if isinstance(raw, dict) and CONTINUED in raw and workflow.info().continued_run_id:
                # only a run continuing an earlier one takes a snapshot; a starter's input is the record
                self._snapshot = self.snapshot_model.model_validate(raw[CONTINUED])
                self._new = self._snapshot.new
            else:
                self._new = self.input_model.model_validate(raw)
        except ValidationError as err:
            self._invalid = f"{self.input_model.__name__} refused: {describe_validation_error(err)}"
        self._machine: M | None = None
        self._written_revision = -1
        self._written_entries = 0
        self._written_outbox = 0
        self._search: dict[str, Any] = {}
        self._details = ""
        for name in self.actions:
            workflow.set_update_handler(name, self._update_handler(name), validator=self._validator(name))
            workflow.set_signal_handler(name, self._signal_handler(name))

    # -- hooks ----------------------------------------------------------------------------------

    async def _start(self, new: Any) -> M:
        """Build the machine from the accepted input (load what it needs first)."""
        raise NotImplementedError

    async def _resume(self, snapshot: Any) -> M:
        """Rebuild the machine of an earlier run from its snapshot (continue-as-new)."""
        raise NotImplementedError

    async def _after_wake(self, machine: M) -> None:
        """Anything to do after the machine woke (a timer fired or something changed)."""

    def _woken(self) -> bool:
        """Whether something besides the machine's revision should end the wait early."""
        return False

    def _record(self, machine: M, base: dict[str, Any]) -> tuple[Callable[..., Any], MachineRecord, str]:
        """The record activity (by reference), its input built on ``base``, and its summary."""
        raise NotImplementedError

    def _search_attributes(self, machine: M) -> list[tuple[str, SearchAttributeKey[Any], Any]]:
        """(name, key, value) of every search attribute the machine keeps current, in order.

        An empty list value unsets the attribute; ``None`` leaves it as it is.
        """
        raise NotImplementedError

    def _details_text(self, machine: M) -> str:
        """The current details (Markdown) the Web UI shows."""
        raise NotImplementedError

    def _preliminary_status(self, new: Any) -> Any:
        """The `status` answer while the machine is being set up (its calendar loads)."""
        raise NotImplementedError

    # -- run ------------------------------------------------------------------------------------

    async def _run_machine(self) -> Any:
        """Start the machine, then follow actions and timers until it closes; return its status."""
        if self._snapshot is not None:
            self._machine = machine = await self._resume(self._snapshot)
            # what the earlier runs wrote stays written; the first write here adds what they had not
            self._written_entries = self._snapshot.timeline_written
        else:
            new = self._accept_or_fail()
            self._machine = machine = await self._start(new)
            metrics.started()
        while True:
            await self._write()
            if machine.closed:
                break
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not machine.closed:
                    self._continue_as_new(machine)
                continue
            if machine.revision != self._written_revision:
                continue  # more changed while the last record was written: write that first
            await self._wait(machine)
            await self._after_wake(machine)
        await workflow.wait_condition(workflow.all_handlers_finished)
        while self._written_revision < machine.revision:  # signals refused after the close included
            await self._write()
        metrics.closed(machine)
        return machine.status()  # type: ignore[attr-defined]

    @staticmethod
    def _history_is_long() -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= HISTORY_EVENTS_LIMIT

    def _continue_as_new(self, machine: M) -> NoReturn:
        """Carry the whole machine into a new run (every handler has finished; nothing is lost: what
        was not written yet goes along and the new run writes it first)."""
        snapshot = machine.snapshot(  # type: ignore[attr-defined]
            entries_written=self._written_entries, outbox_written=self._written_outbox
        )
        workflow.logger.info("machine.continue_as_new", extra={"revision": machine.revision})
        workflow.continue_as_new({CONTINUED: snapshot.model_dump(mode="json")})

    async def _wait(self, machine: M) -> None:
        """Sleep until the next deadline event, waking early for any change."""
        revision = machine.revision
        nxt = machine.next_timer()

        def changed() -> bool:
            return machine.revision != revision or self._woken()

        if nxt is None:
            await workflow.wait_condition(changed)
            return
        at, label = nxt
        seconds = (at - workflow.now()).total_seconds()
        if seconds > 0:
            try:
                await workflow.wait_condition(changed, timeout=seconds, timeout_summary=label)
                return
            except TimeoutError:
                pass
        machine.fire_due(now())

    def _accept_or_fail(self) -> Any:
        name = self.input_model.__name__
        if self._new is None:
            raise ApplicationError(self._invalid or f"{name} refused", type=INVALID_ORDER, non_retryable=True)
        try:
            self._new.check_arrival(now())
        except InvalidOrder as err:
            raise ApplicationError(f"{name} refused: {err}", type=INVALID_ORDER, non_retryable=True) from None
        return self._new

    async def _load_calendar(self, years: list[int]) -> BusinessCalendar:
        loaded: CalendarYears = await workflow.execute_activity_method(
            OrderActivities.load_calendar_years,
            CalendarRequest(years=years),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="load the business calendar",
        )
        return BusinessCalendar.shared(loaded.years)

    # -- actions --------------------------------------------------------------------------------

    def _validator(self, name: str) -> Callable[[Any], None]:
        def validate(raw: Any) -> None:
            try:
                if self._machine is None:
                    # the machine is being set up (its calendar loads); check what can be checked
                    self._require_valid_start(name)
                    parse_action(name, self.actions[name], raw)
                    return
                self._machine.check(name, raw, now())
            except Rejected as err:
                metrics.refused(name, "update", err.kind.value)
                raise refusal(err) from None

        return validate

    def _update_handler(self, name: str) -> Callable[[Any], Any]:
        async def handle(raw: Any) -> Any:
            machine = await self._ready()
            try:
                machine.act(name, raw, now())
            except Rejected as err:  # only when it arrived while the machine was being set up
                metrics.refused(name, "update", err.kind.value)
                raise refusal(err) from None
            metrics.accepted(name, "update")
            return machine.status()  # type: ignore[attr-defined]

        return handle

    def _signal_handler(self, name: str) -> Callable[[Any], Any]:
        async def handle(raw: Any) -> None:
            if self._new is None:
                return  # the workflow fails at start; nothing to record on
            machine = await self._ready()
            try:
                machine.act(name, raw, now())
                metrics.accepted(name, "signal")
            except Rejected as err:
                machine.reject(name, raw, str(err), now())
                metrics.refused(name, "signal", err.kind.value)
                workflow.logger.info("action.rejected", extra={"action": name, "kind": err.kind.value})

        return handle

    async def _ready(self) -> M:
        self._require_valid_start("action")
        await workflow.wait_condition(lambda: self._machine is not None)
        assert self._machine is not None
        return self._machine

    def _require_valid_start(self, name: str) -> None:
        if self._new is None:
            raise Rejected(
                f"{name} refused: the {self.noun} itself was refused at start ({self._invalid})",
                RefusalKind.ORDER_REFUSED,
            )

    # -- queries --------------------------------------------------------------------------------

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> Any:
        """The machine as it stands (before it is set up: what is known already)."""
        if self._machine is not None:
            return self._machine.status()  # type: ignore[attr-defined]
        if self._new is None:
            raise ApplicationError(
                self._invalid or f"{self.input_model.__name__} refused", type=RefusalKind.ORDER_REFUSED.value
            )
        return self._preliminary_status(self._new)

    # -- writing --------------------------------------------------------------------------------

    async def _write(self) -> None:
        """Write what changed since the last record (one idempotent activity); refresh what the UI shows.

        One record per call, however much changes meanwhile: the run loop calls again, so it never
        stops looking at its timers or its history's length while actions keep arriving.
        """
        machine = self._machine
        assert machine is not None
        self._show(machine)
        if self._written_revision >= machine.revision:
            return
        revision = machine.revision
        start, ostart = self._written_entries, self._written_outbox
        entries = [NumberedEntry(seq=i, entry=e) for i, e in enumerate(machine.timeline[start:], start=start)]
        outbox = machine.outbox[ostart:]
        metrics.timeline(n.entry for n in entries)
        info = workflow.info()
        base = {
            # one key for the whole chain of runs (continue-as-new keeps the first run's id)
            "run_id": info.first_execution_run_id,
            "workflow_id": info.workflow_id,
            "revision": revision,
            "entries": entries,
            "outbox": outbox,
        }
        activity, record, summary = self._record(machine, base)
        await workflow.execute_activity_method(
            activity,
            record,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=summary,
        )
        self._written_revision = revision
        self._written_entries = start + len(entries)
        self._written_outbox = ostart + len(outbox)
        self._show(machine)

    def _show(self, machine: M) -> None:
        """Search attributes and current details, upserted only when they changed."""
        updates: list[SearchAttributeUpdate[Any]] = []
        for name, key, value in self._search_attributes(machine):
            if self._search.get(name, object()) == value:
                continue
            self._search[name] = value
            if isinstance(value, list) and not value:
                updates.append(key.value_unset())
            elif value is not None:
                updates.append(key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
        details = self._details_text(machine)
        if details != self._details:
            self._details = details
            workflow.set_current_details(details)
