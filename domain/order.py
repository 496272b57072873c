"""The life of one order as a pure state machine (Articles 6-9 and ``rulebook.md``).

`Order` holds everything the `WorkOrder` workflow knows about an order. Time comes in as an
argument, deadlines come from `domain.deadlines` on the bound rulebook and the calendar the workflow
loaded, and every change is returned as data: timeline entries, outbox items (notifications to
orgs, messages to the city hotline), deadline changes. The workflow only wires this to Temporal.

Phases: awaiting_receipt -> received -> in_review -> in_handling -> awaiting_callback -> closed;
a refused review or the lead unit's return sends it back to received; a dissatisfied callback opens
re-handling (``rehandling``) while rounds remain; an appeal (``appealing``) is decided by the city
hotline and closes the order. Withdrawal closes it at any time; so does the callback wait.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from domain import deadlines as dl
from domain.calendar import SHANGHAI, BusinessCalendar
from domain.contract import Flag
from domain.directory import ORGANISATIONS, can_handle
from domain.errors import RefusalKind, Rejected
from domain.machine import Machine, fmt, iso, require_phase, span
from domain.machine import OutboxItem as OutboxItem  # TODO(13): importers move to domain.machine
from domain.models import (
    ACTIONS,
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
    DeadlineState,
    ExtensionDecision,
    ExtensionRecord,
    FileAppeal,
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
    Role,
    SubmitResult,
    Verdict,
    Withdraw,
)
from domain.rulebook import Rulebook

#: How far ahead of now a reported instant (a contact, a phone call) may lie: clock skew.
SKEW: Final = timedelta(minutes=5)

#: The platform's supervising department (Articles 4.3 and 5): who reviews proposals.
SUPERVISOR: Final[dict[Platform, str]] = {Platform.CENTER: "dept-hotline", Platform.UTILITIES: "utilities"}

HANDLING_PHASES: Final = {Phase.IN_HANDLING, Phase.REHANDLING}


class Order(Machine):
    """One order's state and rules. Every public method takes ``now`` (aware) and is pure."""

    actions = ACTIONS

    def __init__(self, new: NewOrder, rulebook: Rulebook, calendar: BusinessCalendar, now: datetime) -> None:
        """Bind the rulebook, compute the receipt and completion deadlines, mark missed windows."""
        super().__init__()
        self.new = new
        self.rulebook = rulebook
        #: the parameters for this order's category (per-category overrides applied)
        self.rules = rulebook.for_category(new.category)
        self.calendar = calendar
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
        self._set_deadline(
            dl.completion_deadline(rulebook, calendar, t, tier=new.tier, category=new.category),
            label="completion deadline",
        )
        self.fire_due(now)

    # -- the actions ------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the order is closed."""
        return self.phase is Phase.CLOSED

    def _closed_refusal(self, name: str, now: datetime) -> str:
        return f"{name} refused: the order is closed ({self.outcome}); nothing may change it"

    def _hotline_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"order_no": self.new.order_no, **payload}

    # receive ---------------------------------------------------------------------------------

    def _check_receive(self, a: Receive, now: datetime) -> None:
        require_phase("receive", self.phase, {Phase.AWAITING_RECEIPT})
        self._require_operator("receive", a)

    def _apply_receive(self, a: Receive, now: datetime) -> None:
        self._meet("receipt", now)
        self.phase = Phase.RECEIVED
        self._note(now, "received", a, "the platform checked the order in")

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
        self._notify(
            now,
            unit,
            "dispatch",
            f"new handling order ({role}); complete by {fmt(due) if due else '-'}; "
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
        self._require_assigned("contact_reporter", a)
        self._require_not_future("contact_reporter", "at", a.at, now)

    def _apply_contact_reporter(self, a: ContactReporter, now: datetime) -> None:
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
        lead = self._assignment(unit)
        assert lead is not None
        self._end_assignment(unit, "returned", now, a.reason, basis=a.basis)
        self._note(now, "unit_returned", a, f"{unit} returned its handling order: {a.reason} (basis: {a.basis})")
        self._notify(now, self.new.platform.value, "unit_returned", f"{unit} returned the order: {a.reason}")
        if lead.role == "lead":
            for other in self._active():
                self._end_assignment(other.unit, "released", now, f"the lead unit {unit} returned the order")
            self.phase = Phase.RECEIVED
            self._note(now, "back_to_platform", None, "the lead unit returned it: re-propose or return it")

    def _check_contribute(self, a: Contribute, now: datetime) -> None:
        require_phase("contribute", self.phase, {Phase.IN_HANDLING})
        assignment = self._require_assigned("contribute", a)
        if assignment.role != "assisting":
            raise Rejected(
                f"contribute refused: {a.actor.org} is the lead unit; allowed: assisting units", RefusalKind.NO_STANDING
            )

    def _apply_contribute(self, a: Contribute, now: datetime) -> None:
        contribution = Contribution(at=now, content=a.content)
        self._update_assignment(a.actor.org, lambda x: {"contributions": [*x.contributions, contribution]})
        self._note(now, "contributed", a, a.content)
        lead = self._lead()
        if lead is not None:
            self._notify(now, lead.unit, "contribution", f"{a.actor.org} contributed")

    def _check_release_assisting_unit(self, a: ReleaseAssistingUnit, now: datetime) -> None:
        require_phase("release_assisting_unit", self.phase, {Phase.IN_HANDLING})
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
        self._require_lead("request_extension", a)
        if self._pending_extension() is not None:
            raise Rejected(
                "request_extension refused: an extension is already pending with the city hotline",
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
        self._require_not_future("request_extension", "reporter_notified_at", a.reporter_notified_at, now)

    def _apply_request_extension(self, a: RequestExtension, now: datetime) -> None:
        key = self._current_completion()
        assert key is not None
        self.extensions.append(
            ExtensionRecord(
                requested_at=now,
                by=a.actor,
                deadline=key,
                reason=a.reason,
                current_due=self.deadlines[key].due,
                requested_due=a.requested_due,
                reporter_notified_at=a.reporter_notified_at,
                written_reply=a.written_reply,
            )
        )
        self._flag(Flag.EXTENSION_PENDING)
        self._note(now, "extension_requested", a, f"to {iso(a.requested_due)}: {a.reason}")
        self._to_hotline(
            now,
            "extension_application",
            f"extension applied for: {key} from {iso(self.deadlines[key].due)} to {iso(a.requested_due)}",
            {
                "deadline": key,
                "current_due": iso(self.deadlines[key].due),
                "requested_due": a.requested_due.isoformat(),
                "reason": a.reason,
                "reporter_notified_at": a.reporter_notified_at.isoformat(),
                "written_reply": a.written_reply,
            },
        )

    def _check_extension_decision(self, a: ExtensionDecision, now: datetime) -> None:
        self._require_hotline("extension_decision", a)
        pending = self._pending_extension()
        if pending is None:
            raise Rejected("extension_decision refused: no extension is pending", RefusalKind.PRECONDITION)
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
            }
        )
        self._unflag(Flag.EXTENSION_PENDING)
        lead = self._lead()
        if a.approved and a.approved_due is not None:
            d = self.deadlines[pending.deadline]
            new_due = a.approved_due.astimezone(SHANGHAI)
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
            self._note(now, "extension_approved", a, f"{pending.deadline}: {iso(d.due)} -> {iso(new_due)}")
            text = f"extension approved: complete by {fmt(new_due)}"
        else:
            self._note(now, "extension_refused", a, a.note or "the deadline stands")
            text = f"extension refused; the deadline {fmt(pending.current_due)} stands"
        for org in [self.new.platform.value, *([lead.unit] if lead else [])]:
            self._notify(now, org, "extension_decision", text)

    # result, callback, appeal ----------------------------------------------------------------

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
        self._require_not_future("submit_result", "reporter_informed_at", a.reporter_informed_at, now)

    def _apply_submit_result(self, a: SubmitResult, now: datetime) -> None:
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
        if key is not None:
            self._meet(key, now)
        pending = self._pending_extension()
        if pending is not None:  # the result makes the application moot
            i = self.extensions.index(pending)
            self.extensions[i] = pending.model_copy(update={"decision": "moot", "decided_at": now})
            self._unflag(Flag.EXTENSION_PENDING)
        for x in self._active():
            self._close_deadline(f"return:{x.unit}", now)
        self.phase = Phase.AWAITING_CALLBACK
        self._note(now, "result_submitted", a, a.result)
        self._to_hotline(
            now,
            "reply",
            f"reply to the city hotline (round {self.rehandling_round})",
            {
                "round": self.rehandling_round,
                "result": a.result,
                "reporter_informed_at": a.reporter_informed_at.isoformat(),
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

    def _check_callback(self, a: Callback, now: datetime) -> None:
        self._require_hotline("callback", a)
        require_phase("callback", self.phase, {Phase.AWAITING_CALLBACK})

    def _apply_callback(self, a: Callback, now: datetime) -> None:
        self.callbacks.append(CallbackRecord(at=now, round=self.rehandling_round, verdict=a.verdict, note=a.note))
        self._meet(f"callback_{self.rehandling_round}", now)
        self._note(now, "callback", a, f"{a.verdict.value}: {a.note}".rstrip(": "))
        if a.verdict is not Verdict.DISSATISFIED:
            self._close(now, Outcome(a.verdict.value))
            return
        self._flag(Flag.DISSATISFIED)
        lead = self._lead_unit()
        if self.rehandling_round >= self.rules.rehandling_rounds:
            self._note(
                now,
                "rehandling_exhausted",
                None,
                f"dissatisfied after {self.rehandling_round} re-handling rounds (the rulebook allows "
                f"{self.rules.rehandling_rounds})",
            )
            self._close(now, Outcome.DISSATISFIED)
            return
        self.rehandling_round += 1
        self.round_started_at = now
        self.phase = Phase.REHANDLING
        d = dl.rehandling_deadline(self.rulebook, self.calendar, now, tier=self.new.tier, category=self.new.category)
        key = f"rehandling_{self.rehandling_round}"
        self._set_deadline(d, key=key, label=f"re-handling deadline {self.rehandling_round}")
        self._note(now, "rehandling_opened", None, f"round {self.rehandling_round} by {lead}; due {iso(d.due)}")
        for org in [lead, self.new.platform.value]:
            self._notify(
                now,
                org,
                "rehandling",
                f"dissatisfied callback: re-handle (round {self.rehandling_round}) by {fmt(d.due)}",
                due=d.due,
            )

    def _check_file_appeal(self, a: FileAppeal, now: datetime) -> None:
        require_phase("file_appeal", self.phase, {Phase.REHANDLING})
        self._require_operator("file_appeal", a)
        if self.appeal is not None:
            raise Rejected("file_appeal refused: an appeal was already filed for this order", RefusalKind.PRECONDITION)

    def _apply_file_appeal(self, a: FileAppeal, now: datetime) -> None:
        self.appeal = AppealRecord(filed_at=now, by=a.actor, reason=a.reason, materials=list(a.materials))
        # re-handling stops while the city hotline decides; its decision closes the order
        self._close_deadline(f"rehandling_{self.rehandling_round}", now)
        self._refresh_calendar_flag()
        self.phase = Phase.APPEALING
        self._flag(Flag.APPEALED)
        self._note(now, "appeal_filed", a, a.reason)
        materials = list(a.materials) + [m for r in self.results for m in r.appeal_materials]
        self._to_hotline(now, "appeal", f"appeal: {a.reason}", {"reason": a.reason, "materials": materials})

    def _check_appeal_decision(self, a: AppealDecision, now: datetime) -> None:
        self._require_hotline("appeal_decision", a)
        if self.phase is not Phase.APPEALING:
            raise Rejected("appeal_decision refused: no appeal is pending", RefusalKind.PRECONDITION)

    def _apply_appeal_decision(self, a: AppealDecision, now: datetime) -> None:
        assert self.appeal is not None
        self.appeal = self.appeal.model_copy(update={"upheld": a.upheld, "decided_at": now, "note": a.note})
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
            "appeal " + ("upheld" if a.upheld else "rejected"),
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
        text = f"{d.label}: {self.rules.warning_fraction:.0%} of the window has passed; due {fmt(d.due)}"
        if left > timedelta(0):
            text += f" (in {span(left)})"
        self._note(now, f"{_kind(key)}_warning", None, text)
        for org in self._responsible(key):
            self._notify(now, org, f"{_kind(key)}_warning", text, due=d.due)

    def _overdue(self, key: str, now: datetime) -> None:
        d = self.deadlines[key]
        self.deadlines[key] = d.model_copy(update={"overdue_since": d.due})
        if key.startswith("return:"):
            self._note(now, "return_window_closed", None, f"{d.label} closed at {iso(d.due)}")
            return
        if key.startswith("callback_"):
            self._note(now, "no_callback", None, f"no callback within {self.rules.callback_wait.days} days")
            self._close(now, Outcome.NO_CALLBACK)
            return
        self._flag(Flag(f"{_kind(key)}_late"))
        text = f"{d.label} missed: it was due {fmt(d.due)}"
        self._note(now, f"{_kind(key)}_overdue", None, text)
        for org in self._responsible(key):
            self._notify(now, org, f"{_kind(key)}_overdue", text, due=d.due)

    def _responsible(self, key: str) -> list[str]:
        """Who hears of a deadline's warning or overdue: the responsible unit and supervision."""
        platform = self.new.platform.value
        supervisor = SUPERVISOR[self.new.platform]
        if key == "receipt":
            return list(dict.fromkeys([platform, supervisor]))
        if key.startswith("return:"):
            return [key.split(":", 1)[1]]
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
            fresh = self._recompute(key, d)
            if fresh is None:
                continue
            self.deadlines[key] = d.model_copy(
                update={
                    "due": fresh.due,
                    "warn_at": self._warn_at(d.start, fresh.due),
                    "explanation": fresh.explanation,
                    "calendar_confirmed": fresh.calendar_confirmed,
                }
            )
            self._note(now, "deadline_recomputed", None, f"{key}: {iso(d.due)} -> {iso(fresh.due)} (new calendar)")
            changed.append(key)
        self._refresh_calendar_flag()
        return changed

    def _recompute(self, key: str, d: DeadlineState) -> dl.ComputedDeadline | None:
        args = {"tier": self.new.tier, "category": self.new.category}
        if key == "receipt":
            return dl.receipt_deadline(self.rulebook, self.calendar, d.start, **args)  # type: ignore[arg-type]
        if key == "completion" and not any(e.decision == "approved" and e.deadline == key for e in self.extensions):
            return dl.completion_deadline(self.rulebook, self.calendar, d.start, **args)  # type: ignore[arg-type]
        if key.startswith("rehandling_") and not any(
            e.decision == "approved" and e.deadline == key for e in self.extensions
        ):
            return dl.rehandling_deadline(self.rulebook, self.calendar, d.start, **args)  # type: ignore[arg-type]
        return None

    # -- views --------------------------------------------------------------------------------

    def status(self) -> OrderStatus:
        """The `status` query's answer."""
        return OrderStatus(
            **self._identity(self.new, self.rulebook),
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
            timeline=list(self.timeline),
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
        """What ``unit`` sees of the order (Article 8.2: no name or phone when confidential).

        Raises:
            Rejected: ``unit`` was never assigned to this order.
        """
        if not isinstance(unit, str) or unit not in ORGANISATIONS:
            raise Rejected(
                f"handling_order refused: {unit!r} is not an org id of the directory", RefusalKind.INVALID_PAYLOAD
            )
        x = next((y for y in reversed(self.assignments) if y.unit == unit), None)
        if x is None:
            raise Rejected(
                f"handling_order refused: {unit} is not assigned to order {self.new.order_no}", RefusalKind.NO_STANDING
            )
        key = self._current_completion()
        d = self.deadlines.get(key) if key else None
        n = self.new
        hide = n.reporter.confidential
        approved = next((p for p in reversed(self.proposals) if p.approved), None)
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
            reporter_name=None if hide else n.reporter.name,
            reporter_phone=None if hide else n.reporter.phone,
            confidential=hide,
            district=n.location.district,
            address=n.location.address,
            subject=n.subject,
            description=n.description,
            demands=n.demands,
            opinion=approved.opinion if approved else "",
            phase=self.phase,
            rehandling_round=self.rehandling_round,
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
        match self.phase:
            case Phase.AWAITING_RECEIPT:
                return f"receipt by the {p} platform by {fmt(self.deadlines['receipt'].due)}"
            case Phase.RECEIVED:
                return f"a proposal (or a return to the city hotline) from the {p} platform{until}"
            case Phase.IN_REVIEW:
                return f"review by {SUPERVISOR[self.new.platform]}{until}"
            case Phase.IN_HANDLING | Phase.REHANDLING:
                who = lead.unit if lead else "the lead unit"
                pending = " ; an extension waits for the city hotline" if self._pending_extension() else ""
                return f"the result from {who}{until}{pending}"
            case Phase.AWAITING_CALLBACK:
                cb = self.deadlines.get(f"callback_{self.rehandling_round}")
                return "the city hotline's callback" + (f" (closes no_callback {fmt(cb.due)})" if cb else "")
            case Phase.APPEALING:
                return "the city hotline's appeal decision"
            case Phase.CLOSED:
                return f"nothing: closed, {self.outcome.value if self.outcome else ''}"
        return ""

    # -- helpers ------------------------------------------------------------------------------

    def _refresh_calendar_flag(self) -> None:
        unconfirmed = any(
            not d.calendar_confirmed and d.met_at is None and d.closed_at is None for d in self.deadlines.values()
        )
        (self._flag if unconfirmed else self._unflag)(Flag.CALENDAR_UNCONFIRMED)

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

    def _meet(self, key: str, now: datetime) -> None:
        d = self.deadlines.get(key)
        if d is None or d.met_at is not None:
            return
        self.deadlines[key] = d.model_copy(update={"met_at": now})
        if d.late_counts and now > d.due:
            self._flag(Flag(f"{_kind(key)}_late"))
        self._refresh_calendar_flag()
        self.revision += 1

    def _close_deadline(self, key: str, now: datetime) -> None:
        d = self.deadlines.get(key)
        if d is not None and d.met_at is None and d.closed_at is None:
            self.deadlines[key] = d.model_copy(update={"closed_at": now})

    def _close(self, now: datetime, outcome: Outcome) -> None:
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
        if self.phase is Phase.REHANDLING and x.role != "lead":
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


def _kind(key: str) -> str:
    """`rehandling_2` -> `rehandling`; `return:dept-roads` -> `return`."""
    return key.split(":", 1)[0].rsplit("_", 1)[0] if key.startswith("rehandling_") else key.split(":", 1)[0]
