"""The life of one order as a pure state machine (Articles 5-9; ``docs/rules.md``).

`Order` holds everything the `WorkOrder` workflow knows about an order. Time comes in as an
argument, deadlines come from `domain.deadlines` on the bound rulebook and the calendar the workflow
loaded, and every change is returned as data (`domain.machine`): timeline entries, outbox items
(notifications to orgs, messages to the city hotline), deadline changes. The workflow only wires
this to Temporal.

Phases (lifecycle 2, the current behaviour):

    awaiting_receipt -> received -> in_review -> in_handling -> result_review -> awaiting_callback -> closed

A refused review or the lead unit's return sends the order back to ``received``; the platform's
review of a result may send it back to the lead (``in_handling`` / ``rehandling``). A dissatisfied
verdict opens re-handling (``rehandling``) while the rulebook's rounds remain; after the last
dissatisfied verdict the order waits in ``appeal_window`` for the platform's appeal, without which
it closes ``dissatisfied``; an appeal waits in ``appealing`` for the city hotline's decision or the
appeal wait. Withdrawal closes it at any time; so does the callback wait. Every phase but
``closed`` has an armed timer.

Orders started before lifecycle 2 (lifecycle 1) keep the behaviour they started with: the
completion clock from the city hotline's transfer, results and extension requests straight to the
city hotline, an appeal only during re-handling, no reminders after a missed deadline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from domain import deadlines as dl
from domain.calendar import SHANGHAI, BusinessCalendar
from domain.contract import Flag
from domain.directory import ORGANISATIONS, can_handle
from domain.errors import RefusalKind, Rejected
from domain.machine import Machine, MachineSnapshot, cut, fmt, iso, require_phase, span
from domain.models import (
    ACTIONS,
    CONFIDENTIAL_NOTE,
    Action,
    AppealDecision,
    AppealRecord,
    Assignment,
    Callback,
    CallbackRecord,
    Contact,
    ContactReporter,
    Contribute,
    Contribution,
    ContributionView,
    DeadlineState,
    ExtensionDecision,
    ExtensionRecord,
    FileAppeal,
    ForwardExtension,
    Handler,
    HandlingOrder,
    NewOrder,
    OrderStatus,
    Outcome,
    Phase,
    Platform,
    ProposalRecord,
    Propose,
    Receive,
    ReleaseAssistingUnit,
    RequestExtension,
    ResultRecord,
    ReturnOrder,
    ReturnToHotline,
    Review,
    ReviewResult,
    Role,
    SubmitResult,
    UnitAction,
    UnitView,
    Verdict,
    Withdraw,
)
from domain.privacy import redact
from domain.rulebook import Rulebook

#: How far ahead of now a reported instant (a contact, a phone call) may lie: clock skew.
SKEW: Final = timedelta(minutes=5)

#: The platform's supervising department (Articles 4.3 and 5): who reviews proposals.
SUPERVISOR: Final[dict[Platform, str]] = {Platform.CENTER: "dept-hotline", Platform.UTILITIES: "utilities"}

HANDLING_PHASES: Final = {Phase.IN_HANDLING, Phase.REHANDLING}

#: The most an order's status may weigh (JSON bytes) after an action of a platform or a unit: a
#: fourth of Temporal's 2 MB payload limit, since an update's answer and a record share one 4 MB
#: workflow task. Text of actions beyond it is refused; the city hotline's actions never are (they
#: close the order). A real order weighs a few tens of kB.
STATUS_BUDGET: Final = 512 * 1024
#: The city hotline's actions: never refused for the order's weight; room is kept for them (and for
#: the timers' entries) below the budget.
_HOTLINE_ACTIONS: Final = frozenset({"extension_decision", "callback", "appeal_decision", "withdraw"})
_HOTLINE_ROOM: Final = 64 * 1024

#: The behaviour versions an order can be bound to at start (``docs/rules.md``, "Running orders").
LIFECYCLE_LEGACY: Final = 1
LIFECYCLE: Final = 2


class OrderSnapshot(MachineSnapshot):
    """The whole order, carried into a new run of its workflow (continue-as-new)."""

    new: NewOrder
    rulebook: Rulebook
    lifecycle: int
    phase: Phase
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    assignments: list[Assignment]
    proposals: list[ProposalRecord]
    extensions: list[ExtensionRecord]
    results: list[ResultRecord]
    callbacks: list[CallbackRecord]
    rehandling_round: int
    round_started_at: datetime
    appeal: AppealRecord | None = None


class Order(Machine):
    """One order's state and rules. Every public method takes ``now`` (aware) and is pure."""

    actions = ACTIONS

    def __init__(
        self,
        new: NewOrder,
        rulebook: Rulebook,
        calendar: BusinessCalendar,
        now: datetime,
        *,
        lifecycle: int = LIFECYCLE,
    ) -> None:
        """Bind the rulebook and the behaviour version, compute the first deadlines, mark missed windows.

        Args:
            new: The order as transferred.
            rulebook: The rulebook version bound for life.
            calendar: The business calendar.
            now: The instant the order starts.
            lifecycle: The behaviour version bound for life (`LIFECYCLE` for new orders).
        """
        super().__init__()
        self.new = new
        self.rulebook = rulebook
        #: the parameters for this order's category (per-category overrides applied)
        self.rules = rulebook.for_category(new.category)
        self.calendar = calendar
        self.lifecycle = lifecycle
        self.v2 = lifecycle >= LIFECYCLE
        self.phase = Phase.AWAITING_RECEIPT
        self.outcome: Outcome | None = None
        self.closed_at: datetime | None = None
        self.assignments: list[Assignment] = []
        self.proposals: list[ProposalRecord] = []
        self.extensions: list[ExtensionRecord] = []
        self.results: list[ResultRecord] = []
        self.callbacks: list[CallbackRecord] = []
        self.rehandling_round = 0
        self.round_started_at = new.dispatched_at
        self.appeal: AppealRecord | None = None

        self._note(now, "transferred", None, f"dispatched by the city hotline at {iso(new.dispatched_at)}")
        t = new.dispatched_at
        self._set_deadline(
            dl.receipt_deadline(rulebook, calendar, t, tier=new.tier, category=new.category),
            label="receipt window",
        )
        if not self.v2:  # lifecycle 1: the completion clock ran from the city hotline's transfer
            self._set_deadline(
                dl.completion_deadline(rulebook, calendar, t, tier=new.tier, category=new.category),
                label="completion deadline",
            )
        self.fire_due(now)

    # -- a new run of the workflow (continue-as-new) ---------------------------------------------

    def snapshot(self, *, entries_written: int, outbox_written: int) -> OrderSnapshot:
        """The whole order as data, to carry into a new run; `restore` gives it back unchanged."""
        return OrderSnapshot(
            **self._machine_snapshot(entries_written=entries_written, outbox_written=outbox_written),
            new=self.new,
            rulebook=self.rulebook,
            lifecycle=self.lifecycle,
            phase=self.phase,
            outcome=self.outcome,
            closed_at=self.closed_at,
            assignments=list(self.assignments),
            proposals=list(self.proposals),
            extensions=list(self.extensions),
            results=list(self.results),
            callbacks=list(self.callbacks),
            rehandling_round=self.rehandling_round,
            round_started_at=self.round_started_at,
            appeal=self.appeal,
        )

    @classmethod
    def restore(cls, snapshot: OrderSnapshot, calendar: BusinessCalendar) -> Order:
        """The order of ``snapshot``, on ``calendar``: no event is recorded, no deadline recomputed."""
        order = cls.__new__(cls)
        order._restore_machine(snapshot)
        order.new = snapshot.new
        order.rulebook = snapshot.rulebook
        order.rules = snapshot.rulebook.for_category(snapshot.new.category)
        order.calendar = calendar
        order.lifecycle = snapshot.lifecycle
        order.v2 = snapshot.lifecycle >= LIFECYCLE
        order.phase = snapshot.phase
        order.outcome = snapshot.outcome
        order.closed_at = snapshot.closed_at
        order.assignments = list(snapshot.assignments)
        order.proposals = list(snapshot.proposals)
        order.extensions = list(snapshot.extensions)
        order.results = list(snapshot.results)
        order.callbacks = list(snapshot.callbacks)
        order.rehandling_round = snapshot.rehandling_round
        order.round_started_at = snapshot.round_started_at
        order.appeal = snapshot.appeal
        return order

    # -- what the machine asks --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the order is closed."""
        return self.phase is Phase.CLOSED

    def _closed_refusal(self, name: str, now: datetime) -> str:
        when = f" at {iso(self.closed_at)}" if self.closed_at else ""
        outcome = self.outcome.value if self.outcome else "closed"
        return f"{name} refused: the order closed{when} ({outcome}); nothing may change it"

    def _hotline_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"order_no": self.new.order_no, **payload}

    def _require_room(self, name: str, action: Action) -> None:
        """Lifecycle 2: no action of a platform or a unit may grow the status past `STATUS_BUDGET`.

        A handler app retrying without a `request_id`, or a result sent back and forth, must never
        make the order too heavy for Temporal to carry (the order would be stuck, or terminated).
        """
        if not self.v2 or name in _HOTLINE_ACTIONS:
            return
        # an action's words land in the status about twice (its record, and the timeline's entry)
        weight = len(self.status().model_dump_json().encode()) + 2 * len(action.model_dump_json().encode())
        if weight > STATUS_BUDGET - _HOTLINE_ROOM:
            raise Rejected(
                f"{name} refused: the order would weigh {weight // 1024} kB, over its {STATUS_BUDGET // 1024} kB "
                "(what Temporal carries safely); allowed: a shorter text or fewer materials, or what the order "
                "waits for next",
                RefusalKind.PRECONDITION,
            )

    def _scrub(self, text: str) -> str:
        """A confidential reporter's name and phone never leave in anything sent (Art. 8.2)."""
        r = self.new.reporter
        return redact(text, r.name, r.phone) if r.confidential else text

    def _scrub_name(self, text: str) -> str:
        """What units read of others' words: a confidential reporter's name never (the phone they have)."""
        r = self.new.reporter
        return redact(text, r.name, "") if r.confidential else text

    # receive ---------------------------------------------------------------------------------

    def _check_receive(self, a: Receive, now: datetime) -> None:
        require_phase("receive", self.phase, {Phase.AWAITING_RECEIPT})
        self._require_operator("receive", a)

    def _apply_receive(self, a: Receive, now: datetime) -> None:
        self._meet("receipt", now)
        self.phase = Phase.RECEIVED
        self._note(now, "received", a, "the platform checked the order in")
        if self.v2:
            self._open_dispatch_window(now)

    def _open_dispatch_window(self, start: datetime) -> None:
        """The platform's own step (our reading of 第一时间派遣): a reminder, then an escalation."""
        first = dl.dispatch_deadline(
            self.rulebook, self.calendar, start, tier=self.new.tier, category=self.new.category
        )
        second = dl.dispatch_deadline(
            self.rulebook, self.calendar, first.due, tier=self.new.tier, category=self.new.category
        )
        supervisor = SUPERVISOR[self.new.platform]
        self.deadlines["dispatch"] = DeadlineState(
            kind="dispatch",
            label="dispatch escalation",
            warning_label="dispatch reminder",
            start=first.start,
            due=second.due,
            warn_at=first.due,
            explanation=f"{first.explanation}: reminder to the {self.new.platform.value} platform; one more "
            f"window, {second.explanation}: escalation to {supervisor} (a reminder, not lateness)",
            calendar_confirmed=first.calendar_confirmed and second.calendar_confirmed,
            late_counts=False,
        )
        self._refresh_calendar_flag()
        self.revision += 1

    # propose / review ------------------------------------------------------------------------

    def _check_propose(self, a: Propose, now: datetime) -> None:
        require_phase("propose", self.phase, {Phase.RECEIVED})
        self._require_operator("propose", a)
        for unit in [a.lead_unit, *a.assisting_units]:
            if not can_handle(unit):
                raise Rejected(
                    f"propose refused: {unit} cannot handle orders; allowed: a division (dept-*), "
                    "a commission unit (unit-*), a district commission (district-*) or utilities",
                    RefusalKind.INVALID_PAYLOAD,
                )
        if a.lead_unit in a.assisting_units:
            raise Rejected(
                f"propose refused: {a.lead_unit} is both the lead and an assisting unit", RefusalKind.INVALID_PAYLOAD
            )
        returned = {x.unit for x in self.assignments if x.state == "returned"}
        again = [u for u in [a.lead_unit, *a.assisting_units] if u in returned]
        if again:
            raise Rejected(
                f"propose refused: {', '.join(again)} returned this order already; "
                "allowed: another unit, or return_to_hotline",
                RefusalKind.PRECONDITION,
            )

    def _apply_propose(self, a: Propose, now: datetime) -> None:
        self.proposals.append(
            ProposalRecord(
                at=now,
                by=a.actor,
                lead_unit=a.lead_unit,
                assisting_units=list(a.assisting_units),
                opinion=a.opinion,
            )
        )
        self.phase = Phase.IN_REVIEW
        units = ", ".join([a.lead_unit, *a.assisting_units])
        self._note(now, "proposed", a, f"lead {a.lead_unit}; units {units}: {a.opinion}")
        supervisor = SUPERVISOR[self.new.platform]
        self._notify(now, supervisor, "review_requested", f"a proposal waits for your review ({units})")

    def _check_review(self, a: Review, now: datetime) -> None:
        require_phase("review", self.phase, {Phase.IN_REVIEW})
        supervisor = SUPERVISOR[self.new.platform]
        if a.actor.org != supervisor or a.actor.role is not Role.SUPERVISOR:
            raise Rejected(
                f"review refused: {a.actor.org} ({a.actor.role.value}) has no standing; allowed: "
                f"the {self.new.platform.value} platform's supervising department "
                f"(org {supervisor!r}, role 'supervisor'; Article 4.3)",
                RefusalKind.NO_STANDING,
            )

    def _apply_review(self, a: Review, now: datetime) -> None:
        proposal = self.proposals[-1]
        self.proposals[-1] = proposal.model_copy(
            update={"reviewed_at": now, "approved": a.approved, "comment": a.comment, "reviewed_by": a.actor}
        )
        if not a.approved:
            self.phase = Phase.RECEIVED
            self._note(now, "review_refused", a, f"sent back: {a.comment or '(no comment)'}")
            self._notify(now, self.new.platform.value, "review_refused", f"proposal sent back: {a.comment}")
            return
        self._note(now, "review_approved", a, a.comment or "approved")
        self.phase = Phase.IN_HANDLING
        if self.v2:
            self._meet("dispatch", now)
            # Art. 8.4/8.5: the units' limits run from when the unit gets the handling order
            self._set_deadline(
                dl.completion_deadline(
                    self.rulebook,
                    self.calendar,
                    now,
                    tier=self.new.tier,
                    category=self.new.category,
                    started=f"dispatched to {proposal.lead_unit}",
                ),
                label="completion deadline",
            )
            self._note(now, "completion_set", None, f"due {iso(self.deadlines['completion'].due)}")
        for unit, role in [(proposal.lead_unit, "lead")] + [(u, "assisting") for u in proposal.assisting_units]:
            self._dispatch(unit, role, now)

    def _dispatch(self, unit: str, role: str, now: datetime) -> None:
        window = dl.return_deadline(self.rulebook, now, category=self.new.category)
        self.assignments.append(
            Assignment(unit=unit, role=role, dispatched_at=now, return_due=window.due, state="active")
        )
        self._set_deadline(window, key=f"return:{unit}", label=f"return window: {unit}", late_counts=False)
        completion = self._current_completion()
        due = self.deadlines[completion].due if completion else None
        self._note(now, "dispatched", None, f"handling order dispatched to {unit} ({role})")
        lead = "" if role == "lead" or not self.v2 else f"; {self._lead_unit()} leads"
        self._notify(
            now,
            unit,
            "dispatch",
            f"new handling order ({role}{lead}); complete by {fmt(due) if due else '-'}; "
            f"a return is possible until {fmt(window.due)}",
            due=due,
        )

    # return to the city hotline --------------------------------------------------------------

    def _check_return_to_hotline(self, a: ReturnToHotline, now: datetime) -> None:
        require_phase("return_to_hotline", self.phase, {Phase.AWAITING_RECEIPT, Phase.RECEIVED, Phase.IN_REVIEW})
        self._require_operator("return_to_hotline", a)

    def _apply_return_to_hotline(self, a: ReturnToHotline, now: datetime) -> None:
        self._note(now, "returned_to_hotline", a, a.reason)
        self._to_hotline(now, "return", f"order returned to the city hotline: {a.reason}", {"reason": a.reason})
        self._close(now, Outcome.RETURNED_TO_HOTLINE)

    # units: contact, return, contribute, release ---------------------------------------------

    def _check_contact_reporter(self, a: ContactReporter, now: datetime) -> None:
        require_phase("contact_reporter", self.phase, HANDLING_PHASES)
        x = self._require_assigned("contact_reporter", a)
        if self.v2:
            self._require_honest_instant("contact_reporter", "at", a.at, x, now)
        else:
            self._require_not_future("contact_reporter", "at", a.at, now)

    def _apply_contact_reporter(self, a: ContactReporter, now: datetime) -> None:
        self._name_handler(a, now)
        contact = Contact(at=a.at, method=a.method, note=a.note, recorded_at=now, round=self.rehandling_round)
        self._update_assignment(a.actor.org, lambda x: {"contacts": [*x.contacts, contact]})
        self._note(now, "reporter_contacted", a, f"{a.method.value} at {iso(a.at)}")

    def _check_return_order(self, a: ReturnOrder, now: datetime) -> None:
        require_phase("return_order", self.phase, {Phase.IN_HANDLING})
        assignment = self._require_assigned("return_order", a)
        if now >= assignment.return_due:
            raise Rejected(
                f"return refused: the {self.rules.return_window.total_seconds() / 3600:g}-hour return "
                f"window for {assignment.unit} closed at {iso(assignment.return_due)}; allowed: "
                "request_extension or submit_result",
                RefusalKind.WINDOW_CLOSED,
            )

    def _apply_return_order(self, a: ReturnOrder, now: datetime) -> None:
        unit = a.actor.org
        self._name_handler(a, now)
        returned = self._assignment(unit)
        assert returned is not None
        self._end_assignment(unit, "returned", now, a.reason, basis=a.basis)
        self._note(now, "unit_returned", a, f"{unit} returned its handling order: {a.reason} (basis: {a.basis})")
        self._notify(now, self.new.platform.value, "unit_returned", f"{unit} returned the order: {a.reason}")
        if returned.role == "lead":
            for other in self._active():
                self._end_assignment(other.unit, "released", now, f"the lead unit {unit} returned the order")
            self.phase = Phase.RECEIVED
            self._note(now, "back_to_platform", None, "the lead unit returned it: re-propose or return it")
            if self.v2:
                self._end_pending_extension(now, f"{unit} returned the order")
                self._close_deadline("completion", now)
                self._open_dispatch_window(now)

    def _check_contribute(self, a: Contribute, now: datetime) -> None:
        require_phase("contribute", self.phase, HANDLING_PHASES if self.v2 else {Phase.IN_HANDLING})
        assignment = self._require_assigned("contribute", a)
        if assignment.role != "assisting":
            raise Rejected(
                f"contribute refused: {a.actor.org} is the lead unit; allowed: assisting units", RefusalKind.NO_STANDING
            )

    def _apply_contribute(self, a: Contribute, now: datetime) -> None:
        self._name_handler(a, now)
        contribution = Contribution(at=now, content=a.content, round=self.rehandling_round)
        self._update_assignment(a.actor.org, lambda x: {"contributions": [*x.contributions, contribution]})
        self._note(now, "contributed", a, a.content)
        lead = self._lead()
        if lead is not None:
            self._notify(now, lead.unit, "contribution", f"{a.actor.org} contributed: {a.content}")

    def _check_release_assisting_unit(self, a: ReleaseAssistingUnit, now: datetime) -> None:
        require_phase("release_assisting_unit", self.phase, HANDLING_PHASES if self.v2 else {Phase.IN_HANDLING})
        self._require_operator("release_assisting_unit", a)
        x = self._assignment(a.unit)
        if x is None or x.state != "active" or x.role != "assisting":
            active = [y.unit for y in self._active() if y.role == "assisting"] or ["none"]
            raise Rejected(
                f"release_assisting_unit refused: {a.unit} is not an active assisting unit; "
                f"allowed: {', '.join(active)}",
                RefusalKind.PRECONDITION,
            )

    def _apply_release_assisting_unit(self, a: ReleaseAssistingUnit, now: datetime) -> None:
        self._end_assignment(a.unit, "released", now, a.reason)
        self._note(now, "unit_released", a, f"{a.unit} released: {a.reason}")
        self._notify(now, a.unit, "released", f"you are released from this order: {a.reason}")

    # extension -------------------------------------------------------------------------------

    def _check_request_extension(self, a: RequestExtension, now: datetime) -> None:
        require_phase("request_extension", self.phase, HANDLING_PHASES)
        lead = self._require_lead("request_extension", a)
        pending = self._pending_extension()
        if pending is not None:
            where = "the platform" if pending.waits_at == "platform" else "the city hotline"
            raise Rejected(
                f"request_extension refused: an extension is already pending with {where} "
                f"(asked {iso(pending.requested_at)})",
                RefusalKind.PRECONDITION,
            )
        key = self._current_completion()
        assert key is not None
        current = self.deadlines[key]
        if now >= current.due:
            raise Rejected(
                f"request_extension refused: the {key} deadline passed at {iso(current.due)}; "
                "allowed: only before the current deadline (Article 8.6)",
                RefusalKind.WINDOW_CLOSED,
            )
        if a.requested_due <= current.due:
            raise Rejected(
                f"request_extension refused: requested_due {iso(a.requested_due)} is not later than the "
                f"current {key} deadline {iso(current.due)}",
                RefusalKind.INVALID_PAYLOAD,
            )
        if self.v2:
            self._require_honest_instant("request_extension", "reporter_notified_at", a.reporter_notified_at, lead, now)
        else:
            self._require_not_future("request_extension", "reporter_notified_at", a.reporter_notified_at, now)

    def _apply_request_extension(self, a: RequestExtension, now: datetime) -> None:
        self._name_handler(a, now)
        key = self._current_completion()
        assert key is not None
        current = self.deadlines[key].due
        self.extensions.append(
            ExtensionRecord(
                requested_at=now,
                by=a.actor,
                deadline=key,
                reason=a.reason,
                current_due=current,
                requested_due=a.requested_due,
                reporter_notified_at=a.reporter_notified_at,
                written_reply=a.written_reply,
                waits_at="platform" if self.v2 else "hotline",
            )
        )
        self._flag(Flag.EXTENSION_PENDING)
        self._note(now, "extension_requested", a, f"to {iso(a.requested_due)}: {a.reason}")
        if self.v2:  # Art. 8.6: the unit replies in writing to the platform, which applies
            self._notify(
                now,
                self.new.platform.value,
                "extension_request",
                f"{a.actor.org} asks to extend {key} from {fmt(current)} to {fmt(a.requested_due)}: {a.reason}; "
                f"written reply: {a.written_reply}; forward it to the city hotline or decline it",
                due=current,
            )
            return
        self._apply_for_extension(self.extensions[-1], now)

    def _apply_for_extension(self, e: ExtensionRecord, now: datetime) -> None:
        self._to_hotline(
            now,
            "extension_application",
            f"extension applied for: {e.deadline} from {iso(e.current_due)} to {iso(e.requested_due)}",
            {
                "deadline": e.deadline,
                "current_due": iso(e.current_due),
                "requested_due": e.requested_due.isoformat(),
                "reason": e.reason,
                "reporter_notified_at": e.reporter_notified_at.isoformat(),
                "written_reply": e.written_reply,
                **({"requested_at": iso(e.requested_at), "platform_note": e.platform_note} if self.v2 else {}),
            },
        )

    def _check_forward_extension(self, a: ForwardExtension, now: datetime) -> None:
        if not self.v2:
            raise Rejected(
                "forward_extension refused: this order started under lifecycle 1, whose extension requests go "
                "straight to the city hotline; allowed: extension_decision by the city hotline",
                RefusalKind.WRONG_PHASE,
            )
        self._require_operator("forward_extension", a)
        pending = self._pending_extension()
        if pending is None or pending.waits_at != "platform":
            also = (
                f"; the request of {iso(pending.requested_at)} waits for the city hotline's decision"
                if pending is not None
                else ""
            )
            raise Rejected(
                f"forward_extension refused: no extension request waits at the platform{also}",
                RefusalKind.PRECONDITION,
            )

    def _apply_forward_extension(self, a: ForwardExtension, now: datetime) -> None:
        pending = self._pending_extension()
        assert pending is not None
        i = self.extensions.index(pending)
        lead = pending.by.org
        if a.forward:
            self.extensions[i] = pending.model_copy(
                update={"waits_at": "hotline", "forwarded_at": now, "forwarded_by": a.actor, "platform_note": a.note}
            )
            self._note(now, "extension_forwarded", a, a.note or "applied to the city hotline")
            self._apply_for_extension(self.extensions[i], now)
            self._notify(now, lead, "extension_forwarded", "your extension request went to the city hotline")
            return
        self.extensions[i] = pending.model_copy(
            update={"decision": "declined", "decided_at": now, "waits_at": None, "platform_note": a.note}
        )
        self._unflag(Flag.EXTENSION_PENDING)
        self._note(now, "extension_declined", a, a.note)
        self._notify(
            now,
            lead,
            "extension_decision",
            f"extension declined by the platform: {a.note}; the deadline {fmt(pending.current_due)} stands",
        )

    def _check_extension_decision(self, a: ExtensionDecision, now: datetime) -> None:
        self._require_hotline("extension_decision", a)
        pending = self._pending_extension()
        if pending is None or pending.waits_at != "hotline":
            also = " (a request waits at the platform, which has not forwarded it)" if pending is not None else ""
            raise Rejected(f"extension_decision refused: no extension is pending{also}", RefusalKind.PRECONDITION)
        if a.approved and a.approved_due is not None and a.approved_due <= pending.current_due:
            raise Rejected(
                f"extension_decision refused: approved_due {iso(a.approved_due)} is not later than "
                f"the current deadline {iso(pending.current_due)}",
                RefusalKind.INVALID_PAYLOAD,
            )

    def _apply_extension_decision(self, a: ExtensionDecision, now: datetime) -> None:
        pending = self._pending_extension()
        assert pending is not None
        i = self.extensions.index(pending)
        self.extensions[i] = pending.model_copy(
            update={
                "decision": "approved" if a.approved else "refused",
                "decided_at": now,
                "approved_due": a.approved_due,
                "note": a.note,
                "waits_at": None,
            }
        )
        self._unflag(Flag.EXTENSION_PENDING)
        lead = self._lead()
        if a.approved and a.approved_due is not None:
            new_due = a.approved_due.astimezone(SHANGHAI)
            old = self.deadlines[pending.deadline]
            lifted = (
                self._extend(pending.deadline, new_due, now) if self.v2 else self._extend_legacy(pending, new_due, now)
            )
            detail = f"{pending.deadline}: {iso(old.due)} -> {iso(new_due)}"
            if lifted:
                detail += (
                    f"; the overdue mark raised at {iso(old.due)} is lifted: the extension was asked for on time "
                    f"({iso(pending.requested_at)}) and approved, as if in force all along"
                )
            self._note(now, "extension_approved", a, detail)
            text = f"extension approved: complete by {fmt(new_due)}"
        else:
            self._note(now, "extension_refused", a, a.note or "the deadline stands")
            text = f"extension refused; the deadline {fmt(pending.current_due)} stands"
        for org in [self.new.platform.value, *([lead.unit] if lead else [])]:
            self._notify(now, org, "extension_decision", text)

    def _extend_legacy(self, pending: ExtensionRecord, new_due: datetime, now: datetime) -> bool:
        d = self.deadlines[pending.deadline]
        self.deadlines[pending.deadline] = d.model_copy(
            update={
                "due": new_due,
                "warn_at": self._warn_at(d.start, new_due),
                "warned_at": None if d.overdue_since is None else d.warned_at,
                # an approved instant depends on no calendar
                "calendar_confirmed": True,
                "explanation": f"{d.explanation}; extended by the city hotline at {fmt(now)}: "
                f"{fmt(d.due)} -> {fmt(new_due)}",
            }
        )
        self._refresh_calendar_flag()
        return False

    def _extend(self, key: str, new_due: datetime, now: datetime) -> bool:
        """The approved instant replaces the deadline as if in force all along (Art. 8.6).

        The warning and the end are re-armed for it; an overdue mark raised between the old deadline
        and the decision is lifted (the request was made before the old deadline, which `request_extension`
        requires). Returns whether a mark was lifted.
        """
        d = self.deadlines[key]
        warn_at = self._warn_at(d.start, new_due)
        lifted = d.overdue_since is not None
        self.deadlines[key] = d.model_copy(
            update={
                "due": new_due,
                "warn_at": warn_at,
                "warned_at": None if warn_at > now else d.warned_at,
                "overdue_since": None,
                "overdue_lifted_at": now if lifted else d.overdue_lifted_at,
                "next_reminder_at": None,
                # an approved instant depends on no calendar
                "calendar_confirmed": True,
                "explanation": f"{d.explanation}; extended by the city hotline at {fmt(now)}: "
                f"{fmt(d.due)} -> {fmt(new_due)}",
            }
        )
        if lifted:
            self._refresh_late_flag(_kind(key))
        self._refresh_calendar_flag()
        self.revision += 1
        return lifted

    def _moot_pending_extension(self, now: datetime) -> None:
        """An accepted result makes a pending application moot (a result sent back leaves it pending)."""
        pending = self._pending_extension()
        if pending is not None:
            i = self.extensions.index(pending)
            self.extensions[i] = pending.model_copy(update={"decision": "moot", "decided_at": now, "waits_at": None})
            self._unflag(Flag.EXTENSION_PENDING)

    def _end_pending_extension(self, now: datetime, why: str) -> None:
        """A return, a withdrawal or the order's close ends a pending request (it moves nothing later)."""
        pending = self._pending_extension()
        if pending is None:
            return
        i = self.extensions.index(pending)
        self.extensions[i] = pending.model_copy(
            update={"decision": "ended", "decided_at": now, "waits_at": None, "note": why}
        )
        self._unflag(Flag.EXTENSION_PENDING)
        self._note(now, "extension_ended", None, f"the pending extension request ends: {why}")

    # result and its review -------------------------------------------------------------------

    def _check_submit_result(self, a: SubmitResult, now: datetime) -> None:
        require_phase("submit_result", self.phase, HANDLING_PHASES)
        lead = self._require_lead("submit_result", a)
        if not any(c.round == self.rehandling_round for c in lead.contacts):
            raise Rejected(
                "submit_result refused: no contact with the reporter is recorded"
                + (f" in re-handling round {self.rehandling_round}" if self.rehandling_round else "")
                + "; allowed after contact_reporter (Article 8.4)",
                RefusalKind.PRECONDITION,
            )
        if self.phase is Phase.IN_HANDLING:
            waiting = [x.unit for x in self._active() if x.role == "assisting" and not x.contributions]
            if waiting:
                raise Rejected(
                    f"submit_result refused: {', '.join(waiting)} has not contributed; allowed after "
                    "every assisting unit contributed or was released (Article 9)",
                    RefusalKind.PRECONDITION,
                )
        if self.v2:
            self._require_honest_instant("submit_result", "reporter_informed_at", a.reporter_informed_at, lead, now)
        else:
            self._require_not_future("submit_result", "reporter_informed_at", a.reporter_informed_at, now)

    def _apply_submit_result(self, a: SubmitResult, now: datetime) -> None:
        self._name_handler(a, now)
        self.results.append(
            ResultRecord(
                at=now,
                by=a.actor,
                round=self.rehandling_round,
                result=a.result,
                reporter_informed_at=a.reporter_informed_at,
                appeal_materials=list(a.appeal_materials),
            )
        )
        key = self._current_completion()
        if not self.v2 and key is not None:
            self._meet(key, now)
        if not self.v2:  # lifecycle 2: only an accepted result makes a pending application moot
            self._moot_pending_extension(now)
        for x in self._active():
            self._close_deadline(f"return:{x.unit}", now)
        self._note(now, "result_submitted", a, a.result)
        if not self.v2:
            self._reply(self.results[-1], now)
            return
        # Art. 6.2: the platform collects the result and replies (第一时间回复, 确保办理质量)
        if key is not None:
            self.deadlines[key] = self.deadlines[key].model_copy(update={"paused_at": now})
        self.phase = Phase.RESULT_REVIEW
        n = len(self.results)
        review = dl.result_review_deadline(
            self.rulebook, self.calendar, now, tier=self.new.tier, category=self.new.category
        )
        self._set_deadline(review, key=f"result_review_{n}", label="result review")
        self._notify(
            now,
            self.new.platform.value,
            "result_review",
            f"the result of {a.actor.org} waits for your review by {fmt(review.due)}: {a.result}",
            due=review.due,
        )

    def _check_review_result(self, a: ReviewResult, now: datetime) -> None:
        if self.phase is not Phase.RESULT_REVIEW:
            raise Rejected(
                f"review_result refused: no result waits for review (the order is {self.phase.value}); "
                "allowed only when result_review",
                RefusalKind.WRONG_PHASE,
            )
        self._require_operator("review_result", a)

    def _apply_review_result(self, a: ReviewResult, now: datetime) -> None:
        result = self.results[-1]
        self.results[-1] = result.model_copy(
            update={"reviewed_at": now, "approved": a.approved, "review_comment": a.comment, "reviewed_by": a.actor}
        )
        self._meet(f"result_review_{len(self.results)}", now)
        key = self._current_completion()
        if a.approved:
            self._moot_pending_extension(now)
            if key is not None:
                # lateness is judged at the accepted submission, not at the review
                self.deadlines[key] = self.deadlines[key].model_copy(update={"paused_at": None})
                self._meet(key, result.at)
            self._note(now, "result_approved", a, a.comment or "replied to the city hotline")
            self._reply(self.results[-1], now)
            return
        if key is not None:  # the unit's clock runs on: the review time is not added to it
            self.deadlines[key] = self.deadlines[key].model_copy(update={"paused_at": None})
        self.phase = Phase.REHANDLING if self.rehandling_round else Phase.IN_HANDLING
        self._note(now, "result_sent_back", a, a.comment)
        due = self.deadlines[key].due if key else None
        self._notify(
            now,
            result.by.org,
            "result_sent_back",
            f"your result was sent back by the platform: {a.comment}" + (f"; complete by {fmt(due)}" if due else ""),
            due=due,
        )

    def _reply(self, result: ResultRecord, now: datetime) -> None:
        """The reply to the city hotline; the order then waits for its callback."""
        self.phase = Phase.AWAITING_CALLBACK
        self._to_hotline(
            now,
            "reply",
            f"reply to the city hotline (round {self.rehandling_round})",
            {
                "round": self.rehandling_round,
                "result": result.result,
                "reporter_informed_at": result.reporter_informed_at.isoformat(),
            },
        )
        wait = self.rules.callback_wait
        self._set_deadline(
            dl.ComputedDeadline(
                kind="callback",
                start=now,
                due=(now + wait).astimezone(SHANGHAI),
                explanation=f"callback: reply sent {fmt(now)}; the rulebook's callback wait of "
                f"{wait.days} days -> closes no_callback at {fmt(now + wait)}",
                calendar_confirmed=True,
                rulebook=self.rulebook.id,
            ),
            key=f"callback_{self.rehandling_round}",
            label="callback wait",
            warn=False,
            late_counts=False,
        )

    # callback, appeal ------------------------------------------------------------------------

    def _check_callback(self, a: Callback, now: datetime) -> None:
        self._require_hotline("callback", a)
        if self.v2 and self.phase is Phase.APPEALING and self._callback_open():
            return  # an appeal filed while the re-handling callback was awaited
        require_phase("callback", self.phase, {Phase.AWAITING_CALLBACK})

    def _callback_open(self) -> bool:
        d = self.deadlines.get(f"callback_{self.rehandling_round}")
        return d is not None and d.met_at is None and d.closed_at is None

    def _apply_callback(self, a: Callback, now: datetime) -> None:
        self.callbacks.append(CallbackRecord(at=now, round=self.rehandling_round, verdict=a.verdict, note=a.note))
        self._meet(f"callback_{self.rehandling_round}", now)
        self._note(now, "callback", a, f"{a.verdict.value}: {a.note}".rstrip(": "))
        appealing = self.phase is Phase.APPEALING
        if a.verdict is not Verdict.DISSATISFIED:
            if appealing:
                self._note(now, "appeal_moot", None, f"the reporter is {a.verdict.value}: the appeal is moot")
            self._close(now, Outcome(a.verdict.value))
            return
        self._flag(Flag.DISSATISFIED)
        if appealing:
            self._note(now, "appeal_pending", None, "dissatisfied again; the appeal stays with the city hotline")
            self._notify(now, self.new.platform.value, "callback", f"dissatisfied again: {a.note}; the appeal stays")
            return
        if self.rehandling_round >= self.rules.rehandling_rounds:
            self._last_dissatisfied(a, now)
            return
        self._open_rehandling(a, now)

    def _open_rehandling(self, a: Callback, now: datetime) -> None:
        lead = self._lead_unit()
        self.rehandling_round += 1
        self.round_started_at = now
        self.phase = Phase.REHANDLING
        d = dl.rehandling_deadline(self.rulebook, self.calendar, now, tier=self.new.tier, category=self.new.category)
        key = f"rehandling_{self.rehandling_round}"
        self._set_deadline(d, key=key, label=f"re-handling deadline {self.rehandling_round}")
        self._note(now, "rehandling_opened", None, f"round {self.rehandling_round} by {lead}; due {iso(d.due)}")
        why = f": {a.note}" if a.note else ""
        text = f"dissatisfied callback{why}; re-handle (round {self.rehandling_round}) by {fmt(d.due)}"
        # Article 7.2: the units re-handle; assisting units stay on the order (lifecycle 2)
        units = [x.unit for x in self._active()] if self.v2 else [lead]
        for org in dict.fromkeys([*units, self.new.platform.value]):
            self._notify(now, org, "rehandling", text, due=d.due)

    def _last_dissatisfied(self, a: Callback, now: datetime) -> None:
        self._note(
            now,
            "rehandling_exhausted",
            None,
            f"dissatisfied after {self.rehandling_round} re-handling rounds (the rulebook allows "
            f"{self.rules.rehandling_rounds})",
        )
        if not self.v2:
            self._close(now, Outcome.DISSATISFIED)
            return
        window = dl.appeal_window_deadline(self.rulebook, self.calendar, now, category=self.new.category)
        self._set_deadline(window, key="appeal_window", label="appeal window", late_counts=False)
        self.phase = Phase.APPEAL_WINDOW
        self._notify(
            now,
            self.new.platform.value,
            "appeal_window",
            f"dissatisfied{f': {a.note}' if a.note else ''}; you may file an appeal with the units' materials "
            f"until {fmt(window.due)} (Art. 6.3); without one the order closes dissatisfied",
            due=window.due,
        )

    def _check_file_appeal(self, a: FileAppeal, now: datetime) -> None:
        if self.v2:
            after_rehandling = self.phase is Phase.AWAITING_CALLBACK and self.rehandling_round >= 1
            if not (after_rehandling or self.phase is Phase.APPEAL_WINDOW):
                raise Rejected(
                    f"file_appeal refused: the order is {self.phase.value}; allowed after a re-handling result "
                    "was accepted (awaiting_callback in a re-handling round) and until the appeal window after "
                    "the last dissatisfied verdict closes (appeal_window)",
                    RefusalKind.WRONG_PHASE,
                )
            window = self.deadlines.get("appeal_window")
            if self.phase is Phase.APPEAL_WINDOW and window is not None and now >= window.due:
                raise Rejected(
                    f"file_appeal refused: the appeal window closed at {iso(window.due)}", RefusalKind.WINDOW_CLOSED
                )
        else:
            require_phase("file_appeal", self.phase, {Phase.REHANDLING})
        self._require_operator("file_appeal", a)
        if self.appeal is not None:
            raise Rejected(
                f"file_appeal refused: an appeal was already filed for this order at {iso(self.appeal.filed_at)}",
                RefusalKind.PRECONDITION,
            )

    def _apply_file_appeal(self, a: FileAppeal, now: datetime) -> None:
        self.appeal = AppealRecord(filed_at=now, by=a.actor, reason=a.reason, materials=list(a.materials))
        if self.v2:
            self._meet("appeal_window", now)
        else:
            # lifecycle 1: re-handling stops while the city hotline decides; its decision closes the order
            self._close_deadline(f"rehandling_{self.rehandling_round}", now)
            self._refresh_calendar_flag()
        self.phase = Phase.APPEALING
        self._flag(Flag.APPEALED)
        self._note(now, "appeal_filed", a, a.reason)
        materials = list(a.materials) + [m for r in self.results for m in r.appeal_materials]
        self._to_hotline(now, "appeal", f"appeal: {a.reason}", {"reason": a.reason, "materials": materials})
        if self.v2:
            wait = self.rules.appeal_wait
            due = (now + wait).astimezone(SHANGHAI)
            self._set_deadline(
                dl.ComputedDeadline(
                    kind="appeal_wait",
                    start=now,
                    due=due,
                    explanation=f"appeal wait: filed {fmt(now)}; the rulebook's appeal wait of {span(wait)} "
                    f"(our own default) -> closes appeal_unanswered at {fmt(due)}; reminder to "
                    f"{SUPERVISOR[self.new.platform]} at {self.rules.warning_fraction:.0%}",
                    calendar_confirmed=True,
                    rulebook=self.rulebook.id,
                ),
                key="appeal_wait",
                label="appeal wait",
                late_counts=False,
            )

    def _check_appeal_decision(self, a: AppealDecision, now: datetime) -> None:
        self._require_hotline("appeal_decision", a)
        if self.phase is not Phase.APPEALING:
            raise Rejected(
                f"appeal_decision refused: no appeal is pending (the order is {self.phase.value})",
                RefusalKind.PRECONDITION,
            )

    def _apply_appeal_decision(self, a: AppealDecision, now: datetime) -> None:
        assert self.appeal is not None
        self.appeal = self.appeal.model_copy(update={"upheld": a.upheld, "decided_at": now, "note": a.note})
        self._meet("appeal_wait", now)
        self._note(
            now,
            "appeal_decided",
            a,
            ("upheld" if a.upheld else "rejected") + (f": {a.note}" if a.note else ""),
        )
        self._notify(
            now,
            self.new.platform.value,
            "appeal_decision",
            "appeal " + ("upheld" if a.upheld else "rejected") + (f": {a.note}" if a.note else ""),
        )
        self._close(now, Outcome.APPEAL_UPHELD if a.upheld else Outcome.APPEAL_REJECTED)

    def _check_withdraw(self, a: Withdraw, now: datetime) -> None:
        self._require_hotline("withdraw", a)

    def _apply_withdraw(self, a: Withdraw, now: datetime) -> None:
        self._note(now, "withdrawn", a, a.reason)
        for org in [self.new.platform.value, *[x.unit for x in self._active()]]:
            self._notify(now, org, "withdrawn", f"withdrawn by the city hotline: {a.reason}")
        self._close(now, Outcome.WITHDRAWN)

    # -- timers -------------------------------------------------------------------------------

    def _warn(self, key: str, now: datetime) -> None:
        d = self.deadlines[key]
        self.deadlines[key] = d.model_copy(update={"warned_at": now})
        left = d.due - now
        kind = _kind(key)
        if kind == "dispatch":
            text = f"dispatch reminder: the order has not been dispatched to a unit; escalation at {fmt(d.due)}"
            self._note(now, "dispatch_reminder", None, text)
            self._notify(now, self.new.platform.value, "dispatch_reminder", text, due=d.due)
            return
        text = f"{d.label}: {self.rules.warning_fraction:.0%} of the window has passed; due {fmt(d.due)}"
        if left > timedelta(0):
            text += f" (in {span(left)})"
        self._note(now, f"{kind}_warning", None, text)
        for org in self._responsible(key, escalation=False):
            self._notify(now, org, f"{kind}_warning", text, due=d.due)

    def _overdue(self, key: str, now: datetime) -> None:
        d = self.deadlines[key]
        self.deadlines[key] = d.model_copy(update={"overdue_since": d.due})
        kind = _kind(key)
        if kind == "return":
            self._note(now, "return_window_closed", None, f"{d.label} closed at {iso(d.due)}")
            return
        if kind == "callback":
            text = f"no callback within {self.rules.callback_wait.days} days"
            if self.phase is Phase.APPEALING:
                self._note(now, "no_callback", None, f"{text}; the appeal stays with the city hotline")
                return
            self._note(now, "no_callback", None, text)
            self._close(now, Outcome.NO_CALLBACK)
            return
        if kind == "appeal_window":
            self._note(now, "appeal_window_closed", None, f"no appeal by {iso(d.due)}: the dissatisfied verdict stands")
            self._close(now, Outcome.DISSATISFIED)
            return
        if kind == "appeal_wait":
            text = f"no appeal decision by {fmt(d.due)}: closed appeal_unanswered"
            self._note(now, "appeal_unanswered", None, text)
            for org in self._responsible(key, escalation=True):
                self._notify(now, org, "appeal_unanswered", text)
            self._close(now, Outcome.APPEAL_UNANSWERED)
            return
        if d.late_counts:
            self._flag(Flag(f"{kind}_late"))
        event = "dispatch_escalation" if kind == "dispatch" else f"{kind}_overdue"
        text = (
            f"not dispatched to a unit by {fmt(d.due)}: escalated"
            if kind == "dispatch"
            else f"{d.label} missed: it was due {fmt(d.due)}"
        )
        self._note(now, event, None, text)
        for org in self._responsible(key, escalation=True):
            self._notify(now, org, event, text, due=d.due)
        if self.v2:  # never stuck: remind until it is met
            self.deadlines[key] = self.deadlines[key].model_copy(update={"next_reminder_at": self._next_reminder(now)})

    def _remind(self, key: str, now: datetime) -> None:
        d = self.deadlines[key]
        n = d.reminders + 1
        self.deadlines[key] = d.model_copy(update={"reminders": n, "next_reminder_at": self._next_reminder(now)})
        kind = _kind(key)
        what = "not dispatched to a unit" if kind == "dispatch" else f"{d.label} still not met"
        text = f"{what}: overdue since {fmt(d.due)} (reminder {n})"
        for org in self._responsible(key, escalation=True):
            self._notify(now, org, f"{kind}_reminder", text, due=d.due)
        self.revision += 1

    def _next_reminder(self, now: datetime) -> datetime:
        t = (now + self.rules.overdue_reminder_interval).astimezone(SHANGHAI)
        if self.calendar.in_working_period(t, start=self.rules.work_start, end=self.rules.work_end):
            return t
        return self.calendar.next_work_start(t, start=self.rules.work_start)

    def _responsible(self, key: str, *, escalation: bool) -> list[str]:
        """Who hears of a deadline's warning or end: the responsible party, and supervision."""
        platform = self.new.platform.value
        supervisor = SUPERVISOR[self.new.platform]
        kind = _kind(key)
        if kind == "receipt":
            return list(dict.fromkeys([platform, supervisor]))
        if kind == "return":
            return [key.split(":", 1)[1]]
        if kind in {"dispatch", "result_review", "appeal_window"}:
            return list(dict.fromkeys([platform, supervisor])) if escalation else [platform]
        if kind == "appeal_wait":
            return list(dict.fromkeys([supervisor, platform]))
        lead = self._lead()
        return list(dict.fromkeys([*([lead.unit] if lead else []), platform, supervisor]))

    # -- calendar changes ---------------------------------------------------------------------

    def recalendar(self, calendar: BusinessCalendar, now: datetime) -> list[str]:
        """Recompute every unconfirmed deadline that has not passed on a new calendar.

        Returns:
            The keys of the deadlines that changed (old and new instants go to the timeline).
        """
        self.calendar = calendar
        changed = []
        for key, d in list(self.deadlines.items()):
            if d.calendar_confirmed or d.met_at or d.closed_at or d.overdue_since or now >= d.due:
                continue
            recomputed = self._recompute(key, d)
            if recomputed is None:
                continue
            fresh, warn_at = recomputed
            self.deadlines[key] = d.model_copy(
                update={
                    "due": fresh.due,
                    "warn_at": warn_at if d.warn_at is not None else None,
                    "explanation": fresh.explanation,
                    "calendar_confirmed": fresh.calendar_confirmed,
                }
            )
            self._note(now, "deadline_recomputed", None, f"{key}: {iso(d.due)} -> {iso(fresh.due)} (new calendar)")
            changed.append(key)
        self._refresh_calendar_flag()
        return changed

    def _recompute(self, key: str, d: DeadlineState) -> tuple[dl.ComputedDeadline, datetime] | None:
        """The deadline recomputed on the current calendar, and its warning instant."""
        if key == "dispatch":  # a reminder at the end of one window, an escalation a window later
            tier, category = self.new.tier, self.new.category
            first = dl.dispatch_deadline(self.rulebook, self.calendar, d.start, tier=tier, category=category)
            second = dl.dispatch_deadline(self.rulebook, self.calendar, first.due, tier=tier, category=category)
            fresh = second.model_copy(
                update={
                    "start": first.start,
                    "explanation": f"{first.explanation}: reminder; one more window, {second.explanation}",
                    "calendar_confirmed": first.calendar_confirmed and second.calendar_confirmed,
                }
            )
            return fresh, first.due
        computed = self._recompute_one(key, d)
        return (computed, self._warn_at(d.start, computed.due)) if computed else None

    def _recompute_one(self, key: str, d: DeadlineState) -> dl.ComputedDeadline | None:
        tier, category = self.new.tier, self.new.category
        extended = any(e.decision == "approved" and e.deadline == key for e in self.extensions)
        if key == "receipt":
            return dl.receipt_deadline(self.rulebook, self.calendar, d.start, tier=tier, category=category)
        if key == "completion" and not extended:
            started = {"started": f"dispatched to {self._lead_unit()}"} if self.v2 else {}
            return dl.completion_deadline(
                self.rulebook, self.calendar, d.start, tier=tier, category=category, **started
            )
        if key.startswith("rehandling_") and not extended:
            return dl.rehandling_deadline(self.rulebook, self.calendar, d.start, tier=tier, category=category)
        if key.startswith("result_review_"):
            return dl.result_review_deadline(self.rulebook, self.calendar, d.start, tier=tier, category=category)
        if key == "appeal_window":
            return dl.appeal_window_deadline(self.rulebook, self.calendar, d.start, category=category)
        return None

    # -- views --------------------------------------------------------------------------------

    def projection(self) -> OrderStatus:
        """The status without its timeline: what each record carries (the timeline goes row by row)."""
        return self.status(timeline=False)

    def status(self, *, timeline: bool = True) -> OrderStatus:
        """The `status` query's answer."""
        return OrderStatus(
            **self._identity(self.new, self.rulebook),
            lifecycle=self.lifecycle,
            phase=self.phase,
            outcome=self.outcome,
            closed_at=self.closed_at,
            waiting_for=self.waiting_for(),
            deadlines=dict(self.deadlines),
            flags=list(self.flags),
            units=self.units(),
            assignments=list(self.assignments),
            proposals=list(self.proposals),
            extensions=list(self.extensions),
            results=list(self.results),
            callbacks=list(self.callbacks),
            rehandling_round=self.rehandling_round,
            appeal=self.appeal,
            rejected_actions=list(self.rejected),
            rejected_total=self.rejected_total,
            timeline=list(self.timeline) if timeline else [],
        )

    @staticmethod
    def _identity(new: NewOrder, rulebook: Rulebook) -> dict[str, Any]:
        """The fields of `OrderStatus` fixed at start."""
        return {
            "order_no": new.order_no,
            "tier": new.tier,
            "category": new.category,
            "platform": new.platform,
            "district": new.location.district,
            "subject": new.subject,
            "dispatched_at": new.dispatched_at,
            "rulebook": rulebook.id,
        }

    @classmethod
    def preliminary_status(cls, new: NewOrder, rulebook: Rulebook) -> OrderStatus:
        """What `status` answers while the order is set up (its calendar loads): what is known already."""
        return OrderStatus(
            **cls._identity(new, rulebook),
            phase=Phase.AWAITING_RECEIPT,
            waiting_for="its deadlines: the order is being set up (loading the business calendar)",
        )

    def handling_order(self, unit: Any) -> HandlingOrder:
        """What ``unit`` sees of the order (承办工单, Articles 8.2, 8.4 and 9).

        Every unit sees the lead, the other units and their handlers, its own deadlines and the
        latest callback verdict with its note; the lead sees every contribution in full. A
        confidential reporter's name is never shown; the phone is shown to a unit while it is
        assigned (it must call, Art. 8.4), marked confidential.

        Raises:
            Rejected: ``unit`` is no org id, or was never assigned to this order.
        """
        if not isinstance(unit, str) or unit not in ORGANISATIONS:
            raise Rejected(
                f"handling_order refused: {cut(repr(unit), 80)} is not an org id of the directory",
                RefusalKind.INVALID_PAYLOAD,
            )
        x = self._assignment(unit)
        if x is None:
            raise Rejected(
                f"handling_order refused: {unit} is not assigned to order {self.new.order_no}", RefusalKind.NO_STANDING
            )
        key = self._current_completion()
        d = self.deadlines.get(key) if key else None
        n = self.new
        confidential = n.reporter.confidential
        active = x.state == "active" and not self.closed
        approved = next((p for p in reversed(self.proposals) if p.approved), None)
        is_lead = x.role == "lead"
        own: dict[str, DeadlineState] = {}
        if f"return:{unit}" in self.deadlines:
            own[f"return:{unit}"] = self.deadlines[f"return:{unit}"]
        if key and d is not None:
            own[key] = d
        lead = next((y for y in reversed(self.assignments) if y.role == "lead"), None)
        units = [y for y in self.assignments if y.state == "active"] or [y for y in self.assignments if y.unit == unit]
        units = sorted(units, key=lambda y: y.role != "lead")
        contributions = sorted(
            (
                ContributionView(unit=y.unit, at=c.at, content=self._scrub_name(c.content), round=c.round)
                for y in self.assignments
                if y.role == "assisting" and (is_lead or y.unit == unit)
                for c in y.contributions
            ),
            key=lambda c: c.at,
        )
        results = [r for r in self.results if r.by.org == unit]
        return HandlingOrder(
            order_no=n.order_no,
            tier=n.tier,
            category=n.category,
            unit=unit,
            role=x.role,
            dispatched_at=x.dispatched_at,
            return_due=x.return_due,
            completion_due=d.due if d else None,
            completion_explanation=d.explanation if d else "",
            reporter_name=None if confidential else n.reporter.name,
            reporter_phone=n.reporter.phone if (active or not confidential) else None,
            confidential=confidential,
            confidentiality_note=CONFIDENTIAL_NOTE if confidential else "",
            district=n.location.district,
            address=n.location.address,
            subject=n.subject,
            description=n.description,
            demands=n.demands,
            opinion=approved.opinion if approved else "",
            phase=self.phase,
            rehandling_round=self.rehandling_round,
            handler=x.handler,
            lead_unit=lead.unit if lead else None,
            units=[UnitView(unit=y.unit, role=y.role, state=y.state, handler=y.handler) for y in units],
            contributions=contributions,
            deadlines=own,
            latest_verdict=(
                self.callbacks[-1].model_copy(update={"note": self._scrub_name(self.callbacks[-1].note)})
                if self.callbacks
                else None
            ),
            latest_result=results[-1] if is_lead and results else None,
        )

    def units(self) -> list[str]:
        """Units assigned now, lead first."""
        active = self._active()
        return [x.unit for x in active if x.role == "lead"] + [x.unit for x in active if x.role != "lead"]

    def waiting_for(self) -> str:
        """What the order waits for, and until when, in one line."""
        p = self.new.platform.value
        key = self._current_completion()
        due = self.deadlines[key].due if key and key in self.deadlines else None
        until = f" (complete by {fmt(due)})" if due else ""
        lead = self._lead()
        dispatch = self.deadlines.get("dispatch")
        reminder = (
            f" (dispatch reminder {fmt(dispatch.warn_at)})"
            if dispatch is not None and dispatch.met_at is None and dispatch.warn_at is not None
            else ""
        )
        match self.phase:
            case Phase.AWAITING_RECEIPT:
                return f"receipt by the {p} platform by {fmt(self.deadlines['receipt'].due)}"
            case Phase.RECEIVED:
                return f"a proposal (or a return to the city hotline) from the {p} platform{until or reminder}"
            case Phase.IN_REVIEW:
                return f"review by {SUPERVISOR[self.new.platform]}{until or reminder}"
            case Phase.IN_HANDLING | Phase.REHANDLING:
                who = lead.unit if lead else "the lead unit"
                pending = self._pending_extension()
                where = "the platform" if pending and pending.waits_at == "platform" else "the city hotline"
                extension = f" ; an extension waits for {where}" if pending else ""
                return f"the result from {who}{until}{extension}"
            case Phase.RESULT_REVIEW:
                review = self.deadlines.get(f"result_review_{len(self.results)}")
                by = f" by {fmt(review.due)}" if review else ""
                return f"the {p} platform's review of the result{by}"
            case Phase.AWAITING_CALLBACK:
                cb = self.deadlines.get(f"callback_{self.rehandling_round}")
                return "the city hotline's callback" + (f" (closes no_callback {fmt(cb.due)})" if cb else "")
            case Phase.APPEAL_WINDOW:
                window = self.deadlines["appeal_window"]
                return f"an appeal from the {p} platform by {fmt(window.due)} (else it closes dissatisfied)"
            case Phase.APPEALING:
                wait = self.deadlines.get("appeal_wait")
                closes = f" (closes appeal_unanswered {fmt(wait.due)})" if wait else ""
                return f"the city hotline's appeal decision{closes}"
            case Phase.CLOSED:
                return f"nothing: closed, {self.outcome.value if self.outcome else ''}"
        return ""

    # -- helpers ------------------------------------------------------------------------------

    def _refresh_calendar_flag(self) -> None:
        unconfirmed = any(
            not d.calendar_confirmed and d.met_at is None and d.closed_at is None for d in self.deadlines.values()
        )
        (self._flag if unconfirmed else self._unflag)(Flag.CALENDAR_UNCONFIRMED)

    def _refresh_late_flag(self, kind: str) -> None:
        """`<kind>_late` stands while any deadline of that kind was missed (overdue, or met late)."""
        late = any(
            d.late_counts and (d.overdue_since is not None or (d.met_at is not None and d.met_at > d.due))
            for key, d in self.deadlines.items()
            if _kind(key) == kind
        )
        (self._flag if late else self._unflag)(Flag(f"{kind}_late"))

    def _warn_at(self, start: datetime, due: datetime) -> datetime:
        return (start + (due - start) * self.rules.warning_fraction).astimezone(SHANGHAI)

    def _set_deadline(
        self,
        d: dl.ComputedDeadline,
        *,
        key: str | None = None,
        label: str,
        warn: bool = True,
        late_counts: bool = True,
    ) -> None:
        key = key or d.kind
        self.deadlines[key] = DeadlineState(
            kind=d.kind,
            label=label,
            start=d.start,
            due=d.due,
            warn_at=self._warn_at(d.start, d.due) if warn else None,
            explanation=d.explanation,
            calendar_confirmed=d.calendar_confirmed,
            late_counts=late_counts,
        )
        self._refresh_calendar_flag()
        self.revision += 1

    def _meet(self, key: str, at: datetime) -> None:
        d = self.deadlines.get(key)
        if d is None or d.met_at is not None or d.closed_at is not None:
            return
        self.deadlines[key] = d.model_copy(update={"met_at": at, "next_reminder_at": None})
        if d.late_counts and at > d.due:
            self._flag(Flag(f"{_kind(key)}_late"))
        self._refresh_calendar_flag()
        self.revision += 1

    def _close_deadline(self, key: str, now: datetime) -> None:
        d = self.deadlines.get(key)
        if d is not None and d.met_at is None and d.closed_at is None:
            self.deadlines[key] = d.model_copy(update={"closed_at": now, "next_reminder_at": None})

    def _close(self, now: datetime, outcome: Outcome) -> None:
        if self.v2:
            self._end_pending_extension(now, f"the order closed ({outcome.value})")
        for key in list(self.deadlines):
            self._close_deadline(key, now)
        self.phase = Phase.CLOSED
        self.outcome = outcome
        self.closed_at = now
        self._refresh_calendar_flag()
        self._note(now, "closed", None, f"outcome {outcome.value}")

    def _current_completion(self) -> str | None:
        key = f"rehandling_{self.rehandling_round}" if self.rehandling_round else "completion"
        return key if key in self.deadlines else None

    def _pending_extension(self) -> ExtensionRecord | None:
        return next((e for e in self.extensions if e.decision is None), None)

    def _active(self) -> list[Assignment]:
        return [x for x in self.assignments if x.state == "active"]

    def _assignment(self, unit: str) -> Assignment | None:
        return next((x for x in reversed(self.assignments) if x.unit == unit), None)

    def _lead(self) -> Assignment | None:
        return next((x for x in self._active() if x.role == "lead"), None)

    def _lead_unit(self) -> str:
        lead = next((x for x in reversed(self.assignments) if x.role == "lead"), None)
        return lead.unit if lead else self.new.platform.value

    def _update_assignment(self, unit: str, change: Callable[[Assignment], dict[str, Any]]) -> None:
        for i in range(len(self.assignments) - 1, -1, -1):
            x = self.assignments[i]
            if x.unit == unit and x.state == "active":
                self.assignments[i] = x.model_copy(update=change(x))
                return

    def _end_assignment(self, unit: str, state: str, now: datetime, reason: str, *, basis: str = "") -> None:
        self._update_assignment(
            unit, lambda x: {"state": state, "ended_at": now, "end_reason": reason, "return_basis": basis}
        )
        self._close_deadline(f"return:{unit}", now)

    def _name_handler(self, a: UnitAction, now: datetime) -> None:
        """Article 8.4 (责成专人办理): the handler named on the action, else the person of its first action."""
        x = self._assignment(a.actor.org)
        if x is None or x.state != "active":
            return
        handler = a.handler or (Handler(person=a.actor.person) if x.handler is None else None)
        if handler is None or handler == x.handler:
            return
        self._update_assignment(a.actor.org, lambda _: {"handler": handler})
        if not self.v2:
            # lifecycle 1 orders keep the timeline their history wrote (rows are keyed by position)
            return
        phone = f" ({handler.phone})" if handler.phone else ""
        self._note(now, "handler_named", a, f"{a.actor.org}: {handler.person}{phone}")

    def _require_operator(self, name: str, a: Action) -> None:
        p = self.new.platform.value
        if a.actor.org != p or a.actor.role is not Role.OPERATOR:
            raise Rejected(
                f"{name} refused: {a.actor.org} ({a.actor.role.value}) has no standing; allowed: "
                f"the {p} platform's operator (org {p!r}, role 'operator')",
                RefusalKind.NO_STANDING,
            )

    def _require_hotline(self, name: str, a: Action) -> None:
        if a.actor.org != "hotline" or a.actor.role is not Role.HOTLINE:
            raise Rejected(
                f"{name} refused: {a.actor.org} ({a.actor.role.value}) has no standing; allowed: "
                "the city hotline (org 'hotline', role 'hotline')",
                RefusalKind.NO_STANDING,
            )

    def _require_assigned(self, name: str, a: Action) -> Assignment:
        x = self._assignment(a.actor.org)
        if x is None or x.state != "active" or a.actor.role is not Role.HANDLER:
            units = ", ".join(self.units()) or "none"
            raise Rejected(
                f"{name} refused: {a.actor.org} ({a.actor.role.value}) is not a unit assigned to this "
                f"order; allowed: a handler of {units}",
                RefusalKind.NO_STANDING,
            )
        if not self.v2 and self.phase is Phase.REHANDLING and x.role != "lead":
            raise Rejected(
                f"{name} refused: re-handling is by the lead unit {self._lead_unit()} alone", RefusalKind.NO_STANDING
            )
        return x

    def _require_lead(self, name: str, a: Action) -> Assignment:
        x = self._require_assigned(name, a)
        if x.role != "lead":
            raise Rejected(
                f"{name} refused: {a.actor.org} assists; allowed: the lead unit {self._lead_unit()}",
                RefusalKind.NO_STANDING,
            )
        return x

    def _require_not_future(self, name: str, field: str, t: datetime, now: datetime) -> None:
        if t > now + SKEW:
            raise Rejected(
                f"{name} refused: {field} {iso(t)} lies in the future; allowed: up to now", RefusalKind.INVALID_INSTANT
            )

    def _require_honest_instant(self, name: str, field: str, t: datetime, x: Assignment, now: datetime) -> None:
        """A reported instant lies between the unit's dispatch (or the round's start) and now plus skew."""
        if self.rehandling_round and self.round_started_at > x.dispatched_at:
            start, since = self.round_started_at, f"re-handling round {self.rehandling_round} began"
        else:
            start, since = x.dispatched_at, f"the order was dispatched to {x.unit}"
        # clocks differ both ways: the same skew is allowed before the start as after now
        earliest, latest = start - SKEW, now + SKEW
        if not earliest <= t <= latest:
            raise Rejected(
                f"{name} refused: {field} {iso(t)} cannot be true; allowed: between {iso(earliest)} ({since} "
                f"at {iso(start)}, less {span(SKEW)} clock skew) and {iso(latest)} (now + {span(SKEW)} clock skew)",
                RefusalKind.INVALID_INSTANT,
            )


def _kind(key: str) -> str:
    """A deadline's kind from its key: `rehandling_2` -> `rehandling`; `return:dept-roads` -> `return`."""
    return re.sub(r"_\d+$", "", key.split(":", 1)[0])
