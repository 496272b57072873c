"""The readable pages of an order: the whole order (`hotline order show`) and what one unit sees of it
(`hotline order view ORDER --unit ORG`, `hotline desk UNIT`).

Rich on a terminal; plain text when piped (no colours, no boxes, no wrapping), each table under a
line that names it. Nothing here talks to Temporal: a page is drawn from a query's answer.

A unit's page shows what the `handling_order` query gives it and nothing else: a confidential
reporter's phone (so that the unit can call, Art. 8.4) marked CONFIDENTIAL with the instruction,
never the name (Art. 8.2).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.calendar import SHANGHAI
from domain.directory import DISTRICTS
from domain.models import (
    Assignment,
    DeadlineState,
    ExtensionRecord,
    Handler,
    HandlingOrder,
    OrderStatus,
    Phase,
    ResultRecord,
)
from domain.order import LIFECYCLE


def console(out: Any = None) -> Console:
    """Rich on a terminal; plain text (no colours, no boxes, no wrapping) when piped."""
    stream = out or sys.stdout
    if stream.isatty():
        return Console(file=stream, highlight=False)
    return Console(file=stream, highlight=False, no_color=True, width=100_000, soft_wrap=True)


def _plain(c: Console) -> bool:
    return not c.is_terminal


def table(c: Console, title: str, columns: list[str]) -> Table:
    """A table with ``columns``; its title on a terminal, else a line printed by `show`."""
    plain = _plain(c)
    t = Table(title=None if plain else title, box=None if plain else box.HEAVY_HEAD, pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    return t


def show(c: Console, t: Table, title: str) -> None:
    """Print ``t``; in plain text its title first, on a line of its own."""
    if _plain(c):
        c.print(title)
    c.print(t)


def at(t: datetime | None) -> str:
    """An instant as the pages write it: Asia/Shanghai, to the minute."""
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if t else ""


def short(t: datetime | None) -> str:
    """An instant without its year."""
    return t.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if t else ""


def left(due: datetime, now: datetime) -> str:
    """Time left until ``due`` (negative when past), e.g. ``1d 2h05m``."""
    delta = due - now
    sign = "" if delta >= timedelta(0) else "-"
    minutes = int(abs(delta).total_seconds() // 60)
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    text = (f"{d}d " if d else "") + f"{h}h{m:02d}m"
    return f"{sign}{text}" if sign else text


def is_open(d: DeadlineState) -> bool:
    """Whether a deadline still runs: not met, not closed, not passed, not paused for a review."""
    return not (d.met_at or d.closed_at or d.overdue_since or d.paused_at)


def deadline_state(d: DeadlineState) -> str:
    """One word or two for what became of a deadline."""
    if d.met_at:
        return "met late" if d.late_counts and d.met_at > d.due else "met"
    if d.closed_at:
        return "closed"
    if d.paused_at:
        return "paused"
    if d.overdue_since:
        return "OVERDUE" if d.late_counts else "ended"
    return "warned" if d.warned_at else "open"


def deadline_notes(d: DeadlineState) -> str:
    """What else a deadline says: its named warning, a pause, a lifted mark, reminders."""
    notes = []
    if d.warning_label and d.warn_at:
        notes.append(f"{d.warning_label} {short(d.warn_at)}" + (" (sent)" if d.warned_at else ""))
    if d.paused_at and not (d.met_at or d.closed_at):
        notes.append(f"a result waits for the platform's review since {short(d.paused_at)}")
    if d.overdue_lifted_at:
        notes.append(f"overdue mark lifted {short(d.overdue_lifted_at)} (extension approved)")
    if d.reminders:
        notes.append(f"{d.reminders} reminder(s) sent")
    if d.next_reminder_at and not (d.met_at or d.closed_at):
        notes.append(f"next reminder {short(d.next_reminder_at)}")
    if not d.calendar_confirmed:
        notes.append("calendar unconfirmed")
    return "; ".join(notes)


def deadlines_table(c: Console, deadlines: dict[str, DeadlineState], now: datetime, title: str) -> None:
    """Every deadline: due, time left while it runs, its state and notes, the rule that produced it."""
    t = table(c, title, ["deadline", "due", "left", "state", "notes", "explanation"])
    for d in deadlines.values():
        t.add_row(d.label, at(d.due), left(d.due, now) if is_open(d) else "", deadline_state(d),
                  deadline_notes(d), d.explanation)  # fmt: skip
    show(c, t, title)


def handler_text(h: Handler | None) -> str:
    """A unit's named handler (专人, Art. 8.4), or that none is named yet."""
    if h is None:
        return "-"
    return h.person + (f" ({h.phone})" if h.phone else "")


def extension_state(e: ExtensionRecord, deadlines: dict[str, DeadlineState] | None = None) -> str:
    """Where an extension request stands, in words: waits at the platform or the city hotline, its fate."""
    forwarded = f"forwarded {short(e.forwarded_at)}" + (f" ({e.platform_note})" if e.platform_note else "")
    match e.decision:
        case None if e.waits_at == "platform":
            return "waits at the platform (forward or decline)"
        case None:
            return (f"{forwarded}; " if e.forwarded_at else "") + "waits at the city hotline"
        case "approved":
            text = f"approved {short(e.decided_at)}: due {at(e.approved_due)}"
            d = (deadlines or {}).get(e.deadline)
            if d is not None and d.overdue_lifted_at is not None and d.overdue_lifted_at == e.decided_at:
                text += "; the overdue mark raised meanwhile was lifted"
        case "refused":
            text = f"refused by the city hotline {short(e.decided_at)}; the deadline stands"
        case "declined":
            return f"declined by the platform {short(e.decided_at)}: {e.platform_note}"
        case "moot":
            return f"moot {short(e.decided_at)}: a result came first"
        case "ended":
            return f"ended {short(e.decided_at)}: {e.note}"
        case other:
            return str(other)
    if e.note:
        text += f" ({e.note})"
    return (f"{forwarded}; " if e.forwarded_at else "") + text


def review_text(r: ResultRecord, *, waiting: bool = True, lifecycle: int = LIFECYCLE) -> str:
    """The platform's review of a result: waiting, approved (replied), or sent back with its comment.

    ``waiting``: whether the result waits for its review now; ``lifecycle`` 1 results had none.
    """
    if r.reviewed_at is None:
        if lifecycle < LIFECYCLE:
            return "replied to the city hotline directly (lifecycle 1: no review)"
        return "waits for the platform's review" if waiting else "not reviewed"
    who = f" by {r.reviewed_by.org}/{r.reviewed_by.person}" if r.reviewed_by else ""
    verdict = "approved, replied to the city hotline" if r.approved else "SENT BACK to the lead"
    return f"{verdict} {short(r.reviewed_at)}{who}" + (f": {r.review_comment}" if r.review_comment else "")


def _header(c: Console, s: OrderStatus) -> None:
    c.print(f"[bold]Order {escape(s.order_no)}[/bold]  {s.tier.value} · {s.category.value} · "
            f"{DISTRICTS.get(s.district, s.district)} · {escape(s.subject)}")  # fmt: skip
    life = (
        f"lifecycle {s.lifecycle}"
        if s.lifecycle >= LIFECYCLE
        else f"lifecycle {s.lifecycle} (started before lifecycle {LIFECYCLE}: it keeps the rules it started with)"
    )
    c.print(f"platform {s.platform.value}, rulebook {s.rulebook}, {life}, dispatched {at(s.dispatched_at)}")
    phase = s.phase.value + (f" ({s.outcome.value})" if s.outcome else "")
    rounds = f", re-handling round {s.rehandling_round}" if s.rehandling_round else ""
    c.print(f"phase [bold]{phase}[/bold]{rounds}: waits for {escape(s.waiting_for)}")
    if s.flags:
        c.print(f"flags: [red]{', '.join(s.flags)}[/red]")


def _units(c: Console, assignments: list[Assignment]) -> None:
    t = table(c, "units", ["unit", "role", "state", "handler", "dispatched", "contacts", "contributions", "ended"])
    for a in assignments:
        ended = f"{short(a.ended_at)} {a.end_reason}".strip() if a.ended_at else ""
        t.add_row(a.unit, a.role, a.state, handler_text(a.handler), short(a.dispatched_at), str(len(a.contacts)),
                  str(len(a.contributions)), ended)  # fmt: skip
    show(c, t, "units")


def _results(c: Console, s: OrderStatus) -> None:
    t = table(c, "results and their review", ["#", "round", "submitted", "by", "result", "review"])
    for n, r in enumerate(s.results, start=1):
        waiting = s.phase is Phase.RESULT_REVIEW and n == len(s.results)
        review = review_text(r, waiting=waiting, lifecycle=s.lifecycle)
        d = s.deadlines.get(f"result_review_{n}")
        if waiting and d is not None:
            review += f" (by {at(d.due)})"
        t.add_row(str(n), str(r.round), short(r.at), f"{r.by.org}/{r.by.person}", r.result, review)
    show(c, t, "results and their review")


def _extensions(c: Console, s: OrderStatus) -> None:
    t = table(c, "extensions", ["asked", "by", "deadline", "from", "to", "reason", "state"])
    for e in s.extensions:
        t.add_row(short(e.requested_at), f"{e.by.org}/{e.by.person}", e.deadline, at(e.current_due),
                  at(e.requested_due), e.reason, extension_state(e, s.deadlines))  # fmt: skip
    show(c, t, "extensions")


def _appeal(c: Console, s: OrderStatus) -> None:
    window = s.deadlines.get("appeal_window")
    if window is not None:
        c.print(f"appeal window: until {at(window.due)} ({deadline_state(window)}); {window.explanation}")
    if s.appeal is not None:
        a = s.appeal
        c.print(f"appeal filed {at(a.filed_at)} by {a.by.org}/{a.by.person}: {escape(a.reason)}"
                + (f"; materials: {escape('; '.join(a.materials))}" if a.materials else ""))  # fmt: skip
        if a.upheld is not None:
            c.print(f"appeal {'UPHELD' if a.upheld else 'REJECTED'} {at(a.decided_at)}"
                    + (f": {escape(a.note)}" if a.note else ""))  # fmt: skip
    wait = s.deadlines.get("appeal_wait")
    if wait is not None and s.appeal is not None and s.appeal.upheld is None:
        c.print(f"appeal wait: closes appeal_unanswered {at(wait.due)} ({deadline_state(wait)}); "
                f"reminder {short(wait.warn_at)}" + (" (sent)" if wait.warned_at else ""))  # fmt: skip


def render_status(s: OrderStatus, *, now: datetime, out: Any = None) -> None:
    """The whole order: phase and lifecycle, deadlines with time left and reminders, units and their
    handlers, results and their review, extensions and where they wait, callbacks, the appeal, the
    timeline, refused signals."""
    c = console(out)
    _header(c, s)
    deadlines_table(c, s.deadlines, now, "deadlines")
    if s.assignments:
        _units(c, s.assignments)
    if s.results:
        _results(c, s)
    if s.extensions:
        _extensions(c, s)
    if s.callbacks:
        t = table(c, "callbacks", ["round", "at", "verdict", "note"])
        for cb in s.callbacks:
            t.add_row(str(cb.round), short(cb.at), cb.verdict.value, cb.note)
        show(c, t, "callbacks")
    _appeal(c, s)
    t = table(c, "timeline", ["at", "what", "who", "detail"])
    for e in s.timeline:
        who = f"{e.actor.org}/{e.actor.person}" if e.actor else ""
        t.add_row(short(e.at), e.kind, who, e.detail)
    show(c, t, "timeline")
    if s.rejected_actions:
        total = max(s.rejected_total, len(s.rejected_actions))
        shown = f" (the latest {len(s.rejected_actions)} shown)" if total > len(s.rejected_actions) else ""
        c.print(f"[yellow]{total} rejected signal(s){shown}[/yellow]:")
        for r in s.rejected_actions:
            c.print(f"  {r.at.isoformat(timespec='minutes')} {r.action}: {escape(r.reason)}")


def reporter_lines(v: HandlingOrder) -> list[str]:
    """How a unit may reach the reporter: never a confidential reporter's name."""
    if not v.confidential:
        return [f"reporter: {v.reporter_name or '-'}, phone {v.reporter_phone or '-'}"]
    if v.reporter_phone:
        lines = [f"reporter: phone {v.reporter_phone}  CONFIDENTIAL (name withheld)"]
        lines.append(f"  {v.confidentiality_note}" if v.confidentiality_note else "")
        return [x for x in lines if x]
    return ["reporter: CONFIDENTIAL (name withheld); the phone is shown only while the unit is assigned"]


def render_handling_order(v: HandlingOrder, *, now: datetime, out: Any = None) -> None:
    """What one unit sees: the order, how to reach the reporter, the lead and the other units with
    their handlers, its own deadlines, the contributions, the latest verdict and review."""
    c = console(out)
    lead = "you lead" if v.role == "lead" else f"{v.lead_unit or '-'} leads"
    district = DISTRICTS.get(v.district, v.district)
    c.print(f"[bold]Handling order {escape(v.order_no)} for {v.unit}[/bold] ({v.role}; {lead})  "
            f"{v.tier.value} · {v.category.value} · {district} · {escape(v.subject)}")  # fmt: skip
    rounds = f", re-handling round {v.rehandling_round}" if v.rehandling_round else ""
    c.print(f"phase {v.phase.value}{rounds}; dispatched to {v.unit} {at(v.dispatched_at)}, "
            f"a return possible until {at(v.return_due)}")  # fmt: skip
    c.print(
        f"your handler: {escape(handler_text(v.handler))}"
        if v.handler
        else "your handler: none named yet (your first action names its person; --handler-person names one)"
    )
    for line in reporter_lines(v):
        c.print(escape(line), style="bold red" if "CONFIDENTIAL" in line else None)
    c.print(f"where: {district}, {escape(v.address)}")
    if v.description:
        c.print(f"description: {escape(v.description)}")
    if v.demands:
        c.print(f"demands: {escape(v.demands)}")
    if v.opinion:
        c.print(f"the platform's opinion: {escape(v.opinion)}")
    if v.completion_due is not None:
        c.print(f"complete by {at(v.completion_due)}" + (f" ({left(v.completion_due, now)} left)"
                if v.completion_due > now else " (passed)"))  # fmt: skip
    t = table(c, "units on the order", ["unit", "role", "state", "handler"])
    for u in v.units:
        t.add_row(u.unit + (" (you)" if u.unit == v.unit else ""), u.role, u.state, handler_text(u.handler))
    show(c, t, "units on the order")
    deadlines_table(c, v.deadlines, now, "your deadlines")
    title = "contributions of the assisting units" if v.role == "lead" else "your contributions"
    if v.contributions:
        t = table(c, title, ["unit", "at", "round", "content"])
        for x in v.contributions:
            t.add_row(x.unit, short(x.at), str(x.round), x.content)
        show(c, t, title)
    else:
        c.print(f"{title}: none yet")
    if v.latest_verdict is not None:
        cb = v.latest_verdict
        on = f"re-handling round {cb.round}" if cb.round else "the first handling"
        c.print(f"latest callback verdict: {cb.verdict.value} {at(cb.at)} (on {on})"
                + (f": {escape(cb.note)}" if cb.note else ""))  # fmt: skip
    if v.latest_result is not None:
        r = v.latest_result
        c.print(f"your latest result ({at(r.at)}, round {r.round}): {escape(r.result)}")
        c.print(f"  review: {escape(review_text(r, waiting=v.phase is Phase.RESULT_REVIEW))}")
