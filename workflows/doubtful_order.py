"""`DoubtfulOrder`: the city hotline asks a unit for a professional answer (Article 7.3).

The rules live in `domain.inquiry.Inquiry`; this class wires them to Temporal as `WorkOrder` does:
one Update (with a validator) and one Signal per action (`answer`, `reassign`), sharing one
implementation; the `status` query; named timers (`reply warning`, `reply deadline`); search
attributes and current details for the Web UI; and the `record_inquiry` activity, which writes the
projection, timeline and outboxes. The workflow completes once the answer is written.

Handlers take plain JSON objects (``dict``) for the reason `workflows.work_order` gives: a payload
that does not fit must become a precise refusal, never a workflow task that fails to decode.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from domain.calendar import SHANGHAI, BusinessCalendar
    from domain.errors import INVALID_ORDER, REJECTED, InvalidOrder, Rejected
    from domain.inquiry import INQUIRY_ACTIONS, Inquiry, InquiryPhase, InquiryRecord, InquiryStatus, NewInquiry
    from domain.lifecycle import parse_action
    from domain.models import DeadlineState, describe_validation_error
    from domain.records import CalendarRequest, CalendarYears, NumberedEntry
    from domain.rulebook import rulebook_for
    from workflows import search_attributes as sa

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Transient faults (the database restarting) are retried until they pass: nothing is lost.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


def _now() -> datetime:
    """The workflow's clock in Asia/Shanghai: every instant the contract shows is +08:00."""
    return workflow.now().astimezone(SHANGHAI)


def _calendar_years(asked_at: datetime) -> list[int]:
    """The years whose calendar the reply window may need: the year asked and the next."""
    y = asked_at.astimezone(SHANGHAI).year
    return [y, y + 1]


@workflow.defn(name="DoubtfulOrder")
class DoubtfulOrder:
    """One doubtful order, from the question to the written answer."""

    @workflow.init
    def __init__(self, raw: dict[str, Any]) -> None:
        """Validate the `NewInquiry` and register a handler per action before any message arrives."""
        self._new: NewInquiry | None = None
        self._invalid: str | None = None
        try:
            self._new = NewInquiry.model_validate(raw)
        except ValidationError as err:
            self._invalid = f"NewInquiry refused: {describe_validation_error(err)}"
        self._inquiry: Inquiry | None = None
        self._written_revision = -1
        self._written_entries = 0
        self._written_outbox = 0
        self._search: dict[str, Any] = {}
        self._details = ""
        for name in INQUIRY_ACTIONS:
            workflow.set_update_handler(name, self._update_handler(name), validator=self._validator(name))
            workflow.set_signal_handler(name, self._signal_handler(name))

    # -- run ------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> InquiryStatus:
        """Bind the rulebook and calendar, then follow actions and timers until the answer is written."""
        new = self._accept_or_fail()
        rulebook = rulebook_for(new.asked_at)
        calendar = await self._load_calendar(new.asked_at)
        self._inquiry = inquiry = Inquiry(new, rulebook, calendar, _now())
        while True:
            await self._write()
            if inquiry.phase is InquiryPhase.ANSWERED:
                break
            await self._wait(inquiry)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._write()
        return inquiry.status()

    async def _wait(self, inquiry: Inquiry) -> None:
        """Sleep until the next deadline event, waking early for any change."""
        revision = inquiry.revision
        nxt = inquiry.next_timer()

        def changed() -> bool:
            return inquiry.revision != revision

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
        inquiry.fire_due(_now())

    def _accept_or_fail(self) -> NewInquiry:
        if self._new is None:
            raise ApplicationError(self._invalid or "NewInquiry refused", type=INVALID_ORDER, non_retryable=True)
        try:
            self._new.check_arrival(_now())
        except InvalidOrder as err:
            raise ApplicationError(f"NewInquiry refused: {err}", type=INVALID_ORDER, non_retryable=True) from None
        return self._new

    async def _load_calendar(self, asked_at: datetime) -> BusinessCalendar:
        years: CalendarYears = await workflow.execute_activity(
            "load_calendar_years",
            CalendarRequest(years=_calendar_years(asked_at)),
            result_type=CalendarYears,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="load the business calendar",
        )
        return BusinessCalendar(years.years)

    # -- actions --------------------------------------------------------------------------------

    def _validator(self, name: str) -> Callable[[dict[str, Any]], None]:
        def validate(raw: dict[str, Any]) -> None:
            try:
                if self._inquiry is None:
                    # the inquiry is being set up (its calendar loads); check what can be checked
                    self._require_valid_start(name)
                    parse_action(name, INQUIRY_ACTIONS[name], raw)
                    return
                self._inquiry.check(name, raw, _now())
            except Rejected as err:
                raise ApplicationError(str(err), type=REJECTED, non_retryable=True) from None

        return validate

    def _update_handler(self, name: str) -> Callable[[dict[str, Any]], Any]:
        async def handle(raw: dict[str, Any]) -> InquiryStatus:
            inquiry = await self._ready()
            try:
                inquiry.act(name, raw, _now())
            except Rejected as err:  # only when it arrived while the inquiry was being set up
                raise ApplicationError(str(err), type=REJECTED, non_retryable=True) from None
            return inquiry.status()

        return handle

    def _signal_handler(self, name: str) -> Callable[[dict[str, Any]], Any]:
        async def handle(raw: dict[str, Any]) -> None:
            if self._new is None:
                return  # the workflow fails at start; nothing to record on
            inquiry = await self._ready()
            try:
                inquiry.act(name, raw, _now())
            except Rejected as err:
                inquiry.reject(name, raw, str(err), _now())
                workflow.logger.info("action.rejected", extra={"action": name})

        return handle

    async def _ready(self) -> Inquiry:
        self._require_valid_start("action")
        await workflow.wait_condition(lambda: self._inquiry is not None)
        assert self._inquiry is not None
        return self._inquiry

    def _require_valid_start(self, name: str) -> None:
        if self._new is None:
            raise Rejected(f"{name} refused: the inquiry itself was refused at start ({self._invalid})")

    # -- queries --------------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> InquiryStatus:
        """The inquiry as it stands."""
        if self._inquiry is not None:
            return self._inquiry.status()
        if self._new is None:
            raise ApplicationError(self._invalid or "NewInquiry refused", type=INVALID_ORDER)
        n = self._new  # its calendar is still loading: what is known already
        return InquiryStatus(
            inquiry_no=n.inquiry_no,
            unit=n.unit,
            order_no=n.order_no,
            question=n.question,
            asked_at=n.asked_at,
            rulebook=rulebook_for(n.asked_at).id,
            phase=InquiryPhase.AWAITING_ANSWER,
            waiting_for="its reply deadline: the inquiry is being set up (loading the business calendar)",
            deadline=DeadlineState(
                kind="reply",
                label="reply deadline",
                start=n.asked_at,
                due=n.asked_at,
                explanation="not computed yet: the business calendar is loading",
                calendar_confirmed=False,
            ),
        )

    # -- writing --------------------------------------------------------------------------------

    async def _write(self) -> None:
        """Write projection, timeline and outbox (idempotent activity); refresh what the UI shows."""
        inquiry = self._inquiry
        assert inquiry is not None
        self._show(inquiry)
        while self._written_revision < inquiry.revision:
            revision = inquiry.revision
            start, ostart = self._written_entries, self._written_outbox
            entries = [NumberedEntry(seq=i, entry=e) for i, e in enumerate(inquiry.timeline[start:], start=start)]
            outbox = inquiry.outbox[ostart:]
            info = workflow.info()
            await workflow.execute_activity(
                "record_inquiry",
                InquiryRecord(
                    run_id=info.run_id,
                    workflow_id=info.workflow_id,
                    revision=revision,
                    inquiry=inquiry.new,
                    status=inquiry.status(),
                    entries=entries,
                    outbox=outbox,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=f"record revision {revision}",
            )
            self._written_revision = revision
            self._written_entries = start + len(entries)
            self._written_outbox = ostart + len(outbox)
            self._show(inquiry)

    def _show(self, inquiry: Inquiry) -> None:
        """Search attributes and current details, upserted only when they changed.

        The contract's attributes are reused with the inquiry's meaning (`OrderPhase`
        `awaiting_answer|answered`, `OrderUnits` the unit asked, `OrderFlags` `reply_late`,
        `CompletionDue` the reply deadline), so `WorkflowType = 'DoubtfulOrder' AND
        OrderFlags = 'reply_late'` finds every late inquiry.
        """
        wanted: dict[str, Any] = {
            "phase": inquiry.phase.value,
            "units": [inquiry.unit],
            "flags": list(inquiry.flags),
            "due": inquiry.deadline.due,
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for name, value in wanted.items():
            if self._search.get(name, object()) == value:
                continue
            self._search[name] = value
            match name:
                case "phase":
                    updates.append(sa.ORDER_PHASE.value_set(value))
                case "units":
                    updates.append(sa.ORDER_UNITS.value_set(value))
                case "flags":
                    updates.append(sa.ORDER_FLAGS.value_set(value) if value else sa.ORDER_FLAGS.value_unset())
                case "due":
                    updates.append(sa.COMPLETION_DUE.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
        details = self._details_text(inquiry)
        if details != self._details:
            self._details = details
            workflow.set_current_details(details)

    @staticmethod
    def _details_text(inquiry: Inquiry) -> str:
        n = inquiry.new
        about = f" · order {n.order_no}" if n.order_no else ""
        lines = [
            f"**doubtful order{about} · {inquiry.unit}**",
            "",
            f"Phase `{inquiry.phase.value}`: waits for {inquiry.waiting_for()}.",
        ]
        if inquiry.flags:
            lines.append(f"Flags: {', '.join(inquiry.flags)}.")
        d = inquiry.deadline
        if d.met_at is None:
            state = "OVERDUE" if d.overdue_since else ("warned" if d.warned_at else "open")
            lines.append(f"- {d.label}: due {d.due.isoformat(timespec='minutes')} ({state}) — {d.explanation}")
        return "\n".join(lines)
