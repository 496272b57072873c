"""The action machine: what every action-driven record of the engine has in common.

An order (`domain.order.Order`) and a doubtful order (`domain.inquiry.Inquiry`) are both a
`Machine`: a pure state machine that takes named actions (each a pydantic model of the contract),
checks them against its state at an instant it is given, applies them, and returns every change as
data: timeline entries, outbox items (notifications to orgs, messages to the city hotline), flags
and deadline changes, with a `revision` that moves whenever anything changed. The workflows
(`workflows.shell`) only wire a machine to Temporal.

A subclass declares its actions (name -> payload model) and, for each action ``x``, a checker
``_check_x(action, now)`` that raises `Rejected` and an applier ``_apply_x(action, now)``; it says
when it is closed and what a closed machine answers, and what a deadline's warning and end do.
Everything else is here: payload parsing, request ids (a repeat takes effect once), refused
signals kept among `rejected`, the timeline and outbox, flags, and the timers of its deadlines.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.calendar import SHANGHAI
from domain.errors import RefusalKind, Rejected
from domain.models import Action, DeadlineState, Phase, RejectedAction, TimelineEntry, describe_validation_error

M = TypeVar("M", bound=BaseModel)


class OutboxItem(BaseModel):
    """A message a machine sends: a notification to an org, or a message to the city hotline."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(description="Position in the record's outbox: the idempotency key with the run.")
    channel: str = Field(description="`notification` or `hotline`.")
    recipient: str = Field(description="Org id (notifications) or `hotline`.")
    kind: str = Field(description="e.g. `receipt_warning`, `dispatch`, `reply`, `extension_application`.")
    text: str = Field(description="Words for the recipient; never the reporter's name or phone.")
    due: datetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    at: datetime


def fmt(t: datetime) -> str:
    """An instant for a person: `Wed 2026-09-30 16:30` (Asia/Shanghai)."""
    return t.astimezone(SHANGHAI).strftime("%a %Y-%m-%d %H:%M")


def iso(t: datetime) -> str:
    """An instant for a message: `2026-09-30T16:30+08:00`."""
    return t.astimezone(SHANGHAI).isoformat(timespec="minutes")


def span(delta: timedelta) -> str:
    """A duration for a person: `1d 3h`, `45m`."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{mins}m"] if mins or not parts else []
    return " ".join(parts)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so."""
    return text if len(text) <= limit else f"{text[: limit - 12]}… (cut {len(text) - limit + 12})"


def parse_action(name: str, model: type[M], raw: Any) -> M:
    """Validate an action's JSON payload into its model.

    Raises:
        Rejected: (`invalid_payload`) naming every wrong field and what is allowed.
    """
    if not isinstance(raw, dict):
        raise Rejected(
            f"{name} refused: the payload must be a JSON object, got {type(raw).__name__}",
            RefusalKind.INVALID_PAYLOAD,
        )
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise Rejected(f"{name} refused: {describe_validation_error(err)}", RefusalKind.INVALID_PAYLOAD) from None


def require_phase(name: str, phase: Phase, allowed: set[Phase]) -> None:
    """Refuse an action outside the phases it is allowed in (`wrong_phase`)."""
    if phase not in allowed:
        wanted = " or ".join(sorted(p.value for p in allowed))
        raise Rejected(
            f"{name} refused: the order is {phase.value}; allowed only when {wanted}", RefusalKind.WRONG_PHASE
        )


def warning_label(label: str) -> str:
    """The timer name of a deadline's warning: `completion deadline` -> `completion warning`."""
    return label.replace("deadline", "warning") if "deadline" in label else f"{label} warning"


class MachineSnapshot(BaseModel):
    """What a machine carries into a new run of its workflow (continue-as-new).

    All of it, but of the outbox only the items not yet written (the count of those written goes
    along, so the sequence numbers go on); the new run writes what the old one had not yet written.
    """

    model_config = ConfigDict(frozen=True)

    deadlines: dict[str, DeadlineState]
    flags: list[str]
    rejected: list[RejectedAction]
    rejected_total: int
    timeline: list[TimelineEntry]
    timeline_written: int = Field(description="Timeline entries written so far (the rest are written first).")
    outbox_sent: int = Field(description="Outbox items written so far: the seq of the first pending one.")
    outbox_pending: list[OutboxItem] = Field(default_factory=list, description="Outbox items not yet written.")
    request_ids: dict[str, str]
    revision: int


class Machine:
    """Base of the engine's action-driven state machines. Every public method takes ``now`` and is pure.

    Attributes:
        deadlines: Every deadline by key, with its rule and what became of it.
        flags: Marks that operators filter on (`OrderFlags`).
        rejected: Refused signals, kept so nobody can say they were never sent.
        timeline: Everything that happened, in order.
        outbox: Every message sent, in order (`OutboxItem.seq` is the index).
        request_ids: The `request_id` of every applied action, with the action's name.
        revision: Moves whenever anything above changed; the workflow writes on every move.
    """

    #: The machine's actions: name -> payload model.
    actions: ClassVar[Mapping[str, type[Action]]] = {}
    #: Whether a deadline reached at the action's instant counts before the action is applied.
    fire_due_first: ClassVar[bool] = False
    #: How many refused signals the machine keeps (the latest; `rejected_total` counts them all).
    REJECTED_KEPT: ClassVar[int] = 20

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [
            f"_{step}_{name}"
            for name in cls.actions
            for step in ("check", "apply")
            if not hasattr(cls, f"_{step}_{name}")
        ]
        if missing:
            raise TypeError(f"{cls.__name__} lacks {', '.join(missing)}")

    def __init__(self) -> None:
        """An empty machine: no deadlines, flags, timeline or outbox yet."""
        self.deadlines: dict[str, DeadlineState] = {}
        self.flags: list[str] = []
        self.rejected: list[RejectedAction] = []
        self.rejected_total = 0
        self.timeline: list[TimelineEntry] = []
        self.outbox: list[OutboxItem] = []
        #: how many outbox items earlier runs of the order sent (continue-as-new carries the count)
        self.outbox_base = 0
        self.request_ids: dict[str, str] = {}
        self.revision = 0

    # -- what a subclass says ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the machine has ended; a closed machine takes no action and arms no timer."""
        raise NotImplementedError

    def _closed_refusal(self, name: str, now: datetime) -> str:
        """The words refusing action ``name`` on a closed machine."""
        raise NotImplementedError

    def _warn(self, key: str, now: datetime) -> None:
        """Deadline ``key`` reached its warning instant: record it and tell who must know."""
        raise NotImplementedError

    def _overdue(self, key: str, now: datetime) -> None:
        """Deadline ``key`` reached its end unmet: record it and escalate."""
        raise NotImplementedError

    def _require_room(self, name: str, action: Action) -> None:
        """Refuse an action that would make the machine outgrow what Temporal carries (none by default)."""

    def _hotline_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """What a message to the city hotline carries besides ``payload`` (its record's number)."""
        return payload

    def _scrub(self, text: str) -> str:
        """What a text may not carry out of the machine (a confidential reporter's name and phone)."""
        return text

    # -- continue-as-new ------------------------------------------------------------------------

    def _machine_snapshot(self, *, entries_written: int, outbox_written: int) -> dict[str, Any]:
        """The `MachineSnapshot` fields, given how much of the timeline and outbox the workflow wrote."""
        return {
            "deadlines": dict(self.deadlines),
            "flags": list(self.flags),
            "rejected": list(self.rejected),
            "rejected_total": self.rejected_total,
            "timeline": list(self.timeline),
            "timeline_written": entries_written,
            "outbox_sent": self.outbox_base + outbox_written,
            "outbox_pending": list(self.outbox[outbox_written:]),
            "request_ids": dict(self.request_ids),
            "revision": self.revision,
        }

    def _restore_machine(self, snapshot: MachineSnapshot) -> None:
        Machine.__init__(self)
        self.deadlines = dict(snapshot.deadlines)
        self.flags = list(snapshot.flags)
        self.rejected = list(snapshot.rejected)
        self.rejected_total = snapshot.rejected_total
        self.timeline = list(snapshot.timeline)
        self.outbox = list(snapshot.outbox_pending)
        self.outbox_base = snapshot.outbox_sent
        self.request_ids = dict(snapshot.request_ids)
        self.revision = snapshot.revision

    # -- the actions --------------------------------------------------------------------------

    def check(self, name: str, raw: Any, now: datetime) -> Action | None:
        """Validate action ``name`` with payload ``raw`` against the state at ``now``.

        Returns:
            The parsed action, or None when its `request_id` was applied already (a repeat:
            accepted, and takes no effect).

        Raises:
            Rejected: what was wrong and what is allowed, with the refusal's kind.
        """
        model = self.actions.get(name)
        if model is None:
            raise Rejected(f"unknown action {name!r}; allowed: {', '.join(self.actions)}", RefusalKind.INVALID_PAYLOAD)
        action = parse_action(name, model, raw)
        if action.request_id is not None and action.request_id in self.request_ids:
            if self.request_ids[action.request_id] != name:
                raise Rejected(
                    f"{name} refused: request_id {action.request_id!r} was already used for "
                    f"{self.request_ids[action.request_id]}; allowed: a new request_id",
                    RefusalKind.DUPLICATE_REQUEST,
                )
            return None
        if self.closed:
            raise Rejected(self._closed_refusal(name, now), RefusalKind.CLOSED)
        getattr(self, f"_check_{name}")(action, now)
        self._require_room(name, action)
        return action

    def act(self, name: str, raw: Any, now: datetime) -> bool:
        """Validate and apply an action. Returns False for a repeat of an applied `request_id`.

        Raises:
            Rejected: as `check`; nothing changed.
        """
        action = self.check(name, raw, now)
        if action is None:
            return False
        if action.request_id is not None:
            self.request_ids[action.request_id] = name
        if self.fire_due_first:
            self.fire_due(now)
        getattr(self, f"_apply_{name}")(action, now)
        if not self.fire_due_first:
            self.fire_due(now)
        return True

    def reject(self, name: str, raw: Any, reason: str, now: datetime) -> None:
        """Keep a refused signal among `rejected` (it changes nothing else).

        Only the latest `REJECTED_KEPT` are kept, each cut to a bounded size, with `rejected_total`
        counting them all: a flood of bad signals can never make the order's state, its status or
        what it writes grow without end.
        """
        actor = raw.get("actor") if isinstance(raw, dict) else None
        request_id = raw.get("request_id") if isinstance(raw, dict) else None
        self.rejected.append(
            RejectedAction(
                at=now,
                action=cut(name, 64),
                actor={k: cut(str(v), 64) for k, v in list(actor.items())[:3]} if isinstance(actor, dict) else None,
                request_id=cut(request_id, 128) if isinstance(request_id, str) else None,
                reason=cut(reason, 1000),
            )
        )
        del self.rejected[: -self.REJECTED_KEPT]
        self.rejected_total += 1
        self.revision += 1

    # -- timers ---------------------------------------------------------------------------------

    def _open_deadlines(self) -> list[DeadlineState]:
        if self.closed:
            return []
        return [d for d in self.deadlines.values() if d.met_at is None and d.closed_at is None and d.paused_at is None]

    def next_timer(self) -> tuple[datetime, str] | None:
        """The earliest instant a deadline needs attention (warning, end, reminder), with its timer's name."""
        pending: list[tuple[datetime, str]] = []
        for d in self._open_deadlines():
            if d.overdue_since is not None:
                if d.next_reminder_at is not None:
                    pending.append((d.next_reminder_at, f"{d.label} reminder"))
                continue
            if d.warn_at is not None and d.warned_at is None:
                pending.append((d.warn_at, d.warning_label or warning_label(d.label)))
            pending.append((d.due, d.label))
        return min(pending, key=lambda p: p[0]) if pending else None

    def fire_due(self, now: datetime) -> bool:
        """Record every warning, end and reminder that ``now`` has reached; returns whether anything fired.

        A late arrival gets its missed windows marked at once. Lateness is never forgiven: an
        overdue deadline stays overdue, and its flag stays, whatever happens later (only an
        extension asked for in time and approved lifts it, as if in force all along).
        """
        fired = False
        for key, d in list(self.deadlines.items()):
            if d.met_at is not None or d.closed_at is not None or d.paused_at is not None or self.closed:
                continue
            if d.warn_at is not None and d.warned_at is None and d.overdue_since is None and now >= d.warn_at:
                self._warn(key, now)
                fired = True
            d = self.deadlines[key]
            if d.overdue_since is None and now >= d.due:
                self._overdue(key, now)
                fired = True
            elif d.overdue_since is not None and d.next_reminder_at is not None and now >= d.next_reminder_at:
                self._remind(key, now)
                fired = True
        return fired

    def _remind(self, key: str, now: datetime) -> None:
        """Deadline ``key`` is still overdue at its reminder instant: remind, and set the next one."""
        raise NotImplementedError

    # -- what every change goes through ---------------------------------------------------------

    def _note(self, now: datetime, kind: str, actor: Action | None, detail: str) -> None:
        self.timeline.append(
            TimelineEntry(at=now, kind=kind, actor=actor.actor if actor is not None else None, detail=detail)
        )
        self.revision += 1

    def _notify(self, now: datetime, org: str, kind: str, text: str, *, due: datetime | None = None) -> None:
        self.outbox.append(
            OutboxItem(
                seq=self.outbox_base + len(self.outbox),
                channel="notification",
                recipient=org,
                kind=kind,
                text=self._scrub(text),
                due=due,
                at=now,
            )
        )
        self.revision += 1

    def _to_hotline(self, now: datetime, kind: str, text: str, payload: dict[str, Any]) -> None:
        self.outbox.append(
            OutboxItem(
                seq=self.outbox_base + len(self.outbox),
                channel="hotline",
                recipient="hotline",
                kind=kind,
                text=self._scrub(text),
                payload=self._scrub_payload(self._hotline_payload(payload)),
                at=now,
            )
        )
        self.revision += 1

    def _scrub_payload(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, dict):
            return {k: self._scrub_payload(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_payload(v) for v in value]
        return value

    def _flag(self, flag: str) -> None:
        flag = str(flag)  # a contract `Flag` is kept as its word
        if flag not in self.flags:
            self.flags.append(flag)
            self.revision += 1

    def _unflag(self, flag: str) -> None:
        if flag in self.flags:
            self.flags.remove(str(flag))
            self.revision += 1
